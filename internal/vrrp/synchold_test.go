package vrrp

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// The instances whose addresses carry synchronised connections hold their
// preemption for SyncFailbackHold; the others, the address owner and
// nopreempt instances keep what they were configured with.
func TestSyncFailbackHold(t *testing.T) {
	inst := func(name string, vrid int, extra string) string {
		return fmt.Sprintf("vrrp_instance %s {\n interface eth0\n virtual_router_id %d\n %s\n virtual_ipaddress {\n  10.0.0.%d\n }\n}\n", name, vrid, extra, vrid)
	}
	body := inst("A", 1, "priority 150") + inst("B", 2, "priority 150\n preempt_delay 60") +
		inst("C", 3, "priority 150") + inst("D", 4, "priority 255") + inst("E", 5, "priority 100\n nopreempt") +
		inst("F", 6, "priority 150\n preempt_delay 5") +
		"vrrp_sync_group G {\n group {\n  A\n  F\n }\n}\n"
	for _, tc := range []struct {
		name, global string
		want         map[string]time.Duration // PreemptDelay; missing = 0
	}{
		{"no sync daemon", "", map[string]time.Duration{"B": 60 * time.Second, "F": 5 * time.Second}},
		{"named instance and its sync group", "lvs_sync_daemon eth0 A", map[string]time.Duration{
			"A": SyncFailbackHold, "B": 60 * time.Second, "F": SyncFailbackHold}},
		{"no instance: every instance", "lvs_sync_daemon eth0", map[string]time.Duration{
			"A": SyncFailbackHold, "B": 60 * time.Second, "C": SyncFailbackHold, "F": SyncFailbackHold}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := labtest.Config(t, "global_defs {\n "+tc.global+"\n}\n"+body)
			s := ResolveSpec(cfg)
			for _, in := range s.Instances {
				if in.PreemptDelay != tc.want[in.Name] {
					t.Errorf("%s: preempt delay %s, want %s", in.Name, in.PreemptDelay, tc.want[in.Name])
				}
				raised := tc.want[in.Name] == SyncFailbackHold
				if in.SyncFailbackHold != raised {
					t.Errorf("%s: SyncFailbackHold %v, want %v", in.Name, in.SyncFailbackHold, raised)
				}
			}
		})
	}
}

// Held, a returning higher-priority backup accepts the lower-priority
// master for SyncFailbackHold and only then takes over; a master that goes
// silent is still taken over after the master-down interval.
func TestSyncFailbackHoldMachine(t *testing.T) {
	p := Params{VRID: 1, Version: 2, Priority: 150, Interval: time.Second, Preempt: true, PreemptDelay: SyncFailbackHold}
	t0 := time.Unix(1000, 0)
	lowerAdvert := &Advert{Priority: 100}
	peer := lower

	m := New(p)
	m.Start(t0)
	now := t0
	for now.Before(t0.Add(SyncFailbackHold)) {
		now = now.Add(time.Second)
		m.Received(now, peer, lowerAdvert)
		if d := m.Deadline(); !d.IsZero() && !now.Before(d) {
			m.Tick(now)
		}
		if m.State() != StateBackup {
			t.Fatalf("became %s at %s, within the hold", m.State(), now.Sub(t0))
		}
	}
	// Past the hold the lower adverts are discarded: master-down runs out.
	for i := 0; i < 10 && m.State() == StateBackup; i++ {
		now = now.Add(time.Second)
		m.Received(now, peer, lowerAdvert)
		if d := m.Deadline(); !d.IsZero() && !now.Before(d) {
			m.Tick(now)
		}
	}
	if m.State() != StateMaster {
		t.Fatalf("still %s %s after the hold", m.State(), now.Sub(t0)-SyncFailbackHold)
	}
	if took := now.Sub(t0); took > SyncFailbackHold+5*time.Second {
		t.Errorf("took over %s after start, want within the hold + master down", took)
	}

	// Nobody advertises: no hold.
	m = New(p)
	m.Start(t0)
	if d := m.Deadline(); d.Sub(t0) > 4*time.Second {
		t.Fatalf("master-down deadline %s after start", d.Sub(t0))
	}
	m.Tick(m.Deadline())
	if m.State() != StateMaster {
		t.Fatalf("%s with no master advertising, want MASTER at master-down", m.State())
	}
}

// The router runs what ResolveSpec says: its machines hold too.
func TestSyncFailbackHoldRouter(t *testing.T) {
	cfg := labtest.Config(t, "global_defs {\n lvs_sync_daemon eth0 VI_1\n}\nvrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 1\n priority 150\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n")
	r, err := NewRouter(cfg, newFakePlatform(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.insts[0].m.Params().PreemptDelay; got != SyncFailbackHold {
		t.Errorf("the router's machine has preempt delay %s, want %s", got, SyncFailbackHold)
	}
}
