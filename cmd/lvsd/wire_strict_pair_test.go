package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestWireStrictMixedPair: lvsd and keepalived 2.2.7 with vrrp_strict (and
// an authentication block, which strict mode turns off in both) elect
// exactly one master, both ways round, and hand over on SIGTERM. Before
// lvsd followed strict mode it sent PASS, keepalived sent none, each
// dropped the other's adverts and both became MASTER.
func TestWireStrictMixedPair(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	strict := "global_defs {\n  vrrp_strict\n}\n"
	for _, kinds := range [][2]string{{"lvsd", "keepalived"}, {"keepalived", "lvsd"}} {
		t.Run(fmt.Sprintf("%s-master_%s-backup", kinds[0], kinds[1]), func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "d1", "d2")
			d2 := l.start(kinds[1], "d2", vrrpConf{priority: 90, auth: true, global: strict})
			d1 := l.start(kinds[0], "d1", vrrpConf{priority: 100, auth: true, global: strict})
			l.waitFor("higher priority becomes the only master", masterDown(90)+3*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
			l.holds("exactly one master", 3*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
			d1.signal(t, syscall.SIGTERM)
			l.waitFor("backup takes over after SIGTERM", masterDown(90)+time.Second, func() bool { return l.hasVIP("d2") })
			l.holds("exactly one master after the handover", time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d2" })
			d2.signal(t, syscall.SIGTERM)
		})
	}
}
