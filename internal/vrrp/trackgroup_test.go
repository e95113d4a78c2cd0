package vrrp

import (
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestRouterTrackGroup: a track_group's instances track the interface of
// each static address, route and rule naming the group (keepalived's
// static_track_group_init): one of them going down faults VI_A; VI_B, not
// in the group, and no_track items are not affected.
func TestRouterTrackGroup(t *testing.T) {
	const conf = `
track_group G {
  group {
    VI_A
  }
}
static_ipaddress {
  10.8.0.1/24 dev eth2 track_group G
}
static_routes {
  10.7.0.0/24 dev eth3 track_group G
  10.6.0.0/24 dev eth4 track_group G no_track
}
static_rules {
  from 10.5.0.0/24 iif eth5 table 100 priority 100 track_group G
}
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
vrrp_instance VI_B {
  interface eth1
  virtual_router_id 2
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`
	cfg := labtest.Config(t, conf)
	if got := cfg.StaticTrackLinks("VI_A"); !slices.Equal(got, []string{"eth2", "eth3", "eth5"}) {
		t.Errorf("VI_A tracks %q through its track group, want eth2 eth3 eth5 (eth4's route is no_track)", got)
	}
	if got := cfg.StaticTrackLinks("VI_B"); len(got) != 0 {
		t.Errorf("VI_B tracks %q, want nothing", got)
	}
	p := newFakePlatform()
	p.mu.Lock()
	for i, l := range []string{"eth2", "eth3", "eth4", "eth5"} {
		p.links[l] = true
		p.index[l] = 10 + i
	}
	p.mu.Unlock()
	r := startRouter(t, conf, p)
	labtest.WaitFor(t, "both instances master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") && p.hasVIP("10.1.0.100/24") })
	for _, l := range []string{"eth3", "eth5", "eth2"} {
		p.mu.Lock()
		p.links[l] = false
		p.mu.Unlock()
		labtest.WaitFor(t, l+" down: VI_A in FAULT, VI_B master", 5*time.Second, func() bool {
			st := r.Status()
			return st[0].State == "FAULT" && st[1].State == "MASTER" && !p.hasVIP("10.0.0.100/24")
		})
		p.mu.Lock()
		p.links[l] = true
		p.mu.Unlock()
		labtest.WaitFor(t, l+" up: VI_A master again", 5*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	}
	// A no_track route's interface is not tracked.
	p.mu.Lock()
	p.links["eth4"] = false
	p.mu.Unlock()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if st := r.Status()[0].State; st != "MASTER" {
			t.Fatalf("eth4 (a no_track route's) down: VI_A %s", st)
		}
	}
}
