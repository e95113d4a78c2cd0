package vrrp

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/netif"
)

// routeFake records addresses, routes and rules in the order the router
// changes them.
type routeFake struct {
	*fakePlatform
	mu  sync.Mutex
	log []string
}

func (p *routeFake) rec(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}
func (p *routeFake) AddVIP(v netif.VIP) error {
	p.rec("+addr " + v.Prefix.String())
	return p.fakePlatform.AddVIP(v)
}
func (p *routeFake) DelVIP(v netif.VIP) error {
	p.rec("-addr " + v.Prefix.String())
	return p.fakePlatform.DelVIP(v)
}
func (p *routeFake) AddRoute(r config.Route) error { p.rec("+route " + r.Text); return nil }
func (p *routeFake) DelRoute(r config.Route) error { p.rec("-route " + r.Text); return nil }
func (p *routeFake) AddRule(r config.Rule) error   { p.rec("+rule " + r.Text); return nil }
func (p *routeFake) DelRule(r config.Rule) error   { p.rec("-rule " + r.Text); return nil }

func (p *routeFake) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	p.log = nil
	return l
}

// TestRouterVirtualAndStaticRoutes: static addresses, routes and rules are
// installed at start and removed at stop (rules, routes, addresses);
// virtual routes and rules follow MASTER, after the VIPs on the way in and
// before them on the way out (keepalived 2.2.7 vrrp_state_become_master,
// vrrp_restore_interface, start_vrrp, stop_vrrp).
func TestRouterVirtualAndStaticRoutes(t *testing.T) {
	fault := filepath.Join(t.TempDir(), "fault")
	conf := `
track_file f {
  file ` + fault + `
  weight 0
}
static_ipaddress {
  10.77.0.1/24 dev eth0
}
static_routes {
  10.78.0.0/24 dev eth0
}
static_rules {
  from 10.9.0.0/24 table 100 priority 100
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_file {
    f
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
  virtual_routes {
    10.81.0.0/24 dev eth0
  }
  virtual_rules {
    from 10.0.0.100 table 200 priority 200
  }
}
`
	p := &routeFake{fakePlatform: newFakePlatform()}
	r := mustNewRouter(t, conf, p)
	r.filePoll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	labtest.WaitFor(t, "master with its routes", 3*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Contains(p.log, "+rule from 10.0.0.100 table 200 priority 200")
	})
	got := strings.Join(p.take(), "; ")
	want := "-addr 10.0.0.100/24; +addr 10.77.0.1/24; +route 10.78.0.0/24 dev eth0; +rule from 10.9.0.0/24 table 100 priority 100; " +
		"+addr 10.0.0.100/24; +route 10.81.0.0/24 dev eth0; +rule from 10.0.0.100 table 200 priority 200"
	if got != want {
		t.Errorf("start:\n got %s\nwant %s", got, want)
	}
	os.WriteFile(fault, []byte("1"), 0o644)
	labtest.WaitFor(t, "FAULT", 3*time.Second, func() bool { s, _ := state(r, "VI_A"); return s == "FAULT" })
	if got, want := strings.Join(p.take(), "; "), "-rule from 10.0.0.100 table 200 priority 200; -route 10.81.0.0/24 dev eth0; -addr 10.0.0.100/24"; got != want {
		t.Errorf("leaving MASTER:\n got %s\nwant %s", got, want)
	}
	r.Stop()
	if got, want := strings.Join(p.take(), "; "), "-rule from 10.9.0.0/24 table 100 priority 100; -route 10.78.0.0/24 dev eth0; -addr 10.77.0.1/24"; got != want {
		t.Errorf("stop:\n got %s\nwant %s", got, want)
	}
}

// TestRouterStaticRoutesAcrossReload: a reload keeps the static routes
// both configurations have (no removal, no gap), adds the new ones and
// removes the dropped ones, as keepalived's clear_diff_static_routes.
func TestRouterStaticRoutesAcrossReload(t *testing.T) {
	conf := func(routes string) string {
		return `
static_routes {
` + routes + `}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`
	}
	p := &routeFake{fakePlatform: newFakePlatform()}
	r1 := mustNewRouter(t, conf("  10.1.0.0/24 dev eth0\n  10.2.0.0/24 dev eth0\n"), p)
	go r1.Run(context.Background())
	labtest.WaitFor(t, "master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") })
	h := r1.StopHandingOver(r1.Keys())
	p.take()
	r2 := mustNewRouter(t, conf("  10.2.0.0/24 dev eth0\n  10.3.0.0/24 dev eth0\n"), p)
	r2.Adopt(h)
	go r2.Run(context.Background())
	labtest.WaitFor(t, "reload applied", 3*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Contains(p.log, "-route 10.1.0.0/24 dev eth0")
	})
	got := p.take()
	for _, w := range []string{"+route 10.2.0.0/24 dev eth0", "+route 10.3.0.0/24 dev eth0", "-route 10.1.0.0/24 dev eth0"} {
		if !slices.Contains(got, w) {
			t.Errorf("reload: no %q in %q", w, got)
		}
	}
	if slices.Contains(got, "-route 10.2.0.0/24 dev eth0") || slices.Contains(got, "-addr 10.0.0.100/24") {
		t.Errorf("reload removed what both configurations have: %q", got)
	}
	r2.Stop()
	if got := strings.Join(p.take(), "; "); !strings.Contains(got, "-route 10.2.0.0/24 dev eth0; -route 10.3.0.0/24 dev eth0") {
		t.Errorf("stop: %s", got)
	}
}

// TestRouterVirtualRoutesAcrossReload: a MASTER kept across a reload
// drops the virtual routes the new configuration no longer has and adds
// the new ones, without leaving MASTER.
func TestRouterVirtualRoutesAcrossReload(t *testing.T) {
	conf := func(route string) string {
		return `
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.0.0.100/24
  }
  virtual_routes {
    ` + route + `
  }
}
`
	}
	p := &routeFake{fakePlatform: newFakePlatform()}
	r1 := mustNewRouter(t, conf("10.1.0.0/24 dev eth0"), p)
	go r1.Run(context.Background())
	labtest.WaitFor(t, "master with its route", 3*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Contains(p.log, "+route 10.1.0.0/24 dev eth0")
	})
	h := r1.StopHandingOver(r1.Keys())
	p.take()
	r2 := mustNewRouter(t, conf("10.2.0.0/24 dev eth0"), p)
	r2.Adopt(h)
	go r2.Run(context.Background())
	t.Cleanup(r2.Stop)
	labtest.WaitFor(t, "new route", 3*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Contains(p.log, "+route 10.2.0.0/24 dev eth0")
	})
	got := p.take()
	if !slices.Contains(got, "-route 10.1.0.0/24 dev eth0") || slices.Contains(got, "-addr 10.0.0.100/24") {
		t.Errorf("reload: %q; want the old route removed and the VIP kept", got)
	}
}
