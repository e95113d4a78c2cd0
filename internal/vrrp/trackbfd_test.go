package vrrp

import (
	"fmt"
	"sort"
	"strings"
	"testing"

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
