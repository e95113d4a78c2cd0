package vrrp

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestTrackBFDItems: what an instance tracks of the BFD sessions (its own
// track_bfd, then its sync group's, the group's weight winning unless the
// instance's is 0, keepalived's add_vrrp_to_track_bfd) and the state each
// is applied with: Down until published Up.
func TestTrackBFDItems(t *testing.T) {
	conf := `
bfd_instance tbfd_a {
  neighbor_ip 10.0.0.2
  weight -20 reverse
}
bfd_instance tbfd_b {
  neighbor_ip 10.0.0.3
}
bfd_instance tbfd_c {
  neighbor_ip 10.0.0.4
  weight 9
}
vrrp_sync_group G {
  group {
    VI
  }
  sync_group_tracking_weight
  track_bfd {
    tbfd_b weight 5
    tbfd_c
    tbfd_a weight 3
  }
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  priority 100
  track_bfd {
    tbfd_a
    tbfd_b
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`
	r, err := NewRouter(labtest.Config(t, conf), newFakePlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.TracksBFD() {
		t.Fatal("TracksBFD false")
	}
	got := func() string {
		var out []string
		r.bfdEffects(r.insts[0], func(it config.TrackItem, up bool, def int) {
			out = append(out, fmt.Sprintf("%s:%d:%v:%v", it.Name, it.Weight, it.WeightReverse, up))
		})
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	t.Cleanup(func() { bfd.Unpublish("tbfd_a"); bfd.Unpublish("tbfd_c") })
	// tbfd_a: the instance's -20 reverse (the block's) is weighted, so the
	// group's 3 wins (reverse still, the block's: keepalived keeps it when the entry gives none); tbfd_b: the instance's 0 stays;
	// tbfd_c: the group's, with the block's weight 9.
	if g := got(); g != "tbfd_a:3:true:false tbfd_b:0:false:false tbfd_c:9:false:false" {
		t.Fatalf("items %s", g)
	}
	bfd.Publish("tbfd_a", bfd.Up)
	bfd.Publish("tbfd_c", bfd.Init)
	if g := got(); g != "tbfd_a:3:true:true tbfd_b:0:false:false tbfd_c:9:false:false" {
		t.Fatalf("after tbfd_a Up, tbfd_c Init: %s", g)
	}
}

// TestRouterTrackBFD: through the router, as keepalived 2.2.7's VRRP
// process follows its bfd process's events: an unweighted session faults
// the instance until it comes Up (and again when it goes Down); a weight
// moves the priority in the adverts (positive while Up, negative while
// Down, reverse turning it round).
func TestRouterTrackBFD(t *testing.T) {
	conf := `
bfd_instance rtb_a {
  neighbor_ip 10.0.0.2
}
bfd_instance rtb_b {
  neighbor_ip 10.0.0.3
  weight -30
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_bfd {
    rtb_a
  }
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
  track_bfd {
    rtb_a weight 20 reverse
    rtb_b
  }
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`
	t.Cleanup(func() { bfd.Unpublish("rtb_a"); bfd.Unpublish("rtb_b") })
	ctx := context.Background()
	p := newFakePlatform()
	r := startRouterPolling(t, conf, p)
	// Both Down at start: VI_A in FAULT; VI_B 100 - 30 (rtb_b Down).
	labtest.WaitFor(t, "VI_A FAULT, VI_B MASTER at 70", 3*time.Second, func() bool {
		sa, _ := state(r, "VI_A")
		sb, pb := state(r, "VI_B")
		return sa == "FAULT" && sb == "MASTER" && pb == 70 && p.lastAdvertPriority(2) == 70
	})
	bfd.Publish("rtb_a", bfd.Up)
	r.BFDChanged(ctx, "rtb_a")
	// VI_A up; VI_B: rtb_a Up with weight 20 reverse takes 20.
	labtest.WaitFor(t, "VI_A MASTER, VI_B at 50", 3*time.Second, func() bool {
		sa, _ := state(r, "VI_A")
		return sa == "MASTER" && p.lastAdvertPriority(1) == 100 && p.lastAdvertPriority(2) == 50
	})
	bfd.Publish("rtb_b", bfd.Up)
	r.BFDChanged(ctx, "rtb_b")
	labtest.WaitFor(t, "VI_B at 80 (rtb_b Up: its -30 no longer counts)", 3*time.Second, func() bool { return p.lastAdvertPriority(2) == 80 })
	bfd.Publish("rtb_a", bfd.Down)
	r.BFDChanged(ctx, "rtb_a")
	labtest.WaitFor(t, "VI_A FAULT again, VI_B at 100", 3*time.Second, func() bool {
		sa, _ := state(r, "VI_A")
		return sa == "FAULT" && !p.hasVIP("10.0.0.100/24") && p.lastAdvertPriority(2) == 100
	})
}
