package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestWireAHMixedPair: lvsd and keepalived 2.2.7 with auth_type AH
// (IPSEC-AH, HMAC-MD5-96) elect exactly one master both ways round, hand
// over on SIGTERM, and the higher priority takes the VIP back when it
// returns: each accepts the other's AH adverts and sequence numbers. A
// wrong password on one side splits the pair (both MASTER), which shows
// the adverts are really checked.
func TestWireAHMixedPair(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	ah := func(pass string) string {
		return "  authentication {\n    auth_type AH\n    auth_pass " + pass + "\n  }\n"
	}
	for _, kinds := range [][2]string{{"lvsd", "keepalived"}, {"keepalived", "lvsd"}} {
		t.Run(fmt.Sprintf("%s-master_%s-backup", kinds[0], kinds[1]), func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "d1", "d2")
			d2 := l.start(kinds[1], "d2", vrrpConf{priority: 90, extra: ah("s3cret")})
			d1 := l.start(kinds[0], "d1", vrrpConf{priority: 100, extra: ah("s3cret")})
			l.waitFor("higher priority becomes the only master", masterDown(90)+3*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
			l.holds("exactly one master", 3*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
			d1.signal(t, syscall.SIGTERM)
			l.waitFor("backup takes over after SIGTERM", masterDown(90)+time.Second, func() bool { return l.hasVIP("d2") })
			// Back with its counter at 0: it hears the master's sequence
			// numbers first, then preempts with higher ones.
			d1 = l.start(kinds[0], "d1", vrrpConf{priority: 100, extra: ah("s3cret")})
			l.waitFor("higher priority preempts again", masterDown(100)+3*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
			l.holds("exactly one master after preemption", 2*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
			for _, d := range []*daemonProc{d1, d2} {
				// keepalived's refusals, and lvsd's (its debug log).
				log := d.log.String()
				if strings.Contains(log, "IPSEC-AH : invalid") || strings.Contains(log, "IPSEC AH : invalid") ||
					strings.Contains(log, "already processed") || strings.Contains(log, `"IPSEC-AH: `) {
					t.Errorf("%s logged AH failures:\n%s", d.kind, log)
				}
			}
			d1.signal(t, syscall.SIGTERM)
			d2.signal(t, syscall.SIGTERM)
		})
	}
	t.Run("wrong password splits the pair", func(t *testing.T) {
		t.Parallel()
		l := newVRRPLab(t, "d1", "d2")
		l.start("keepalived", "d2", vrrpConf{priority: 90, extra: ah("s3cret")})
		d1 := l.start("lvsd", "d1", vrrpConf{priority: 100, extra: ah("other")})
		l.waitFor("both become master", masterDown(90)+3*time.Second, func() bool { return l.hasVIP("d1") && l.hasVIP("d2") })
		l.waitFor("lvsd counts the AH failures", 3*time.Second, func() bool { return strings.Contains(d1.log.String(), `"IPSEC-AH: auth_failure"`) })
	})
}
