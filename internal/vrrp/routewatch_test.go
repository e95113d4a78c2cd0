package vrrp

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/netif"
)

// routeWatchFake knows which routes and rules are in place and reports
// their deletion by hand to the router's route watch.
type routeWatchFake struct {
	*routeFake
	mu      sync.Mutex
	present map[string]bool
	deleted func(netif.RouteDeletion)
}

func (p *routeWatchFake) set(text string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.present[text] = on
}
func (p *routeWatchFake) AddRoute(r config.Route) error {
	p.set(r.Text, true)
	return p.routeFake.AddRoute(r)
}
func (p *routeWatchFake) DelRoute(r config.Route) error {
	p.set(r.Text, false)
	return p.routeFake.DelRoute(r)
}
func (p *routeWatchFake) AddRule(r config.Rule) error {
	p.set(r.Text, true)
	return p.routeFake.AddRule(r)
}
func (p *routeWatchFake) DelRule(r config.Rule) error {
	p.set(r.Text, false)
	return p.routeFake.DelRule(r)
}
func (p *routeWatchFake) HasRoute(r config.Route) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.present[r.Text], nil
}
func (p *routeWatchFake) HasRule(r config.Rule) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.present[r.Text], nil
}
func (p *routeWatchFake) WatchRouteDeletions(done <-chan struct{}, fn func(netif.RouteDeletion)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleted = fn
	return nil
}
func (p *routeWatchFake) watching() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleted != nil
}
func (p *routeWatchFake) delRouteByHand(r config.Route) {
	p.set(r.Text, false)
	p.deleted(netif.RouteDeletion{Family: r.Family, Route: netif.RouteIDOf(r)})
}
func (p *routeWatchFake) delRuleByHand(r config.Rule) {
	p.set(r.Text, false)
	p.deleted(netif.RouteDeletion{Rule: true, Family: r.Family})
}

// Routes and rules deleted by hand, watched as keepalived 2.2.7 watches
// them: IPv4 routes are watched because the instance has a virtual route,
// so a static route comes back and a virtual one makes the MASTER leave
// and take it again; rules are not watched (no virtual rule, no static
// rule with a track_group), so a static rule deleted stays deleted.
func TestRouterRouteDeletedByHand(t *testing.T) {
	conf := `
static_routes {
  10.78.0.0/24 dev eth0
}
static_rules {
  from 10.9.0.0/24 table 100 priority 100
}
` + fastInstance("VI_A", 1, "10.0.0.100/24", "  virtual_routes {\n    10.79.0.0/24 dev eth0\n  }\n")
	p := &routeWatchFake{routeFake: &routeFake{fakePlatform: newFakePlatform()}, present: map[string]bool{}}
	r := mustNewRouter(t, conf, p)
	go r.Run(t.Context())
	t.Cleanup(r.Stop)
	labtest.WaitFor(t, "master with its route watched", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" && p.watching() })
	cfg := r.cfg
	static, rule, virtual := cfg.StaticRoutes[0], cfg.StaticRules[0], cfg.Instances[0].VirtualRoutes[0]
	p.take()

	p.delRouteByHand(static)
	labtest.WaitFor(t, "static route restored", time.Second, func() bool { return slices.Contains(p.take(), "+route "+static.Text) })

	p.delRuleByHand(rule)
	time.Sleep(100 * time.Millisecond)
	if got := p.take(); len(got) != 0 {
		t.Errorf("an unwatched rule's deletion changed %q", got)
	}

	before := r.Status()[0].Stats
	p.delRouteByHand(virtual)
	labtest.WaitFor(t, "MASTER again with its virtual route", 3*time.Second, func() bool {
		st := r.Status()[0]
		there, _ := p.HasRoute(virtual)
		return st.State == "MASTER" && st.Stats.BecomeMaster == before.BecomeMaster+1 && there
	})
	if st := r.Status()[0].Stats; st.ReleaseMaster != before.ReleaseMaster+1 || st.PriorityZeroSent != before.PriorityZeroSent+1 {
		t.Errorf("release_master %d→%d, pri_zero_sent %d→%d; want one more each", before.ReleaseMaster, st.ReleaseMaster,
			before.PriorityZeroSent, st.PriorityZeroSent)
	}
}

// A static address and route go back on their interface when it comes
// up (keepalived's interface_up → static_track_group_reinstate_config);
// no_track ones and rules do not.
func TestRouterStaticBackWithInterface(t *testing.T) {
	conf := `
static_ipaddress {
  10.77.0.1/24 dev eth1
  10.77.0.2/24 dev eth1 no_track
}
static_routes {
  10.78.0.0/24 dev eth1
}
static_rules {
  from 10.9.0.0/24 table 100 priority 100 iif eth1
}
` + fastInstance("VI_A", 1, "10.0.0.100/24", "")
	p := &routeFake{fakePlatform: newFakePlatform()}
	r := mustNewRouter(t, conf, p)
	go r.Run(t.Context())
	t.Cleanup(r.Stop)
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	p.take()
	setLink := func(up bool) {
		p.fakePlatform.mu.Lock()
		p.links["eth1"] = up
		p.fakePlatform.mu.Unlock()
	}
	setLink(false)
	time.Sleep(1500 * time.Millisecond) // the router polls links every second
	if got := p.take(); len(got) != 0 {
		t.Errorf("eth1 down changed %q", got)
	}
	setLink(true)
	want := []string{"+addr 10.77.0.1/24", "+route 10.78.0.0/24 dev eth1"}
	var got []string
	labtest.WaitFor(t, "static address and route back", 3*time.Second, func() bool { got = append(got, p.take()...); return len(got) >= 2 })
	time.Sleep(100 * time.Millisecond)
	if got = append(got, p.take()...); !slices.Equal(got, want) {
		t.Errorf("eth1 up: %q, want %q", got, want)
	}
	if r.Status()[0].State != "MASTER" {
		t.Errorf("the instance, which does not track eth1, is %s", r.Status()[0].State)
	}
}
