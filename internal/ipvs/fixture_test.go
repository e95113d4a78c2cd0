package ipvs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The netlink fixtures (testdata/netlink/*.txt) are whole conversations
// of lvsd's netlink kernel with the real kernel, captured in the lab VM
// by TestVMNetlinkFixtures (-update-netlink rewrites them; see
// fixture_lab_test.go): every datagram lvsd sent ("> hex") and every one
// the kernel answered ("< hex"), as cloudflare/ipvs's tests hold its
// client to the socket. TestNetlinkFixtures replays them on the host:
// lvsd must send the same bytes (only the sequence numbers, which are the
// socket's own, may differ) and decode the kernel's replies into the
// values each scenario expects. TestFakeFollowsNetlinkFixtures runs the
// same scenarios, with the same checks, against the fake.

// netlinkScenario is one conversation. The scenarios run in order on one
// kernel: each starts from the table the previous ones left.
type netlinkScenario struct {
	name string
	// run drives k as lvsd does and checks what it answers: the same
	// checks hold for the kernel, its replayed replies, and the fake.
	run func(t *testing.T, k Kernel)
	// kernelOnly: the fake cannot play it (traffic counters).
	kernelOnly bool
}

var (
	fixVIP   = netip.MustParseAddr("10.99.0.1")
	fixVIP2  = netip.MustParseAddr("10.99.0.2")
	fixVIP6  = netip.MustParseAddr("2001:db8::1")
	fixRS    = func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 98, 0, i}) }
	fixRS6   = func(i byte) netip.Addr { return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: i}) }
	fixKeyS1 = ServiceKey{Protocol: ProtoTCP, Addr: fixVIP, Port: 80}
	fixKeyS2 = ServiceKey{Protocol: ProtoUDP, Addr: fixVIP, Port: 53}
	fixKeyS3 = ServiceKey{Protocol: ProtoUDP, Addr: fixVIP2, Port: 5060}
	fixKeyS4 = ServiceKey{FWMark: 7}
	fixKeyS5 = ServiceKey{IPv6: true, Protocol: ProtoTCP, Addr: fixVIP6, Port: 443}
	fixKeyS6 = ServiceKey{IPv6: true, FWMark: 9}
	// fixStatsPayload is what the lab sends to S2 before the stats read.
	fixStatsPayload = []byte("lvsd fixture")
)

// fixtureTable is the table the scenarios create: IPv4 and IPv6, TCP,
// UDP and fwmark services; persistence with a netmask, a persistence
// engine, scheduler flags, one-packet scheduling; NAT, DR and the three
// tunnel types with their options; thresholds.
func fixtureTable() Table {
	svc := func(k ServiceKey, sched string, flags, timeout uint32, mask Netmask, pe string, dests ...Dest) *Service {
		s := &Service{ServiceKey: k, Scheduler: sched, Flags: flags, Timeout: timeout, Netmask: mask, PEName: pe, Dests: map[DestKey]Dest{}}
		for _, d := range dests {
			s.Dests[d.DestKey] = d
		}
		return s
	}
	dest := func(a netip.Addr, port uint16, m Method, w uint32) Dest {
		return Dest{DestKey: DestKey{Addr: a, Port: port}, Method: m, Weight: w}
	}
	thresholds := dest(fixRS(2), 8080, NAT, 3)
	thresholds.UThreshold, thresholds.LThreshold = 100, 10
	gue := dest(fixRS(5), 53, TUN, 1)
	gue.Tunnel = Tunnel{Type: TunGUE, Port: 6080, Flags: TunCsum}
	gre := dest(fixRS(6), 53, TUN, 1)
	gre.Tunnel = Tunnel{Type: TunGRE, Flags: TunRemCsum}
	m32, m128 := NetmaskFrom(32, 32), NetmaskFrom(128, 128)
	return Table{
		fixKeyS1: svc(fixKeyS1, "wlc", 0, 0, m32, "", thresholds, dest(fixRS(3), 80, DR, 1)),
		fixKeyS2: svc(fixKeyS2, "sh", FlagPersistent|FlagSched1|FlagSched2, 300, NetmaskFrom(24, 32), "",
			dest(fixRS(4), 53, TUN, 1), gue, gre),
		fixKeyS3: svc(fixKeyS3, "rr", FlagPersistent, 60, m32, "sip", dest(fixRS(7), 5060, NAT, 1)),
		fixKeyS4: svc(fixKeyS4, "rr", FlagPersistent, 900, m32, "", dest(fixRS(8), 0, DR, 1)),
		fixKeyS5: svc(fixKeyS5, "mh", FlagPersistent, 120, NetmaskFrom(64, 128), "", dest(fixRS6(0x10), 443, NAT, 2)),
		fixKeyS6: svc(fixKeyS6, "lc", FlagOnePacket, 0, m128, "", dest(fixRS6(0x11), 0, DR, 1)),
	}
}

// createOps creates t, services first, in a stable order.
func createOps(t Table) []Op {
	var ops []Op
	for _, k := range t.SortedKeys() {
		ops = append(ops, Op{Kind: CreateService, Service: *t[k]})
	}
	for _, k := range t.SortedKeys() {
		for _, d := range t[k].SortedDests() {
			ops = append(ops, Op{Kind: CreateDest, Service: *t[k], Dest: d})
		}
	}
	return ops
}

// fixtureAfterWrites is fixtureTable after the write-single scenario.
func fixtureAfterWrites() Table {
	t := fixtureTable()
	t[fixKeyS1].Scheduler = "rr"
	d := t[fixKeyS5].Dests[DestKey{fixRS6(0x10), 443}]
	d.Weight, d.UThreshold = 5, 50
	t[fixKeyS5].Dests[d.DestKey] = d
	delete(t[fixKeyS1].Dests, DestKey{fixRS(3), 80})
	t[fixKeyS3].PEName = ""
	delete(t, fixKeyS4)
	return t
}

func checkTable(t *testing.T, what string, got, want Table) {
	t.Helper()
	if !tablesEqual(got, want) {
		t.Errorf("%s:\n%s", what, lineDiff(want.SaveFormat(), got.SaveFormat()))
	}
}

func wantErrs(t *testing.T, what string, errs []error, want ...error) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("%s: %d errors for %d ops", what, len(errs), len(want))
	}
	for i := range want {
		if (want[i] == nil) != (errs[i] == nil) || want[i] != nil && !errors.Is(errs[i], want[i]) {
			t.Errorf("%s: op %d: error %v, want %v", what, i, errs[i], want[i])
		}
	}
}

var netlinkScenarios = []netlinkScenario{
	{name: "write-batch", run: func(t *testing.T, k Kernel) {
		ops := createOps(fixtureTable())
		wantErrs(t, "creates in one batch", k.Write(ops), make([]error, len(ops))...)
	}},
	{name: "read-table", run: func(t *testing.T, k Kernel) {
		got, err := k.ReadTable(context.Background(), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, "the whole table", got, fixtureTable())
	}},
	{name: "read-services", run: func(t *testing.T, k Kernel) {
		missing := ServiceKey{Protocol: ProtoTCP, Addr: fixVIP2, Port: 81}
		got, err := k.ReadTable(context.Background(), ReadOptions{Services: []ServiceKey{fixKeyS5, missing, fixKeyS4}})
		if err != nil {
			t.Fatal(err)
		}
		all := fixtureTable()
		checkTable(t, "two services and a missing one", got, Table{fixKeyS5: all[fixKeyS5], fixKeyS4: all[fixKeyS4]})
		got, err = k.ReadTable(context.Background(), ReadOptions{NoDests: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			s.Dests = map[DestKey]Dest{}
		}
		checkTable(t, "services without destinations", got, all)
	}},
	{name: "read-stats", kernelOnly: true, run: func(t *testing.T, k Kernel) {
		stats, err := k.ReadStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		all := fixtureTable()
		if len(stats) != len(all) {
			t.Fatalf("stats of %d services, want %d", len(stats), len(all))
		}
		for _, ss := range stats {
			s, ok := all[ss.Key]
			if !ok || len(ss.Dests) != len(s.Dests) {
				t.Fatalf("stats of %s with %d destinations: not in the table", ss.Key, len(ss.Dests))
			}
			var conns uint64
			for _, ds := range ss.Dests {
				if d, ok := s.Dests[ds.DestKey]; !ok || d.Weight != ds.Weight {
					t.Errorf("%s: destination %s weight %d: not in the table", ss.Key, ds.DestKey, ds.Weight)
				}
				conns += ds.Stats.Connections
				if ds.Stats.Connections == 1 && (ds.Persistent != 1 || ds.Active+ds.Inactive != 1) {
					t.Errorf("%s: %s: connections active %d inactive %d persistent %d, want one and its template",
						ss.Key, ds.DestKey, ds.Active, ds.Inactive, ds.Persistent)
				}
			}
			want := Counters{}
			if ss.Key == fixKeyS2 {
				// One UDP datagram: 20 bytes of IP and 8 of UDP header.
				want = Counters{Connections: 1, IncomingPackets: 1, IncomingBytes: uint64(28 + len(fixStatsPayload))}
			}
			// Only the incoming side is the client's; the outgoing one
			// counts what the tunnel's failure sent back.
			got := Counters{Connections: ss.Stats.Connections, IncomingPackets: ss.Stats.IncomingPackets, IncomingBytes: ss.Stats.IncomingBytes}
			if got != want || conns != want.Connections {
				t.Errorf("%s: counters %+v (destinations' connections %d), want %+v", ss.Key, ss.Stats, conns, want)
			}
		}
	}},
	{name: "write-single", run: func(t *testing.T, k Kernel) {
		all := fixtureTable()
		s1, s3, s4, s5 := *all[fixKeyS1], *all[fixKeyS3], *all[fixKeyS4], *all[fixKeyS5]
		gone := Dest{DestKey: DestKey{netip.MustParseAddr("10.98.0.99"), 80}, Weight: 1}
		noService := Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: fixVIP2, Port: 81}, Scheduler: "rr", Netmask: NetmaskFrom(32, 32)}
		one := func(what string, op Op, want error) {
			t.Helper()
			wantErrs(t, what, k.Write([]Op{op}), want)
		}
		one("create an existing service (converged)", Op{Kind: CreateService, Service: s1}, nil)
		s1.Scheduler = "rr"
		one("update a service", Op{Kind: UpdateService, Service: s1}, nil)
		s3.PEName = ""
		one("update a service without its engine", Op{Kind: UpdateService, Service: s3}, nil)
		d := s5.Dests[DestKey{fixRS6(0x10), 443}]
		d.Weight, d.UThreshold = 5, 50
		one("update a destination", Op{Kind: UpdateDest, Service: s5, Dest: d}, nil)
		dr := s1.Dests[DestKey{fixRS(3), 80}]
		one("remove a destination", Op{Kind: RemoveDest, Service: s1, Dest: dr}, nil)
		one("remove it again (converged)", Op{Kind: RemoveDest, Service: s1, Dest: dr}, nil)
		one("update a missing destination", Op{Kind: UpdateDest, Service: s1, Dest: gone}, syscall.ENOENT)
		one("a destination of a missing service", Op{Kind: CreateDest, Service: noService, Dest: gone}, syscall.ESRCH)
		one("update a missing service", Op{Kind: UpdateService, Service: noService}, syscall.ESRCH)
		one("remove a service", Op{Kind: RemoveService, Service: s4}, nil)
		wantErrs(t, "a batch with a failing op in the middle", k.Write([]Op{
			{Kind: RemoveService, Service: s4}, // converged
			{Kind: UpdateDest, Service: s1, Dest: gone},
			{Kind: CreateDest, Service: noService, Dest: gone},
			{Kind: UpdateService, Service: s1},
		}), nil, syscall.ENOENT, syscall.ESRCH, nil)
		got, err := k.ReadTable(context.Background(), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, "the table after the writes", got, fixtureAfterWrites())
	}},
	{name: "sync-daemons", run: func(t *testing.T, k Kernel) {
		master := SyncDaemon{State: SyncMaster, Interface: "lvsdfix0", SyncID: 7}
		backup := SyncDaemon{State: SyncBackup, Interface: "lvsdfix0", SyncID: 9, MaxLen: 1000,
			Group: netip.MustParseAddr("224.0.0.99"), Port: 9999, TTL: 3}
		if err := k.StartSyncDaemon(master); err != nil {
			t.Fatal(err)
		}
		if err := k.StartSyncDaemon(backup); err != nil {
			t.Fatal(err)
		}
		if err := k.StartSyncDaemon(master); !IsSyncDaemonRunning(err) {
			t.Errorf("a second master: %v, want EEXIST", err)
		}
		got, err := k.SyncDaemons()
		if want := []SyncDaemon{master.kernelDefaults(), backup.kernelDefaults()}; err != nil || !slices.Equal(got, want) {
			t.Errorf("daemons %v, err %v; want %v", got, err, want)
		}
		if err := k.StopSyncDaemon(SyncMaster); err != nil {
			t.Error(err)
		}
		if err := k.StopSyncDaemon(SyncBackup); err != nil {
			t.Error(err)
		}
		if err := k.StopSyncDaemon(SyncBackup); !IsNoSyncDaemon(err) {
			t.Errorf("stopping a stopped backup: %v, want ESRCH", err)
		}
		if got, err := k.SyncDaemons(); err != nil || len(got) != 0 {
			t.Errorf("daemons after the stops %v, err %v", got, err)
		}
	}},
	{name: "remove-all", run: func(t *testing.T, k Kernel) {
		var ops []Op
		for _, s := range fixtureAfterWrites() {
			ops = append(ops, Op{Kind: RemoveService, Service: *s})
		}
		slices.SortFunc(ops, func(a, b Op) int { return compareKeys(a.Service.ServiceKey, b.Service.ServiceKey) })
		wantErrs(t, "remove every service", k.Write(ops), make([]error, len(ops))...)
		got, err := k.ReadTable(context.Background(), ReadOptions{})
		if err != nil || len(got) != 0 {
			t.Errorf("the empty table: %v, err %v", got, err)
		}
	}},
}

// A fixture file: a header of "# key: value" lines, then one datagram a
// line, "> hex" sent by lvsd, "< hex" received from the kernel.
type fixture struct {
	kernel   string
	family   uint16
	datagram []datagram
}

type datagram struct {
	out  bool
	data []byte
}

func fixturePath(name string) string { return filepath.Join("testdata", "netlink", name+".txt") }

func readFixture(name string) (*fixture, error) {
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		return nil, err
	}
	f := &fixture{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# kernel: "):
			f.kernel = strings.TrimPrefix(line, "# kernel: ")
		case strings.HasPrefix(line, "# family: "):
			v, err := strconv.ParseUint(strings.TrimPrefix(line, "# family: "), 0, 16)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, n, err)
			}
			f.family = uint16(v)
		case line == "" || line[0] == '#':
		case len(line) > 2 && (line[:2] == "> " || line[:2] == "< "):
			d, err := hex.DecodeString(line[2:])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, n, err)
			}
			f.datagram = append(f.datagram, datagram{out: line[0] == '>', data: d})
		default:
			return nil, fmt.Errorf("%s:%d: unreadable line", name, n)
		}
	}
	if f.family == 0 {
		return nil, fmt.Errorf("%s: no family", name)
	}
	return f, sc.Err()
}

// String is the fixture file's text.
func (f *fixture) String(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# lvsd netlink fixture %q (see netlinkScenarios in fixture_test.go).\n", name)
	fmt.Fprintf(&b, "# Captured in the lab VM: go test ./internal/ipvs -run '^TestLab$' -update-netlink\n")
	fmt.Fprintf(&b, "# kernel: %s\n# family: %#04x\n", f.kernel, f.family)
	for _, d := range f.datagram {
		dir := "<"
		if d.out {
			dir = ">"
		}
		fmt.Fprintf(&b, "%s %x\n", dir, d.data)
	}
	return b.String()
}

// eachFrame calls fn with the offset of every netlink message in d.
func eachFrame(d []byte, fn func(msg []byte)) {
	for len(d) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(d[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(d) {
			return
		}
		fn(d[:l])
		d = d[min(nlmsgAlign(l), len(d)):]
	}
}

// normalised is d with what belongs to the socket and not to the request
// zeroed: each message's sequence number and port id, also in the request
// header an acknowledgement repeats; and the family number (assigned when
// ip_vs is loaded) in their types replaced by 0xffff.
func normalised(d []byte, family uint16) []byte {
	out := slices.Clone(d)
	eachFrame(out, func(m []byte) {
		hdrs := [][]byte{m}
		if binary.NativeEndian.Uint16(m[4:6]) == unix.NLMSG_ERROR && len(m) >= unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN {
			hdrs = append(hdrs, m[unix.NLMSG_HDRLEN+4:])
		}
		for _, h := range hdrs {
			if binary.NativeEndian.Uint16(h[4:6]) == family {
				binary.NativeEndian.PutUint16(h[4:6], 0xffff)
			}
			clear(h[8:16])
		}
	})
	return out
}

// replaySocket plays a fixture's kernel: each datagram sent must be the
// next one of the fixture (up to sequence numbers), each receive gets the
// next reply, its sequence numbers those of the requests sent.
type replaySocket struct {
	t    *testing.T
	f    *fixture
	pos  int
	seqs map[uint32]uint32 // the fixture's request's → this run's
}

func (r *replaySocket) send(b []byte) error {
	r.t.Helper()
	if r.pos >= len(r.f.datagram) || !r.f.datagram[r.pos].out {
		r.t.Errorf("datagram %d: lvsd sends a request the fixture does not have:\n%x", r.pos, b)
		return syscall.EIO
	}
	want := r.f.datagram[r.pos].data
	r.pos++
	if g, w := normalised(b, r.f.family), normalised(want, r.f.family); !bytes.Equal(g, w) {
		r.t.Errorf("datagram %d: lvsd sends\n%x\nthe kernel was sent\n%x", r.pos-1, g, w)
		return syscall.EIO
	}
	var got []uint32
	eachFrame(b, func(m []byte) { got = append(got, binary.NativeEndian.Uint32(m[8:12])) })
	i := 0
	eachFrame(want, func(m []byte) { r.seqs[binary.NativeEndian.Uint32(m[8:12])] = got[i]; i++ })
	return nil
}

func (r *replaySocket) recv(b []byte) (int, error) {
	r.t.Helper()
	if r.pos >= len(r.f.datagram) || r.f.datagram[r.pos].out {
		r.t.Errorf("datagram %d: lvsd waits for a reply the kernel did not send", r.pos)
		return 0, syscall.EAGAIN
	}
	d := slices.Clone(r.f.datagram[r.pos].data)
	r.pos++
	eachFrame(d, func(m []byte) {
		if s, ok := r.seqs[binary.NativeEndian.Uint32(m[8:12])]; ok {
			binary.NativeEndian.PutUint32(m[8:12], s)
		}
	})
	return copy(b, d), nil
}

func (r *replaySocket) close() error { return nil }

// TestNetlinkFixtures replays every scenario's conversation with the
// kernel: lvsd's requests byte for byte, the kernel's replies decoded
// into what the scenario expects.
func TestNetlinkFixtures(t *testing.T) {
	littleEndianOnly(t)
	for _, sc := range netlinkScenarios {
		t.Run(sc.name, func(t *testing.T) {
			f, err := readFixture(sc.name)
			if err != nil {
				t.Fatalf("%v (capture it in the lab VM: go test ./internal/ipvs -run '^TestLab$' -update-netlink)", err)
			}
			t.Logf("captured from kernel %s", f.kernel)
			r := &replaySocket{t: t, f: f, seqs: map[uint32]uint32{}}
			k := &netlinkKernel{dial: func() (*genlConn, error) { return newConn(r, f.family, 1000), nil }}
			sc.run(t, k)
			if r.pos != len(r.f.datagram) {
				t.Errorf("lvsd stopped after %d of the fixture's %d datagrams", r.pos, len(r.f.datagram))
			}
		})
	}
}

// TestFakeFollowsNetlinkFixtures runs the scenarios, in order, against the
// fake: it must answer as the kernel did.
func TestFakeFollowsNetlinkFixtures(t *testing.T) {
	k := NewFakeKernel()
	for _, sc := range netlinkScenarios {
		if sc.kernelOnly {
			continue
		}
		t.Run(sc.name, func(t *testing.T) { sc.run(t, k) })
	}
}
