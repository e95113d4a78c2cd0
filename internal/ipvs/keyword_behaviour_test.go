package ipvs

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
)

// Behaviour tests for virtual_server and real_server keywords that shape
// the IPVS table (issue 13): each case builds the desired table from a
// configuration with the keyword and from the same one without it, and
// checks the service or destination keepalived 2.2.7 programs
// (check_parser.c, ipwrapper.c, ipvswrapper.c) — and that the two differ.

// onlyService is the table's one service.
func onlyService(t *testing.T, tab Table) *Service {
	t.Helper()
	if len(tab) != 1 {
		t.Fatalf("%d services, want 1", len(tab))
	}
	for _, s := range tab {
		return s
	}
	return nil
}

func destOf(t *testing.T, s *Service, addr string) (Dest, bool) {
	t.Helper()
	for _, d := range s.Dests {
		if d.Addr == netip.MustParseAddr(addr) {
			return d, true
		}
	}
	return Dest{}, false
}

// TestVirtualServerKeywordsInTable: flag-1/2/3 and mh-fallback set the
// scheduler flags (IP_VS_SVC_F_SCHED1..3: lbflags_handler), ip_family
// gives a fwmark service its family, inhibit_on_failure at virtual-server
// level keeps a failed real server at weight 0 (its real servers inherit
// it: vs->inhibit), a real server's lvs_method overrides the service's and
// sorry_server_lvs_method sets the sorry server's forwarding method.
func TestVirtualServerKeywordsInTable(t *testing.T) {
	down := downSet{netip.MustParseAddr("10.0.1.1"): true, netip.MustParseAddr("10.0.1.2"): true}
	cases := []struct {
		name          string
		with, without string
		health        Health
		get           func(t *testing.T, tab Table) any
		want          any
	}{
		{"flag-1 flag-2 flag-3", `
virtual_server 10.0.0.1 80 {
  lvs_sched wrr
  lvs_method NAT
  protocol TCP
  flag-1
  flag-2
  flag-3
  real_server 10.0.1.1 80 { }
}`, `
virtual_server 10.0.0.1 80 {
  lvs_sched wrr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 { }
}`, nil, func(t *testing.T, tab Table) any {
			return onlyService(t, tab).Flags & (FlagSched1 | FlagSched2 | FlagSched3)
		}, FlagSched1 | FlagSched2 | FlagSched3},
		{"mh-fallback", `
virtual_server 10.0.0.1 80 {
  lvs_sched mh
  lvs_method NAT
  protocol TCP
  mh-fallback
  real_server 10.0.1.1 80 { }
}`, `
virtual_server 10.0.0.1 80 {
  lvs_sched mh
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 { }
}`, nil, func(t *testing.T, tab Table) any { return onlyService(t, tab).Flags & FlagSched1 }, FlagSched1},
		{"ip_family", `
virtual_server fwmark 5 {
  lvs_sched rr
  lvs_method TUN
  ip_family inet6
  real_server 10.0.1.1 { }
}`, `
virtual_server fwmark 5 {
  lvs_sched rr
  lvs_method TUN
  real_server 10.0.1.1 { }
}`, nil, func(t *testing.T, tab Table) any { return onlyService(t, tab).IPv6 }, true},
		{"inhibit_on_failure", `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  inhibit_on_failure
  real_server 10.0.1.1 80 { weight 3 }
  real_server 10.0.1.3 80 { weight 3 }
}`, `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 { weight 3 }
  real_server 10.0.1.3 80 { weight 3 }
}`, down, func(t *testing.T, tab Table) any {
			d, ok := destOf(t, onlyService(t, tab), "10.0.1.1")
			return fmt.Sprintf("present=%v weight=%d", ok, d.Weight)
		}, "present=true weight=0"},
		{"real_server lvs_method", `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 {
    lvs_method DR
  }
}`, `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 {
  }
}`, nil, func(t *testing.T, tab Table) any {
			d, _ := destOf(t, onlyService(t, tab), "10.0.1.1")
			return d.Method
		}, DR},
		{"sorry_server_lvs_method", `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  sorry_server 10.0.9.9 80
  sorry_server_lvs_method DR
  real_server 10.0.1.1 80 { }
}`, `
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  sorry_server 10.0.9.9 80
  real_server 10.0.1.1 80 { }
}`, down, func(t *testing.T, tab Table) any {
			d, ok := destOf(t, onlyService(t, tab), "10.0.9.9")
			if !ok {
				t.Fatal("sorry server not in the table with quorum lost")
			}
			return d.Method
		}, DR},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.get(t, DesiredTable(mustConfig(t, tc.with), tc.health))
			if got != tc.want {
				t.Errorf("with the keyword: %v, want %v", got, tc.want)
			}
			if without := tc.get(t, DesiredTable(mustConfig(t, tc.without), tc.health)); without == tc.want {
				t.Errorf("without the keyword it is %v already: the case does not test it", without)
			}
		})
	}
}

// TestLVSFlushRemovesForeignServices: global_defs lvs_flush empties the
// IPVS table at start (keepalived's ipvs_flush_cmd in start_check): a
// service lvsd does not own, left by someone else, is removed by the first
// reconcile; without lvs_flush it stays.
func TestLVSFlushRemovesForeignServices(t *testing.T) {
	const conf = `
global_defs {
  lvs_flush
  router_id lvs1
}
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 { }
}`
	foreign := Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 22}, Scheduler: "rr",
		Netmask: serviceNetmask(&config.VirtualServer{}, ServiceKey{})}
	for _, tc := range []struct {
		conf        string
		wantForeign bool
	}{{conf, false}, {`
global_defs {
  router_id lvs1
}
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.1.1 80 { }
}`, true}} {
		cfg := mustConfig(t, tc.conf)
		k := NewFakeKernel()
		if err := Apply(k, Op{Kind: CreateService, Service: foreign}); err != nil {
			t.Fatal(err)
		}
		if _, err := NewSyncer(k, nil, "", cfg.Global.LVSFlush).Reconcile(DesiredTable(cfg, nil)); err != nil {
			t.Fatal(err)
		}
		observed, _ := ReadTable(k)
		if _, ok := observed[foreign.ServiceKey]; ok != tc.wantForeign {
			t.Errorf("lvs_flush=%v: foreign service present=%v, want %v", cfg.Global.LVSFlush, ok, tc.wantForeign)
		}
		if _, ok := observed[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}]; !ok {
			t.Error("the configured service is missing")
		}
	}
}
