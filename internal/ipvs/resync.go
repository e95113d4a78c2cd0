package ipvs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Template resync: the kernel's master sync daemon announces a
// persistence template only together with a connection it controls, and a
// connection learnt from a peer's sync daemon controls none. So after a
// failover the new master never re-announces the templates it learnt, and
// a director that comes back (failback) would schedule those clients
// afresh, possibly to another real server. lvsd closes the gap by sending
// the master's templates itself, in the kernel's own sync message format
// (version 1, net/netfilter/ipvs/ip_vs_sync.c), to the sync group, where
// the peer's backup daemon takes them as its master's.

// ConnEntry is one line of /proc/net/ip_vs_conn.
type ConnEntry struct {
	Protocol uint16 // 0 ("IP") for fwmark templates, whose Virtual address holds the mark
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Dest     netip.AddrPort
	State    string
	Expires  uint32 // seconds left
}

// templateStates are a template's states as the kernel names them
// (ip_vs_ctpl_state_name_table): NONE, and ASSURED once a connection it
// controls was established.
var templateStates = map[string]uint16{"NONE": 0, "ASSURED": 1}

// Template reports a persistence template (client port 0, a template state).
func (e ConnEntry) Template() bool {
	_, ok := templateStates[e.State]
	return e.Client.Port() == 0 && ok
}

// maxConnLine bounds one line of the connection table; real ones are
// under 200 bytes (IPv6, with a persistence engine's data).
const maxConnLine = 4096

// ParseConnTable reads /proc/net/ip_vs_conn, keeping the entries keep
// accepts (nil keeps all). A line it cannot read is an error naming it.
func ParseConnTable(r io.Reader, keep func(ConnEntry) bool) ([]ConnEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxConnLine)
	var out []ConnEntry
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 && strings.HasPrefix(text, "Pro ") {
			continue
		}
		e, err := parseConnLine(text)
		if err != nil {
			return nil, fmt.Errorf("ip_vs_conn line %d: %w", line, err)
		}
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ip_vs_conn line %d: %w", line+1, err)
	}
	return out, nil
}

func parseConnLine(s string) (ConnEntry, error) {
	f := strings.Fields(s)
	if len(f) < 9 {
		return ConnEntry{}, fmt.Errorf("%d fields, want at least 9", len(f))
	}
	var e ConnEntry
	switch f[0] {
	case "TCP":
		e.Protocol = ProtoTCP
	case "UDP":
		e.Protocol = ProtoUDP
	case "SCTP":
		e.Protocol = ProtoSCTP
	case "IP":
		e.Protocol = 0
	default:
		return e, fmt.Errorf("protocol %q", f[0])
	}
	var err error
	if e.Client, err = connAddrPort(f[1], f[2]); err != nil {
		return e, err
	}
	if e.Virtual, err = connAddrPort(f[3], f[4]); err != nil {
		return e, err
	}
	if e.Dest, err = connAddrPort(f[5], f[6]); err != nil {
		return e, err
	}
	e.State = f[7]
	exp, err := strconv.ParseUint(f[8], 10, 32)
	if err != nil {
		return e, fmt.Errorf("expires %q", f[8])
	}
	e.Expires = uint32(exp)
	return e, nil
}

// connAddrPort reads an address as the kernel prints it (8 hex digits
// for IPv4, %pI6 for IPv6) and a 4-hex-digit port.
func connAddrPort(a, p string) (netip.AddrPort, error) {
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil || len(p) != 4 {
		return netip.AddrPort{}, fmt.Errorf("port %q", p)
	}
	if len(a) == 8 {
		v, err := strconv.ParseUint(a, 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q", a)
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v))
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(port)), nil
	}
	addr, err := netip.ParseAddr(a)
	if err != nil || !addr.Is6() {
		return netip.AddrPort{}, fmt.Errorf("address %q", a)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Kernel connection flags (include/uapi/linux/ip_vs.h).
const (
	connFMasq     = 0x0000
	connFTunnel   = 0x0002
	connFDroute   = 0x0003
	connFNoOutput = 0x0080
	connFTemplate = 0x1000
)

// SyncRecord is one connection of a sync message.
type SyncRecord struct {
	Protocol uint8
	Flags    uint32
	State    uint16
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Dest     netip.AddrPort
	FWMark   uint32
	Timeout  uint32 // seconds
}

const (
	syncMesgHeader = 8
	syncV4Size     = 36
	syncV6Size     = 72
	syncTypeInet6  = 1
	syncProtoVer   = 1
	syncMaxConns   = 255 // nr_conns is one byte
)

func (r SyncRecord) size() int {
	if r.Virtual.Addr().Is6() {
		return syncV6Size
	}
	return syncV4Size
}

// EncodeSyncV1 packs records into version-1 sync messages of at most
// maxLen bytes each (the daemon's sync_maxlen: 1472 for an MTU of 1500).
func EncodeSyncV1(syncID uint8, recs []SyncRecord, maxLen int) [][]byte {
	var msgs [][]byte
	var cur []byte
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		binary.BigEndian.PutUint16(cur[2:4], uint16(len(cur)))
		cur[4] = byte(n)
		msgs = append(msgs, cur)
		cur, n = nil, 0
	}
	for _, r := range recs {
		if cur != nil && (len(cur)+r.size() > maxLen || n == syncMaxConns) {
			flush()
		}
		if cur == nil {
			cur = []byte{0, syncID, 0, 0, 0, syncProtoVer, 0, 0}
		}
		cur = appendSyncRecord(cur, r)
		n++
	}
	flush()
	return msgs
}

func appendSyncRecord(b []byte, r SyncRecord) []byte {
	v6 := r.Virtual.Addr().Is6()
	typ, size := byte(0), syncV4Size
	if v6 {
		typ, size = syncTypeInet6, syncV6Size
	}
	b = append(b, typ, r.Protocol)
	b = binary.BigEndian.AppendUint16(b, uint16(size)) // version 0, size
	b = binary.BigEndian.AppendUint32(b, r.Flags)
	b = binary.BigEndian.AppendUint16(b, r.State)
	b = binary.BigEndian.AppendUint16(b, r.Client.Port())
	b = binary.BigEndian.AppendUint16(b, r.Virtual.Port())
	b = binary.BigEndian.AppendUint16(b, r.Dest.Port())
	b = binary.BigEndian.AppendUint32(b, r.FWMark)
	b = binary.BigEndian.AppendUint32(b, r.Timeout)
	for _, a := range []netip.Addr{r.Client.Addr(), r.Virtual.Addr(), r.Dest.Addr()} {
		if v6 {
			s := a.As16()
			b = append(b, s[:]...)
		} else {
			s := a.As4()
			b = append(b, s[:]...)
		}
	}
	return b
}

// DecodeSyncV1 reads a version-1 sync message as the kernel's backup
// daemon does (without options or persistence-engine data).
func DecodeSyncV1(msg []byte) (syncID uint8, recs []SyncRecord, err error) {
	if len(msg) < syncMesgHeader {
		return 0, nil, errors.New("sync message shorter than its header")
	}
	if msg[0] != 0 || msg[5] != syncProtoVer {
		return 0, nil, fmt.Errorf("not a version 1 sync message (reserved %d, version %d)", msg[0], msg[5])
	}
	if size := int(binary.BigEndian.Uint16(msg[2:4])); size != len(msg) {
		return 0, nil, fmt.Errorf("size %d, message %d bytes", size, len(msg))
	}
	syncID = msg[1]
	p := msg[syncMesgHeader:]
	for i := 0; i < int(msg[4]); i++ {
		if len(p) < 4 {
			return 0, nil, fmt.Errorf("record %d truncated", i)
		}
		size := int(binary.BigEndian.Uint16(p[2:4]) & 0x0fff)
		v6 := p[0]&syncTypeInet6 != 0
		want := syncV4Size
		if v6 {
			want = syncV6Size
		}
		if size < want || size > len(p) || p[2]>>4 != 0 {
			return 0, nil, fmt.Errorf("record %d: size %d of %d bytes left", i, size, len(p))
		}
		r := SyncRecord{Protocol: p[1], Flags: binary.BigEndian.Uint32(p[4:8]), State: binary.BigEndian.Uint16(p[8:10]),
			FWMark: binary.BigEndian.Uint32(p[16:20]), Timeout: binary.BigEndian.Uint32(p[20:24])}
		addr := func(off int) netip.Addr {
			if v6 {
				return netip.AddrFrom16([16]byte(p[off : off+16]))
			}
			return netip.AddrFrom4([4]byte(p[off : off+4]))
		}
		step := 4
		if v6 {
			step = 16
		}
		r.Client = netip.AddrPortFrom(addr(24), binary.BigEndian.Uint16(p[10:12]))
		r.Virtual = netip.AddrPortFrom(addr(24+step), binary.BigEndian.Uint16(p[12:14]))
		r.Dest = netip.AddrPortFrom(addr(24+2*step), binary.BigEndian.Uint16(p[14:16]))
		recs = append(recs, r)
		p = p[size:]
	}
	if len(p) != 0 {
		return 0, nil, fmt.Errorf("%d bytes after the last record", len(p))
	}
	return syncID, recs, nil
}

// TemplateRecords turns the templates among entries into sync records,
// with the forwarding method of their real server and the service's
// persistence timeout from table (the services lvsd programs). Templates
// of services not in table are left out: lvsd does not know their
// forwarding method.
func TemplateRecords(entries []ConnEntry, table Table) []SyncRecord {
	byAddr := map[ServiceKey]*Service{}
	for k, s := range table {
		byAddr[k] = s
	}
	var out []SyncRecord
	for _, e := range entries {
		if !e.Template() {
			continue
		}
		r := SyncRecord{Protocol: uint8(e.Protocol), State: templateStates[e.State], Client: e.Client, Virtual: e.Virtual, Dest: e.Dest}
		var svc *Service
		if e.Protocol == 0 {
			// A fwmark template: the kernel keeps the mark in the virtual
			// address (ip_vs_sched_persist), and sends it in fwmark too.
			var mark uint32
			a := e.Virtual.Addr()
			if a.Is4() {
				b := a.As4()
				mark = binary.BigEndian.Uint32(b[:])
			} else {
				b := a.As16()
				mark = binary.BigEndian.Uint32(b[:4])
			}
			svc = byAddr[ServiceKey{FWMark: mark, IPv6: a.Is6()}]
			r.FWMark = mark
		} else {
			svc = byAddr[ServiceKey{IPv6: e.Virtual.Addr().Is6(), Protocol: e.Protocol, Addr: e.Virtual.Addr(), Port: e.Virtual.Port()}]
		}
		if svc == nil {
			continue
		}
		dst, ok := svc.Dests[DestKey{Addr: e.Dest.Addr(), Port: e.Dest.Port()}]
		if !ok {
			continue // the real server is gone: let the template go with it
		}
		r.Flags = connFTemplate
		switch dst.Method {
		case DR:
			r.Flags |= connFDroute | connFNoOutput
		case TUN:
			r.Flags |= connFTunnel | connFNoOutput
		default:
			r.Flags |= connFMasq
		}
		r.Timeout = svc.Timeout
		if r.Timeout == 0 {
			r.Timeout = max(e.Expires, 1)
		}
		out = append(out, r)
	}
	return out
}
