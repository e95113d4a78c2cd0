package vrrp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestRouterDynamicInterfaces: with dynamic_interfaces an instance whose
// interface does not exist is held in FAULT, and runs (its socket opened,
// BACKUP, then MASTER) once the interface appears; without it the router
// is not built, as keepalived 2.2.7 does not start.
func TestRouterDynamicInterfaces(t *testing.T) {
	inst := strings.Replace(fastInstance("VI_A", 1, "10.0.0.100", ""), "interface eth0", "interface eth9", 1)
	if _, err := NewRouter(labtest.Config(t, inst), newFakePlatform(), nil); err == nil {
		t.Fatal("a router was built on a missing interface without dynamic_interfaces")
	}
	p := newFakePlatform()
	r, err := NewRouter(labtest.Config(t, "global_defs {\n  dynamic_interfaces\n}\n"+inst), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	time.Sleep(500 * time.Millisecond)
	if st := r.Status()[0]; st.State != "FAULT" || st.Stats.AdvertsSent != 0 {
		t.Fatalf("on a missing interface: %s, %d adverts sent; want FAULT, none", st.State, st.Stats.AdvertsSent)
	}
	p.mu.Lock()
	p.index["eth9"], p.links["eth9"] = 9, true
	p.mu.Unlock()
	labtest.WaitFor(t, "MASTER once the interface is there", 5*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	if devs := p.connDevs(); len(devs) != 1 || devs[0] != "eth9" {
		t.Errorf("sockets on %v, want one on eth9", devs)
	}
}
