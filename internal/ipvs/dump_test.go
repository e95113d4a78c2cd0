package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// kernelMsg is a dump message as the kernel sends it: the object under
// attr, beside statistics the reader must skip.
func kernelMsg(t testing.TB, attr uint16, object []byte) []byte {
	t.Helper()
	stats := netlink.NewAttributeEncoder()
	stats.Uint32(1, 12345) // IPVS_STATS_ATTR_CONNS
	statsBytes, _ := stats.Encode()
	ae := netlink.NewAttributeEncoder()
	ae.Do(attr, func() ([]byte, error) {
		inner := append([]byte(nil), object...)
		extra := netlink.NewAttributeEncoder()
		extra.Bytes(unix.NLA_F_NESTED|10, statsBytes) // IPVS_SVC_ATTR_STATS and IPVS_DEST_ATTR_STATS are both 10
		b, err := extra.Encode()
		return append(inner, b...), err
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeServiceMatchesEncode(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	cases := []Service{
		{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: v4, Port: 80}, Scheduler: "wrr", Netmask: NetmaskFrom(32, 32)},
		{ServiceKey: ServiceKey{Protocol: ProtoUDP, Addr: v4, Port: 53}, Scheduler: "sh", Flags: FlagPersistent | 0x10, Timeout: 300, Netmask: NetmaskFrom(24, 32)},
		{ServiceKey: ServiceKey{IPv6: true, Protocol: ProtoSCTP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 443}, Scheduler: "mh", Netmask: NetmaskFrom(128, 128)},
		{ServiceKey: ServiceKey{FWMark: 300}, Scheduler: "rr", Flags: FlagPersistent, Timeout: 900, Netmask: NetmaskFrom(32, 32)},
		{ServiceKey: ServiceKey{IPv6: true, FWMark: 7}, Scheduler: "lc", Netmask: NetmaskFrom(64, 128)},
	}
	for _, want := range cases {
		t.Run(want.ServiceKey.String(), func(t *testing.T) {
			lib := want
			lib.Flags |= 0x0002 // the kernel always reports the hashed flag
			obj, err := encodeService(lib, true)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeServiceMsg(kernelMsg(t, ipvsCmdAttrService, obj), nil)
			if err != nil {
				t.Fatal(err)
			}
			want.Dests = map[DestKey]Dest{}
			if !tablesEqual(Table{want.ServiceKey: &want}, Table{got.ServiceKey: got}) {
				t.Fatalf("decoded %+v, want %+v", *got, want)
			}
		})
	}
}

func TestDecodeDestMatchesEncode(t *testing.T) {
	cases := []struct {
		d       Dest
		svcIPv6 bool
	}{
		{Dest{DestKey: DestKey{netip.MustParseAddr("172.16.0.1"), 80}, Method: DR, Weight: 16}, false},
		{Dest{DestKey: DestKey{netip.MustParseAddr("172.16.0.2"), 8080}, Method: NAT, Weight: 0, UThreshold: 100, LThreshold: 10}, false},
		{Dest{DestKey: DestKey{netip.MustParseAddr("2001:db8::10"), 0}, Method: TUN, Weight: 3}, true},
		// An IPv4 real server of an IPv6 service (kernels since 3.18 send the family).
		{Dest{DestKey: DestKey{netip.MustParseAddr("192.0.2.7"), 443}, Method: TUN, Weight: 1}, true},
		{Dest{DestKey: DestKey{netip.MustParseAddr("192.0.2.8"), 443}, Method: TUN, Weight: 1, Tunnel: Tunnel{Type: TunGUE, Port: 6080, Flags: TunCsum}}, false},
		{Dest{DestKey: DestKey{netip.MustParseAddr("2001:db8::11"), 0}, Method: TUN, Weight: 2, Tunnel: Tunnel{Type: TunGRE, Flags: TunRemCsum}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.d.String(), func(t *testing.T) {
			obj, err := encodeDest(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeDestMsg(kernelMsg(t, ipvsCmdAttrDest, obj), tc.svcIPv6, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.d {
				t.Fatalf("decoded %+v, want %+v", got, tc.d)
			}
		})
	}
}

// frame wraps a generic netlink body (header included) in a netlink header.
func frame(typ, flags uint16, seq uint32, body []byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body)+3)
	binary.NativeEndian.PutUint32(b[0:4], uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func genl(attrs []byte) []byte {
	return append([]byte{ipvsCmdNewDest, ipvsGenlVersion, 0, 0}, attrs...)
}

func errnoBody(code int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(code)) }

func TestParseDump(t *testing.T) {
	const family, seq = 0x20, 7
	multi := uint16(unix.NLM_F_MULTI)
	cases := []struct {
		name     string
		buf      []byte
		wantN    int
		wantDone bool
		wantErr  error // nil, an errno, or errDumpInterrupted
	}{
		{"two messages then done", concat(frame(family, multi, seq, genl([]byte("a"))), frame(family, multi, seq, genl([]byte("b"))), frame(unix.NLMSG_DONE, multi, seq, errnoBody(0))), 2, true, nil},
		{"a part, dump goes on", frame(family, multi, seq, genl(nil)), 1, false, nil},
		{"other sequence skipped", concat(frame(family, multi, seq-1, genl(nil)), frame(unix.NLMSG_DONE, multi, seq-1, errnoBody(0))), 0, false, nil},
		{"kernel error ends it", frame(unix.NLMSG_ERROR, 0, seq, errnoBody(-int32(unix.ESRCH))), 0, true, unix.ESRCH},
		{"interrupted dump", concat(frame(family, multi|unix.NLM_F_DUMP_INTR, seq, genl(nil)), frame(unix.NLMSG_DONE, multi, seq, errnoBody(0))), 1, true, errDumpInterrupted},
		{"truncated message", frame(family, multi, seq, genl([]byte("abcdefgh")))[:20], 0, true, errMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			done, err := parseDump(tc.buf, seq, func([]byte) error { n++; return nil })
			if n != tc.wantN || done != tc.wantDone {
				t.Errorf("%d messages, done %v; want %d, %v", n, done, tc.wantN, tc.wantDone)
			}
			switch {
			case tc.wantErr == nil && err != nil, tc.wantErr == errMalformed && err == nil,
				tc.wantErr != nil && tc.wantErr != errMalformed && !errors.Is(err, tc.wantErr):
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

var errMalformed = errors.New("any error")

func concat(parts ...[]byte) (b []byte) {
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// FuzzDecodeDump: no input, however malformed, makes the dump parser or
// the decoders panic.
func FuzzDecodeDump(f *testing.F) {
	svc, _ := encodeService(Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr", Netmask: NetmaskFrom(32, 32)}, true)
	dst, _ := encodeDest(Dest{DestKey: DestKey{netip.MustParseAddr("10.0.0.2"), 80}, Weight: 1})
	f.Add(concat(frame(0x20, unix.NLM_F_MULTI, 1, genl(kernelMsg(f, ipvsCmdAttrService, svc))), frame(unix.NLMSG_DONE, 0, 1, errnoBody(0))))
	f.Add(frame(0x20, unix.NLM_F_MULTI, 1, genl(kernelMsg(f, ipvsCmdAttrDest, dst))))
	tun, _ := encodeDest(Dest{DestKey: DestKey{netip.MustParseAddr("10.0.0.3"), 80}, Method: TUN, Weight: 1, Tunnel: Tunnel{Type: TunGUE, Port: 6080, Flags: TunRemCsum}})
	f.Add(frame(0x20, unix.NLM_F_MULTI, 1, genl(kernelMsg(f, ipvsCmdAttrDest, tun))))
	f.Add(frame(unix.NLMSG_ERROR, 0, 1, errnoBody(-2)))
	// The kernel's own replies, from the netlink fixtures.
	for _, sc := range netlinkScenarios {
		if fx, err := readFixture(sc.name); err == nil {
			for _, d := range fx.datagram {
				if !d.out {
					f.Add(d.data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		seq := uint32(1) // the first message's, so that the fixtures' are read
		if len(buf) >= unix.NLMSG_HDRLEN {
			seq = binary.NativeEndian.Uint32(buf[8:12])
		}
		decode := func(attrs []byte) error {
			_, err1 := decodeServiceMsg(attrs, &Counters{})
			_, err2 := decodeDestMsg(attrs, false, &DestStats{})
			_, err3 := decodeDestMsg(attrs, true, nil)
			_, err4 := decodeDaemonMsg(attrs)
			return errors.Join(err1, err2, err3, err4)
		}
		_, _ = parseDump(buf, seq, decode)
		_, _ = parseGet(buf, seq, decode)
	})
}
