package ipvs

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const seedGroups = `
virtual_server_group G {
    10.0.0.1-3 80
    fwmark 5
}
virtual_server group G {
    protocol TCP
    lvs_sched sh
    persistence_timeout 60
    real_server 10.0.1.1 80 { weight 1 }
    real_server 10.0.1.2 81 { weight 1 }
}
virtual_server 10.0.0.20 80 {
    protocol TCP
    quorum 3
    sorry_server 10.9.9.9 80
    real_server 10.0.1.1 80 { weight 2 }
    real_server 10.0.1.2 80 {
        weight 2
        inhibit_on_failure
    }
}
`

// TestDesiredTableFromSharesOnlyWhatIsTheSame: DesiredTableFrom gives
// DesiredTable's table, with the earlier table's service wherever the
// service is the same, and a new one wherever anything differs.
func TestDesiredTableFromSharesOnlyWhatIsTheSame(t *testing.T) {
	base := seedDirector + seedGroups
	down := downSet{netip.MustParseAddr("10.0.1.2"): true}
	for _, tc := range []struct {
		name       string
		next       string
		prevHealth Health
		nextHealth Health
		changed    int // services not shared
		removed    int
	}{
		{name: "same", next: base},
		{name: "weight", next: strings.Replace(base, "weight 12", "weight 13", 1), changed: 1},
		{name: "scheduler", next: strings.Replace(base, "lb_algo rr", "lb_algo wlc", 1), changed: 1},
		{name: "persistence", next: strings.Replace(base, "persistence_timeout 900", "persistence_timeout 901", 1), changed: 1},
		{name: "real server added", next: strings.Replace(base, "real_server 10.0.1.4 80 { weight 0 }", "real_server 10.0.1.4 80 { weight 0 }\n real_server 10.0.1.7 80 { weight 1 }", 1), changed: 1},
		{name: "real server removed", next: strings.Replace(base, "real_server 10.0.1.4 80 { weight 0 }", "", 1), changed: 1},
		{name: "method", next: strings.Replace(base, "lb_kind DR", "lb_kind NAT", 1), changed: 1},
		{name: "group entry port", next: strings.Replace(base, "10.0.0.1-3 80", "10.0.0.1-3 88", 1), changed: 3, removed: 3},
		{name: "group real server", next: strings.Replace(base, "real_server 10.0.1.2 81 { weight 1 }", "real_server 10.0.1.2 81 { weight 2 }", 1), changed: 4},
		// 10.0.1.2 is in 10.0.0.10, 10.0.0.11, the group (4 services)
		// and 10.0.0.20 (quorum lost: sorry server).
		{name: "virtual server replaced", next: strings.Replace(base, "virtual_server 10.0.0.12 8080", "virtual_server 10.0.0.13 8080", 1), changed: 1, removed: 1},
		{name: "health", next: base, nextHealth: down, changed: 7},
		{name: "health back", next: base, prevHealth: down, changed: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := DesiredTable(mustConfig(t, base), tc.prevHealth)
			cfg := mustConfig(t, tc.next)
			got := DesiredTableFrom(cfg, tc.nextHealth, prev)
			want := DesiredTable(cfg, tc.nextHealth)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("DesiredTableFrom:\n%s\nDesiredTable:\n%s", got.SaveFormat(), want.SaveFormat())
			}
			changed := 0
			for k, s := range got {
				if prev[k] != s {
					changed++
				}
			}
			if changed != tc.changed {
				t.Errorf("%d services not shared with the earlier table, want %d", changed, tc.changed)
			}
			// The syncer's changedServices, given the shared table, lists
			// what ChangedServices lists for the new one.
			c1, r1 := changedServices(prev, got)
			c2, r2 := ChangedServices(prev, want)
			if !reflect.DeepEqual(c1, c2) || !reflect.DeepEqual(r1, r2) {
				t.Errorf("changedServices %v removed %v, ChangedServices %v removed %v", c1, r1, c2, r2)
			}
			if len(c2) != tc.changed || len(r2) != tc.removed {
				t.Errorf("ChangedServices %v removed %v, want %d and %d", c2, r2, tc.changed, tc.removed)
			}
		})
	}
}

// TestSameServiceDuplicateDests: two dests of one key make a one-dest
// map, which is not a two-dest service.
func TestSameServiceDuplicateDests(t *testing.T) {
	key := ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}
	a := Dest{DestKey: DestKey{netip.MustParseAddr("10.0.1.1"), 80}, Method: DR, Weight: 1}
	b := Dest{DestKey: DestKey{netip.MustParseAddr("10.0.1.2"), 80}, Method: DR, Weight: 1}
	p := &Service{ServiceKey: key, Scheduler: "wrr", Dests: map[DestKey]Dest{a.DestKey: a, b.DestKey: b}}
	svc := &Service{ServiceKey: key, Scheduler: "wrr"}
	if !sameService(p, svc, []Dest{a, b}) {
		t.Error("the same dests are not the same service")
	}
	if sameService(p, svc, []Dest{a, a}) {
		t.Error("dests a, a taken for a service of a and b")
	}
	if sameService(p, &Service{ServiceKey: key, Scheduler: "rr"}, []Dest{a, b}) {
		t.Error("another scheduler taken for the same service")
	}
}
