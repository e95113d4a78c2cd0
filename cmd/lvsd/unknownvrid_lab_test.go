package main

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/vrrp"
)

// TestLogUnknownVRIDsMatchesKeepalived: with log_unknown_vrids, an advert
// for a VRID no instance has (77, from the next host) is logged by
// keepalived 2.2.7 ("Unknown VRID(77) received on interface(eth0).
// ignoring...") and by lvsd, run one after the other on the same director.
func TestLogUnknownVRIDsMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1", "fl")
	src := netip.MustParseAddr("10.9.0.2")
	adv := &vrrp.Advert{Version: 3, VRID: 77, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("10.9.0.77")}}
	pkt, err := adv.Marshal(src, faultGroup4)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"keepalived": "Unknown VRID(77) received on interface(eth0). ignoring...",
		"lvsd": `msg="unknown VRID received; ignoring" vrid=77 interface=eth0 from=10.9.0.2`}
	for _, kind := range []string{"keepalived", "lvsd"} {
		p := l.startRaw(kind, "d1", vrrpConf{priority: 150, version: 3, global: "global_defs {\n  log_unknown_vrids\n}\n"}.render(), "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		faultFlood(t, l, "fl", src, pkt, 1, time.Millisecond)
		labtest.WaitFor(t, kind+" logs the unknown VRID", 5*time.Second, func() bool { return strings.Contains(p.log.String(), want[kind]) })
		p.signal(t, syscall.SIGTERM)
	}
}
