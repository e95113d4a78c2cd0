package main

import (
	"testing"
	"time"
)

// TestStartupDelayMatchesKeepalived: vrrp_startup_delay 2 under keepalived
// 2.2.7 and lvsd, side by side in two labs, each director alone: the
// instance becomes MASTER 2 s plus its master-down interval after the
// daemon starts (5.4 s at priority 100), not after the master-down
// interval alone (3.6 s).
func TestStartupDelayMatchesKeepalived(t *testing.T) {
	want := 2*time.Second + masterDown(100)
	for _, kind := range []string{"keepalived", "lvsd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "d1")
			started := time.Now()
			l.start(kind, "d1", vrrpConf{priority: 100, global: "global_defs {\n  vrrp_startup_delay 2\n}\n"})
			l.waitFor("d1 master", want+3*time.Second, func() bool { return l.hasVIP("d1") })
			took := time.Since(started)
			t.Logf("%s with vrrp_startup_delay 2: MASTER %s after start (want about %s)", kind, took.Round(time.Millisecond), want)
			if took < want-200*time.Millisecond || took > want+time.Second {
				t.Errorf("%s became MASTER %s after start, want about %s", kind, took, want)
			}
		})
	}
}
