package main

import (
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/vrrp"
)

// TestUnicastChecksMatchKeepalived: keepalived 2.2.7 and lvsd in turn on
// director d1 (10.9.0.1), a forger on the next host (10.9.0.2), VRRPv3:
//   - check_unicast_src, peer 10.9.0.3: the forger's unicast advert of
//     priority 200 is dropped and logged; d1 stays MASTER;
//   - a peer (the forger) with max_ttl 200: its adverts at TTL 255 are
//     dropped and logged; d1 stays MASTER;
//   - skip_check_adv_addr, d1 BACKUP: once the forger has been heard as
//     master, its adverts listing another address are still taken, so d1
//     stays BACKUP;
//   - unicast_fault_no_peer with an empty unicast_peer block: no VIP, and
//     the same notify_fifo lines.
func TestUnicastChecksMatchKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1", "fl")
	forger, d1 := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.0.1")
	advert := func(dst netip.Addr, vip string) []byte {
		adv := &vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr(vip)}}
		pkt, err := adv.Marshal(forger, dst)
		if err != nil {
			t.Fatal(err)
		}
		return pkt
	}
	faultLines := map[string]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		// check_unicast_src
		p := l.startRaw(kind, "d1", vrrpConf{priority: 150, version: 3,
			extra: "  unicast_src_ip 10.9.0.1\n  unicast_peer {\n    10.9.0.3\n  }\n  check_unicast_src\n"}.render(), "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		floodTo(t, l, "fl", forger, d1, advert(d1, labVIP), 2, 3*time.Second)
		if !l.hasVIP("d1") {
			t.Errorf("%s with check_unicast_src yielded to a stranger's advert", kind)
		}
		want := map[string]string{"keepalived": "(VI_1) unicast source address 10.9.0.2 not a unicast peer",
			"lvsd": `msg="vrrp advert dropped: unicast source address not a unicast peer" instance=VI_1 from=10.9.0.2`}[kind]
		if !strings.Contains(p.log.String(), want) {
			t.Errorf("%s did not log %q", kind, want)
		}
		p.signal(t, syscall.SIGTERM)

		// A peer's max_ttl: the peer's own adverts (TTL 255) are dropped.
		p = l.startRaw(kind, "d1", vrrpConf{priority: 150, version: 3,
			extra: "  unicast_src_ip 10.9.0.1\n  unicast_peer {\n    10.9.0.2 max_ttl 200\n  }\n"}.render(), "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		floodTo(t, l, "fl", forger, d1, advert(d1, labVIP), 2, 3*time.Second)
		if !l.hasVIP("d1") {
			t.Errorf("%s with max_ttl 200 yielded to its peer's advert at TTL 255", kind)
		}
		if want := "TTL/HL 255 not in range 0 - 200"; !strings.Contains(p.log.String(), want) {
			t.Errorf("%s did not log %q", kind, want)
		}
		p.signal(t, syscall.SIGTERM)

		// skip_check_adv_addr
		p = l.startRaw(kind, "d1", vrrpConf{priority: 100, version: 3, extra: "  skip_check_adv_addr\n"}.render(), "-P")
		time.Sleep(time.Second) // started, BACKUP
		floodTo(t, l, "fl", forger, faultGroup4, advert(faultGroup4, labVIP), 1, 2*time.Second)
		floodTo(t, l, "fl", forger, faultGroup4, advert(faultGroup4, "10.9.0.99"), 1, 6*time.Second)
		if l.hasVIP("d1") {
			t.Errorf("%s with skip_check_adv_addr dropped its master's adverts listing another address and took over", kind)
		}
		p.signal(t, syscall.SIGTERM)

		// unicast_fault_no_peer
		fifo := filepath.Join(t.TempDir(), "notify.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		tap := tapFIFO(fifo)
		p = l.startRaw(kind, "d1", fifoLabConf(fifo, "", "", "  unicast_src_ip 10.9.0.1\n  unicast_peer {\n  }\n  unicast_fault_no_peer\n"), "-P")
		time.Sleep(masterDown(150) + 2*time.Second)
		if l.hasVIP("d1") {
			t.Errorf("%s with unicast_fault_no_peer and no peer took the VIP", kind)
		}
		p.signal(t, syscall.SIGTERM)
		faultLines[kind] = strings.Join(tap.close(), "\n")
		t.Logf("%s: notify_fifo with unicast_fault_no_peer and no peer:\n%s", kind, faultLines[kind])
	}
	if faultLines["keepalived"] != faultLines["lvsd"] {
		t.Errorf("notify_fifo lines differ with unicast_fault_no_peer:\n--- keepalived\n%s\n--- lvsd\n%s", faultLines["keepalived"], faultLines["lvsd"])
	}
}
