package vrrp

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

var removedConf = `
vrrp_sync_group G {
  group {
    VI_A
    VI_C
  }
  notify_fault /n/group-fault
}
` + fastInstance("VI_A", 1, "10.0.0.100/24", "  notify /n/any\n  notify_fault /n/fault\n  notify_stop /n/stop\n") +
	fastInstance("VI_B", 2, "10.0.0.101/24", "  notify /n/any\n  notify_deleted \"/n/deleted B\"\n") +
	fastInstance("VI_C", 3, "10.0.0.102/24", "")

// A reload that removes instances (StopHandingOver keeping only VI_C):
// each MASTER lets go with priority 0, and is reported as keepalived
// 2.2.7's clear_diff_vrrp reports it: FAULT without notify_deleted (the
// generic notify script only; notify_fault and notify_stop do not run),
// DELETED with it (its script, then the generic one). No sync group
// notification; the kept member stays MASTER.
func TestRouterReloadRemovesInstances(t *testing.T) {
	p := newFakePlatform()
	r := mustNewRouter(t, removedConf, p)
	var mu sync.Mutex
	var events []Event
	r.OnEvent(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	go r.Run(t.Context())
	waitAll(t, r, "MASTER")
	// The notify scripts of the way to MASTER run on the notifier, after
	// the transitions: wait for them before counting what the reload runs.
	labtest.WaitFor(t, "the MASTER notifications", 3*time.Second, func() bool {
		return p.ranScript("/n/any INSTANCE VI_A MASTER 100") && p.ranScript("/n/any INSTANCE VI_B MASTER 100")
	})
	p.mu.Lock()
	p.ran, p.sent = nil, nil
	p.mu.Unlock()
	keep := map[InstanceKey]bool{}
	for k := range r.Keys() {
		if k.VRID == 3 {
			keep[k] = true
		}
	}
	h := r.StopHandingOver(keep)
	defer h.Close(time.Second, time.Second)
	labtest.WaitFor(t, "the scripts ran", 3*time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.ran) >= 3 })
	time.Sleep(100 * time.Millisecond) // and no more
	p.mu.Lock()
	ran, sent := slices.Clone(p.ran), slices.Clone(p.sent)
	p.mu.Unlock()
	slices.Sort(ran)
	if want := []string{"/n/any INSTANCE VI_A FAULT 100", "/n/any INSTANCE VI_B DELETED 100", "/n/deleted B"}; !slices.Equal(ran, want) {
		t.Errorf("scripts %q, want %q", ran, want)
	}
	zero := map[uint8]bool{}
	for _, a := range sent {
		if a.Priority == 0 {
			zero[a.VRID] = true
		}
	}
	if !zero[1] || !zero[2] || zero[3] {
		t.Errorf("priority 0 sent for VRIDs %v, want 1 and 2", zero)
	}
	if p.hasVIP("10.0.0.100/24") || p.hasVIP("10.0.0.101/24") || !p.hasVIP("10.0.0.102/24") {
		t.Errorf("VIPs after the reload: %v, want only 10.0.0.102/24", p.vips)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, e := range events {
		if e.Kind == EventRemoved {
			got = append(got, e.Instance+" "+e.FIFOState())
		}
	}
	if want := []string{"VI_A FAULT", "VI_B DELETED"}; !slices.Equal(got, want) {
		t.Errorf("removal events %q, want %q", got, want)
	}
}
