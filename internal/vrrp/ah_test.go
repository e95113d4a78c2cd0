package vrrp

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// keepalivedAH is the first advert keepalived 2.2.7 sent with auth_type AH
// and auth_pass s3cret (VRID 51, priority 100, VIP 10.9.0.100, from
// 10.9.0.1 to 224.0.0.18), captured in the lab: IP header, AH, VRRPv2.
const keepalivedAH = "45c00040000100 00ff33d0ad0a090001e0000012" +
	"700400000a09000100000001cd982ed27ee262ce50023a2d" +
	"2133640102016e5d0a0900640000000000000000"

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAHMatchesKeepalived(t *testing.T) {
	pkt := mustHex(t, keepalivedAH)
	key := PassData("s3cret")
	src, dst := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("224.0.0.18")

	// lvsd builds the same datagram (the kernel fills the IP checksum).
	got := sealAH(pkt[20+24:], src, dst, 255, false, 1, 1, key)
	want := append([]byte(nil), pkt...)
	want[10], want[11] = 0, 0
	if !bytes.Equal(got, want) {
		t.Errorf("sealed\n got %x\nwant %x", got, want)
	}

	// And accepts keepalived's, once: the same sequence number again is a replay.
	k := NewAHKeys()
	k.Set(51, key)
	vrrp, why := k.open(pkt, false)
	if why != "" || !bytes.Equal(vrrp, pkt[44:]) {
		t.Fatalf("open: %q %x", why, vrrp)
	}
	a, err := Parse(vrrp, src, dst, false)
	if err != nil || a.AuthType != AuthAH || a.Priority != 100 || a.VRID != 51 {
		t.Fatalf("the VRRP message inside: %+v %v", a, err)
	}
	if _, why := k.open(pkt, false); why != DropAHReplay {
		t.Errorf("replayed packet: %q, want %q", why, DropAHReplay)
	}

	// Our next advert continues from the sequence number heard.
	next, ok := k.seal(pkt[44:], src, dst, 255, false)
	if !ok || next[20+11] != 2 {
		t.Errorf("next sequence number: % x", next[20+8:20+12])
	}

	cases := []struct {
		name   string
		mutate func(b []byte)
		key    string
		want   DropReason
	}{
		{"wrong password", func(b []byte) {}, "other", DropAuthPass},
		{"priority changed in flight", func(b []byte) { b[44+2] = 200 }, "s3cret", DropAuthPass},
		{"TTL counts for multicast", func(b []byte) { b[8] = 64 }, "s3cret", DropAuthPass},
		{"TOS does not count", func(b []byte) { b[1] = 0 }, "s3cret", ""},
		{"SPI not the source", func(b []byte) { b[20+7] = 9 }, "s3cret", DropAuthPass},
		{"next header not VRRP", func(b []byte) { b[20] = 6 }, "s3cret", DropAuthType},
		{"truncated", func(b []byte) {}, "s3cret", DropShort},
	}
	for _, c := range cases {
		b := mustHex(t, keepalivedAH)
		c.mutate(b)
		if c.name == "truncated" {
			b = b[:40]
		}
		k := NewAHKeys()
		k.Set(51, PassData(c.key))
		if _, why := k.open(b, false); why != c.want {
			t.Errorf("%s: %q, want %q", c.name, why, c.want)
		}
	}
}

// The ICV leaves the TTL out for unicast, so a unicast_ttl that routers
// lower still verifies.
func TestAHUnicastIgnoresTTL(t *testing.T) {
	src, dst := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	adv := &Advert{Version: 2, VRID: 7, Priority: 100, Interval: 1e9, AuthType: AuthAH, Addrs: []netip.Addr{netip.MustParseAddr("10.9.0.100")}}
	vrrp, err := adv.Marshal(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	tx, rx := NewAHKeys(), NewAHKeys()
	tx.Set(7, PassData("pw"))
	rx.Set(7, PassData("pw"))
	pkt, _ := tx.seal(vrrp, src, dst, 10, true)
	pkt[8] = 3
	if _, why := rx.open(pkt, true); why != "" {
		t.Errorf("unicast with another TTL: %q", why)
	}
}

func FuzzAHOpen(f *testing.F) {
	f.Add(mustHex(&testing.T{}, keepalivedAH))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := NewAHKeys()
		k.Set(51, PassData("s3cret"))
		_, _ = k.open(b, false)
		_, _ = k.open(b, true)
	})
}
