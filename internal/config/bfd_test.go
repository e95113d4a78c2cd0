package config

import (
	"net/netip"
	"strings"
	"testing"
)

func init() {
	for k, v := range map[string]string{
		"bfd_instance source_ip":                     "internal/bfd.TestInteropFRRBfdd",
		"bfd_instance neighbor_ip":                   "internal/bfd.TestInteropFRRBfdd",
		"bfd_instance neighbour_ip":                  "internal/config.TestBFDInstances",
		"bfd_instance min_rx":                        "internal/bfd.TestInteropFRRBfdd",
		"bfd_instance min_tx":                        "internal/bfd.TestInteropFRRBfdd",
		"bfd_instance idle_tx":                       "internal/config.TestBFDInstances",
		"bfd_instance multiplier":                    "internal/bfd.TestInteropFRRBfdd",
		"bfd_instance passive":                       "internal/config.TestBFDInstances",
		"bfd_instance ttl":                           "internal/config.TestBFDInstances",
		"bfd_instance hoplimit":                      "internal/config.TestBFDInstances",
		"bfd_instance max_hops":                      "internal/config.TestBFDInstances",
		"bfd_instance weight":                        "internal/config.TestBFDInstances",
		"bfd_instance vrrp":                          "internal/config.TestBFDInstances",
		"bfd_instance checker":                       "internal/config.TestBFDInstances",
		"vrrp_instance track_bfd":                    "internal/config.TestBFDInstances",
		"vrrp_sync_group track_bfd":                  "internal/config.TestBFDInstances",
		"virtual_server/real_server/BFD_CHECK name":  "internal/config.TestBFDInstances",
		"virtual_server/real_server/BFD_CHECK alpha": "internal/config.TestBFDInstances",
	} {
		keywordBehaviourTests[k] = v
	}
}

// TestBFDInstances: bfd_instance blocks, track_bfd and BFD_CHECK with
// keepalived 2.2.7's defaults and rules (bfd_parser.c, alloc_track_bfd,
// check_bfd.c); every case is also one keepalived -t accepts or reports.
func TestBFDInstances(t *testing.T) {
	src := `
bfd_instance frr {
  neighbor_ip 10.0.0.2
  source_ip 10.0.0.1
  min_rx 100
  min_tx 50.5
  idle_tx 2000
  multiplier 3
  weight -20 reverse
}
bfd_instance six {
  neighbour_ip fe80::2
  passive
  max_hops 2
}
bfd_instance hops {
  neighbor_ip 10.0.0.3
  ttl 10
  max_hops 20
}
bfd_instance vonly {
  neighbor_ip 10.0.0.4
  hoplimit 200
  vrrp
}
bfd_instance conly {
  neighbor_ip 10.0.0.5
  checker
}
bfd_instance noaddr {
  min_rx 5
}
bfd_instance dup {
  neighbor_ip 10.0.0.2
  source_ip 10.0.0.1
}
bfd_instance frr {
  neighbor_ip 10.0.0.9
}
vrrp_sync_group G {
  group {
    VI
  }
  sync_group_tracking_weight
  track_bfd {
    vonly weight 7
  }
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress {
    10.0.0.100
  }
  track_bfd {
    frr
    six weight 10 noreverse
    noaddr weight 300
    conly
    frr
    missing
  }
}
virtual_server 10.0.0.100 80 {
  real_server 10.0.0.2 80 {
    BFD_CHECK {
      name frr
      alpha
    }
    BFD_CHECK {
      name vonly
    }
  }
}
`
	res := loadTrack(t, src)
	m := res.Config
	if len(m.BFDInstances) != 7 {
		t.Fatalf("bfd_instances %+v", m.BFDInstances)
	}
	frr := m.BFDInstance("frr")
	if frr.Neighbor != netip.MustParseAddr("10.0.0.2") || frr.Source != netip.MustParseAddr("10.0.0.1") ||
		frr.MinRx != 100000 || frr.MinTx != 50500 || frr.IdleTx != 2000000 || frr.Multiplier != 3 ||
		frr.Weight != -20 || !frr.WeightReverse || frr.TTL != 255 || frr.MaxHops != 0 || !frr.VRRP || !frr.Checker || frr.Disabled {
		t.Errorf("frr %+v", frr)
	}
	six := m.BFDInstance("six")
	// keepalived's defaults; IPv6's hop limit 64.
	if !six.Passive || six.MinRx != 10000 || six.MinTx != 10000 || six.IdleTx != 1000000 || six.Multiplier != 5 || six.TTL != 64 || six.MaxHops != 2 {
		t.Errorf("six %+v", six)
	}
	if h := m.BFDInstance("hops"); h.TTL != 10 || h.MaxHops != 10 {
		t.Errorf("hops: max_hops above ttl is set to ttl: %+v", h)
	}
	if v := m.BFDInstance("vonly"); !v.VRRP || v.Checker || v.TTL != 200 {
		t.Errorf("vonly %+v", v)
	}
	if c := m.BFDInstance("conly"); c.VRRP || !c.Checker {
		t.Errorf("conly %+v", c)
	}
	if m.BFDInstance("noaddr").Disabled != true || m.BFDInstance("dup").Disabled != true {
		t.Errorf("noaddr and dup are disabled sessions")
	}
	if got := len(m.ActiveBFDInstances()); got != 5 {
		t.Errorf("%d active sessions, want 5", got)
	}
	in := res.Config.Instances[0]
	var got []string
	for _, it := range in.TrackBFDs {
		got = append(got, it.Name+":"+itoa(it.Weight)+map[bool]string{true: "r", false: ""}[it.WeightReverse])
	}
	// frr takes its block's weight; six its own; noaddr's weight is out of
	// range (the block's 0 is used); conly sends to the checker only,
	// frr twice and missing are left out.
	if strings.Join(got, " ") != "frr:-20r six:10 noaddr:0" {
		t.Errorf("track_bfd %v", got)
	}
	g := res.Config.SyncGroups[0]
	if ts := g.TrackBFDs; len(ts) != 1 || ts[0].Name != "vonly" || ts[0].Weight != 7 {
		t.Errorf("sync group track_bfd %+v", ts)
	}
	rs := res.Config.VirtualServers[0].RealServers[0]
	if len(rs.Checkers) != 1 || rs.Checkers[0].Type != CheckBFD || rs.Checkers[0].Extra().BFD != "frr" || !rs.Checkers[0].Alpha {
		t.Errorf("checkers %+v (vonly does not send to the checker)", rs.Checkers)
	}
	var errs []string
	for _, d := range res.Diags.Sorted() {
		errs = append(errs, d.String())
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{
		"BFD instance noaddr has no neighbor address set",
		"BFD instance dup has duplicate neighbor address 10.0.0.2",
		"BFD instance frr already configured",
		"max_hops exceeds ttl/hoplimit",
		"(VI) track bfd conly not found",
		"(VI) duplicate track_bfd frr",
		"(VI) track bfd missing not found",
		"weight for track bfd noaddr must be in [-253..253]",
		"BFD_CHECK - BFD vonly not configured",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no diagnostic %q in\n%s", want, all)
		}
	}
	if !res.Runnable() {
		t.Errorf("keepalived runs this configuration: %s", all)
	}
}

// TestBFDTrackOwnerAndSyncGroup: the address owner drops its weighted
// track_bfd, a group member without sync_group_tracking_weight too, and a
// group with an owner member runs its weighted entries unweighted
// (keepalived 2.2.7 vrrp_complete_instance / vrrp_complete_init).
func TestBFDTrackOwnerAndSyncGroup(t *testing.T) {
	src := `
bfd_instance b1 {
  neighbor_ip 10.0.0.2
  weight 10
}
bfd_instance b2 {
  neighbor_ip 10.0.0.3
}
vrrp_sync_group G {
  group {
    MEMBER
  }
  track_bfd {
    b1
  }
}
vrrp_instance OWNER {
  interface eth0
  virtual_router_id 1
  priority 255
  virtual_ipaddress {
    10.0.0.100
  }
  track_bfd {
    b1
    b2
  }
}
vrrp_instance MEMBER {
  interface eth0
  virtual_router_id 2
  priority 255
  virtual_ipaddress {
    10.0.0.101
  }
  track_bfd {
    b1 weight -5
    b2
  }
}
`
	res := loadTrack(t, src)
	names := func(ts []TrackItem) string {
		var out []string
		for _, it := range ts {
			out = append(out, it.Name+":"+itoa(it.Weight))
		}
		return strings.Join(out, " ")
	}
	if got := names(res.Config.Instances[0].TrackBFDs); got != "b2:0" {
		t.Errorf("owner's track_bfd %s, want b2:0 (b1's weight 10 drops it)", got)
	}
	if got := names(res.Config.Instances[1].TrackBFDs); got != "b2:0" {
		t.Errorf("member's track_bfd %s, want b2:0", got)
	}
	if got := names(res.Config.SyncGroups[0].TrackBFDs); got != "b1:0" {
		t.Errorf("group's track_bfd %s, want b1:0", got)
	}
	var all []string
	for _, d := range res.Diags.Sorted() {
		all = append(all, d.String())
	}
	for _, want := range []string{"(OWNER) ignoring tracked bfd b1 with weight 10", "(MEMBER) ignoring tracked bfd b1 with weight -5", "(G) Cannot have weighted track bfd 'b1'"} {
		if !strings.Contains(strings.Join(all, "\n"), want) {
			t.Errorf("no %q in %v", want, all)
		}
	}
}
