package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMcastDstIPMatchesKeepalived: mcast_dst_ip 224.0.0.19 in mixed
// pairs of keepalived 2.2.7 and lvsd. On the same group they are one VRRP
// domain: keepalived's higher priority is the only master, and lvsd takes
// over when it stops (it heard keepalived on that group). With lvsd on
// 224.0.0.19 and keepalived on the default 224.0.0.18 they do not hear
// each other: both are masters. lvsd joins 224.0.0.19 on its interface.
func TestMcastDstIPMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2")
	dst := "  mcast_dst_ip 224.0.0.19\n"
	ka := l.startRaw("keepalived", "d1", vrrpConf{priority: 150, version: 3, extra: dst}.render(), "-P")
	lv := l.startRaw("lvsd", "d2", vrrpConf{priority: 100, version: 3, extra: dst}.render(), "-P")
	l.waitFor("keepalived master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
	l.holds("one master, keepalived's", masterDown(100)+2*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
	if maddr := l.sh("ip -n %s maddr show dev eth0", l.ns("d2")); !strings.Contains(maddr, "224.0.0.19") {
		t.Errorf("lvsd did not join 224.0.0.19:\n%s", maddr)
	}
	ka.signal(t, syscall.SIGTERM)
	took := l.waitFor("lvsd takes over", masterDown(100)+time.Second, func() bool { return l.hasVIP("d2") })
	t.Logf("same group: one master; lvsd took over %s after keepalived's SIGTERM", took.Round(time.Millisecond))
	lv.signal(t, syscall.SIGTERM)

	ka = l.startRaw("keepalived", "d1", vrrpConf{priority: 150, version: 3}.render(), "-P")
	lv = l.startRaw("lvsd", "d2", vrrpConf{priority: 100, version: 3, extra: dst}.render(), "-P")
	l.waitFor("both masters on separate groups", masterDown(100)+5*time.Second, func() bool { return l.hasVIP("d1") && l.hasVIP("d2") })
	l.holds("both stay masters", 3*time.Second, func() bool { return l.hasVIP("d1") && l.hasVIP("d2") })
	ka.signal(t, syscall.SIGTERM)
	lv.signal(t, syscall.SIGTERM)
}
