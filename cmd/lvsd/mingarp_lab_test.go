package main

import (
	"testing"
	"time"
)

// TestMinGARPMatchesKeepalived: vrrp_min_garp under keepalived 2.2.7 and
// lvsd, side by side in two labs: on becoming master each sends one
// gratuitous ARP for the VIP and no delayed second train (without it, 5
// at once and 5 more 5 s later), as a client on the segment sees them.
func TestMinGARPMatchesKeepalived(t *testing.T) {
	for _, kind := range []string{"keepalived", "lvsd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "d1", "cl")
			c := startCapture(t, l, "cl", "arp")
			l.start(kind, "d1", vrrpConf{priority: 100, global: "global_defs {\n  vrrp_min_garp\n}\n"})
			l.waitFor("d1 master", masterDown(100)+3*time.Second, func() bool { return l.hasVIP("d1") })
			time.Sleep(6 * time.Second) // past where the delayed train would be
			n := 0
			for _, f := range c.stop() {
				if a, ok := parseARP(f.data); ok && a.senderIP == labVIP && a.targetIP == labVIP {
					n++
				}
			}
			t.Logf("%s with vrrp_min_garp: %d gratuitous ARPs for %s", kind, n, labVIP)
			if n != 1 {
				t.Errorf("%s sent %d gratuitous ARPs, want 1", kind, n)
			}
		})
	}
}
