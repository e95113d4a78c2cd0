package vrrp

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"
)

var (
	srcA = netip.MustParseAddr("10.0.0.1")
	mcG4 = netip.MustParseAddr("224.0.0.18")
	srcB = netip.MustParseAddr("fe80::1")
	mcG6 = netip.MustParseAddr("ff02::12")
)

// A VRRPv2 advert as keepalived 2.2.7 sent it (captured with tshark in a
// namespace, 2026-11-23, from
// `vrrp_instance { virtual_router_id 51 priority 100 auth_type PASS
// auth_pass 1111 virtual_ipaddress { 10.0.0.100 } }`).
const keepalivedV2Advert = "2133640101010d040a0000643131313100000000"

func TestMarshalMatchesKeepalivedCapture(t *testing.T) {
	a := &Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, AuthType: AuthPass,
		AuthData: PassData("1111"), Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	b, err := a.Marshal(srcA, mcG4)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != keepalivedV2Advert {
		t.Errorf("advert bytes\n got %s\nwant %s", got, keepalivedV2Advert)
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
	}{
		{"v2 none", Advert{Version: 2, VRID: 1, Priority: 254, Interval: 3 * time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}}, srcA, mcG4},
		{"v2 pass", Advert{Version: 2, VRID: 255, Priority: 0, Interval: time.Second, AuthType: AuthPass, AuthData: PassData("longpassword"), Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}, srcA, mcG4},
		{"v3 ipv4", Advert{Version: 3, VRID: 7, Priority: 100, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}}, srcA, mcG4},
		{"v3 ipv4 unicast", Advert{Version: 3, VRID: 7, Priority: 100, Interval: 40950 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}}, srcA, netip.MustParseAddr("10.0.0.2")},
		{"v3 ipv6", Advert{Version: 3, VRID: 9, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, srcB, mcG6},
		{"v3 no addresses", Advert{Version: 3, VRID: 9, Priority: 200, Interval: time.Second}, srcA, mcG4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.a.Marshal(c.src, c.dst)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b, c.src, c.dst, c.src.Is6())
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != c.a.Version || got.VRID != c.a.VRID || got.Priority != c.a.Priority ||
				got.Interval != c.a.Interval || got.AuthType != c.a.AuthType || got.AuthData != c.a.AuthData ||
				len(got.Addrs) != len(c.a.Addrs) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, c.a)
			}
			for i := range got.Addrs {
				if got.Addrs[i] != c.a.Addrs[i] {
					t.Errorf("address %d: %s, want %s", i, got.Addrs[i], c.a.Addrs[i])
				}
			}
			// Every single-bit flip must be caught (checksum or framing).
			for i := range b {
				bad := bytes.Clone(b)
				bad[i] ^= 0x10
				if _, err := Parse(bad, c.src, c.dst, c.src.Is6()); err == nil {
					t.Errorf("flipping a bit of byte %d went unnoticed", i)
				}
			}
		})
	}
}

func TestV3ChecksumCoversPseudoHeader(t *testing.T) {
	a := &Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}}
	b, _ := a.Marshal(srcA, mcG4)
	if _, err := Parse(b, netip.MustParseAddr("10.0.0.9"), mcG4, false); ReasonOf(err) != DropChecksum {
		t.Errorf("v3 advert verified with another source address: %v", err)
	}
	v2 := &Advert{Version: 2, VRID: 7, Priority: 100, Interval: time.Second}
	b, _ = v2.Marshal(srcA, mcG4)
	if _, err := Parse(b, netip.MustParseAddr("10.0.0.9"), mcG4, false); err != nil {
		t.Errorf("v2 checksum must not depend on the IP header: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := (&Advert{Version: 2, VRID: 1, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{srcA}}).Marshal(srcA, mcG4)
	cases := []struct {
		name string
		b    []byte
		want DropReason
	}{
		{"empty", nil, DropShort},
		{"short", good[:7], DropShort},
		{"version 4", append([]byte{0x41}, good[1:]...), DropVersion},
		{"type 2", append([]byte{0x22}, good[1:]...), DropType},
		{"count too high", append(append([]byte{}, good[:3]...), append([]byte{2}, good[4:]...)...), DropAddrCount},
		{"truncated", good[:len(good)-1], DropAddrCount},
	}
	for _, c := range cases {
		if _, err := Parse(c.b, srcA, mcG4, false); ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

func TestMarshalRejects(t *testing.T) {
	for _, a := range []Advert{
		{Version: 1, Interval: time.Second},
		{Version: 2, Interval: 500 * time.Millisecond},
		{Version: 2, Interval: 256 * time.Second},
		{Version: 3, Interval: 41 * time.Second},
		{Version: 3, Interval: time.Millisecond},
	} {
		if _, err := a.Marshal(srcA, mcG4); err == nil {
			t.Errorf("%+v marshalled", a)
		}
	}
	if _, err := (&Advert{Version: 2, Interval: time.Second}).Marshal(srcB, mcG6); err == nil {
		t.Error("VRRPv2 over IPv6 marshalled")
	}
}

func FuzzParse(f *testing.F) {
	b, _ := hex.DecodeString(keepalivedV2Advert)
	f.Add(b, false)
	v3, _ := (&Advert{Version: 3, VRID: 9, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}).Marshal(srcB, mcG6)
	f.Add(v3, true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := srcA, mcG4
		if v6 {
			src, dst = srcB, mcG6
		}
		a, err := Parse(b, src, dst, v6)
		if err != nil {
			return
		}
		// Whatever parses must marshal back to the same bytes, except the
		// reserved bits of the v3 interval field.
		out, err := a.Marshal(src, dst)
		if err != nil {
			return // an interval of 0 parses but is not sendable
		}
		if a.Version == 3 {
			b = bytes.Clone(b)
			b[4] &= 0x0f
		}
		if a.Version == 3 && !bytes.Equal(out[8:], b[8:]) || a.Version == 2 && !bytes.Equal(out, b) {
			t.Errorf("re-marshal differs\n in  %x\n out %x", b, out)
		}
	})
}
