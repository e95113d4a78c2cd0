package ipvs

// The failover research of docs/failover.md: two director namespaces in
// the lab VM, three DR real servers and a client on one bridge, the
// virtual address moved by hand, ipvsadm-started sync daemons. It runs
// only when asked (it takes a quarter of an hour under TCG):
//
//	go test -c -o .lab/bin/ipvs.test ./internal/ipvs
//	cd internal/ipvs && LAB_TIMEOUT=7200 ../../scripts/lab.sh ../../.lab/bin/ipvs.test \
//	    -test.run '^TestVMFailoverResearch$' -test.v -test.timeout 2h -failover.research=all
//
// Each scenario logs a RESULT line; docs/failover.md has the numbers.

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

var (
	failoverResearch = flag.String("failover.research", "", "run these failover research scenarios (comma-separated, or all); see docs/failover.md")
	failoverConns    = flag.Int("failover.conns", 200, "long-lived connections per failover research scenario")
)

const (
	foVIP      = "10.77.0.100"
	foPort     = 5000
	foSyncID   = 51
	foSources  = 20 // client addresses, so that persistence makes several templates
	foDeadline = 10 * time.Second
)

var foTarget = net.JoinHostPort(foVIP, strconv.Itoa(foPort))

// foKnobs are a director's net.ipv4.vs sync settings.
type foKnobs struct {
	threshold   string // sync_threshold "THRESHOLD PERIOD"
	refresh     int    // sync_refresh_period, seconds
	retries     int    // sync_retries
	persistMode int    // sync_persist_mode
	sloppyTCP   int    // sloppy_tcp
}

var foDefaultKnobs = foKnobs{threshold: "3 50"}

func (k foKnobs) String() string {
	s := fmt.Sprintf("sync_threshold=%q sync_refresh_period=%d", k.threshold, k.refresh)
	if k.retries != 0 {
		s += fmt.Sprintf(" sync_retries=%d", k.retries)
	}
	if k.persistMode != 0 {
		s += fmt.Sprintf(" sync_persist_mode=%d", k.persistMode)
	}
	if k.sloppyTCP != 0 {
		s += " sloppy_tcp=1"
	}
	return s
}

// foScenario is one experiment.
type foScenario struct {
	name     string
	kind     string        // failover, failback
	interval time.Duration // between lines on each connection
	knobs    foKnobs
	sched    string
	persist  bool
	// How the returning director gets the table before it takes the
	// address back (failback):
	//   keepalived: keepalived 2.2.7 with an instance: a backup daemon
	//               from start-up, the master daemon once MASTER, which a
	//               higher priority reaches after the master down interval
	//               (it discards the lower priority adverts): 3.41 s for
	//               advert_int 1 and priority 150
	//   hold:       a backup daemon (and master daemons as in keepalived)
	//               until the returning director has every connection
	//   both:       master and backup daemons on both directors all the
	//               time, and hold as above
	//   resync:     a backup daemon, and the surviving director sends its
	//               whole table once (lvsd doing what the kernel does not)
	//   fixedhold:  a backup daemon (and master daemons as in keepalived)
	//               for holdFor, whatever it learnt: the rule a router
	//               can apply without knowing the peer's table
	//   none:       no daemons at all, the address moved at once
	mode    string
	holdFor time.Duration
	// learnLimit bounds the hold.
	learnLimit time.Duration
	// again: after the failback, fail over once more (the returning
	// director dies again) to check the other director learnt from it.
	again bool
}

func foScenarios() []foScenario {
	refresh := foKnobs{threshold: "3 0", refresh: 10}
	return []foScenario{
		{name: "failover-1s", kind: "failover", interval: time.Second, knobs: foDefaultKnobs, sched: "rr"},
		{name: "failover-30s", kind: "failover", interval: 30 * time.Second, knobs: foDefaultKnobs, sched: "rr"},
		{name: "failback-keepalived-1s", kind: "failback", interval: time.Second, knobs: foDefaultKnobs, sched: "rr", mode: "keepalived"},
		{name: "failback-hold-default-1s", kind: "failback", interval: time.Second, knobs: foDefaultKnobs, sched: "rr", mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-hold-default-30s", kind: "failback", interval: 30 * time.Second, knobs: foDefaultKnobs, sched: "rr", mode: "hold", learnLimit: 150 * time.Second},
		{name: "failback-hold-refresh10-default-period-1s", kind: "failback", interval: time.Second, knobs: foKnobs{threshold: "3 50", refresh: 10}, sched: "rr", mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-hold-refresh10-1s", kind: "failback", interval: time.Second, knobs: refresh, sched: "rr", mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-hold-refresh10-30s", kind: "failback", interval: 30 * time.Second, knobs: refresh, sched: "rr", mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-hold-refresh2-1s", kind: "failback", interval: time.Second, knobs: foKnobs{threshold: "3 0", refresh: 2}, sched: "rr", mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-fixedhold35-refresh10-30s", kind: "failback", interval: 30 * time.Second, knobs: refresh, sched: "rr", mode: "fixedhold", holdFor: 35 * time.Second},
		{name: "failback-both-refresh10-1s", kind: "failback", interval: time.Second, knobs: refresh, sched: "rr", mode: "both", learnLimit: 120 * time.Second, again: true},
		{name: "failback-resync-30s", kind: "failback", interval: 30 * time.Second, knobs: foDefaultKnobs, sched: "rr", mode: "resync", learnLimit: 60 * time.Second},
		{name: "failback-persist-refresh10-1s", kind: "failback", interval: time.Second, knobs: refresh, sched: "rr", persist: true, mode: "hold", learnLimit: 120 * time.Second},
		{name: "failback-persist-mode1-sloppy-1s", kind: "failback", interval: time.Second, knobs: foKnobs{threshold: "3 0", refresh: 10, persistMode: 1, sloppyTCP: 1}, sched: "rr", persist: true, mode: "hold", learnLimit: 60 * time.Second},
		{name: "failback-persist-mode1-nosloppy-1s", kind: "failback", interval: time.Second, knobs: foKnobs{threshold: "3 0", refresh: 10, persistMode: 1}, sched: "rr", persist: true, mode: "hold", learnLimit: 60 * time.Second},
		{name: "failback-nosync-sloppy-mh-1s", kind: "failback", interval: time.Second, knobs: foKnobs{threshold: "3 50", sloppyTCP: 1}, sched: "mh", mode: "none"},
	}
}

func TestVMFailoverResearch(t *testing.T) {
	labtest.RequireVM(t)
	if *failoverResearch == "" {
		t.Skip("runs with -failover.research=all or =NAME,... (docs/failover.md)")
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*failoverResearch, ",") {
		want[n] = true
	}
	l := newFoLab(t)
	var results []string
	for _, sc := range foScenarios() {
		if !want["all"] && !want[sc.name] {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			l.t = t
			r := l.run(sc)
			results = append(results, r)
			t.Log("RESULT " + r)
		})
	}
	l.t = t
	for _, r := range results {
		t.Log("SUMMARY " + r)
	}
}

type foLab struct {
	t       *testing.T
	gen     int
	sources []netip.Addr
}

func foSh(t testing.TB, cmd string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// newFoLab builds the bridge, the client and the real servers (the
// directors come and go with each scenario).
func newFoLab(t *testing.T) *foLab {
	cleanup := func() {
		_ = exec.Command("sh", "-c", `for n in $(ip netns list | awk '/^fo-/ {print $1}'); do ip netns pids $n | xargs -r kill -9; ip netns del $n; done
for l in $(ip -o link show | awk -F': ' '$2 ~ /^fo-/ {split($2,a,"@"); print a[1]}'); do ip link del $l 2>/dev/null; done`).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	foSh(t, "ip link add fo-br type bridge && ip link set fo-br up")
	l := &foLab{t: t}
	l.host("fo-cli", "fo-cli", "10.77.0.2")
	for i := range foSources {
		a := netip.AddrFrom4([4]byte{10, 77, 1, byte(2 + i)})
		l.sources = append(l.sources, a)
		foSh(t, fmt.Sprintf("ip -n fo-cli addr add %s/16 dev eth0", a))
	}
	for i := 1; i <= 3; i++ {
		ns := fmt.Sprintf("fo-rs%d", i)
		l.host(ns, ns, fmt.Sprintf("10.77.0.%d", 20+i))
		foSh(t, fmt.Sprintf("ip -n %s addr add %s/32 dev lo", ns, foVIP))
		foSh(t, fmt.Sprintf("ip netns exec %s sh -c 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2'", ns))
		labtest.StartHelper(t, ns, "serve", fmt.Sprint(i), fmt.Sprintf("0.0.0.0:%d", foPort))
	}
	return l
}

// host adds a namespace on the bridge with eth0 at addr/16 (the client's
// addresses are 10.77.1.x, everything else 10.77.0.x).
func (l *foLab) host(ns, veth, addr string) {
	foSh(l.t, fmt.Sprintf("ip netns add %s && ip link add %s type veth peer name eth0 netns %s && ip link set %s master fo-br up", ns, veth, ns, veth))
	foSh(l.t, fmt.Sprintf("ip -n %s link set lo up && ip -n %s addr add %s/16 dev eth0 && ip -n %s link set eth0 up", ns, ns, addr, ns))
}

type foDirector struct {
	l    *foLab
	name string // namespace
	veth string
	ip   string
}

func (d *foDirector) sh(cmd string) string {
	d.l.t.Helper()
	return foSh(d.l.t, fmt.Sprintf("ip netns exec %s sh -c %q", d.name, cmd))
}

// director brings up a fresh director: namespace, knobs, the service.
func (l *foLab) director(which int, sc foScenario) *foDirector {
	l.gen++
	d := &foDirector{l: l, name: fmt.Sprintf("fo-d%d-%d", which, l.gen), veth: fmt.Sprintf("fo-d%dg%d", which, l.gen), ip: fmt.Sprintf("10.77.0.%d", 10+which)}
	l.host(d.name, d.veth, d.ip)
	k := sc.knobs
	d.sh(fmt.Sprintf("echo '%s' > /proc/sys/net/ipv4/vs/sync_threshold && sysctl -qw net.ipv4.vs.sync_refresh_period=%d net.ipv4.vs.sync_retries=%d net.ipv4.vs.sync_persist_mode=%d net.ipv4.vs.sloppy_tcp=%d",
		k.threshold, k.refresh, k.retries, k.persistMode, k.sloppyTCP))
	p := ""
	if sc.persist {
		p = " -p 300"
	}
	d.sh(fmt.Sprintf("ipvsadm -A -t %s:%d -s %s%s", foVIP, foPort, sc.sched, p))
	for i := 1; i <= 3; i++ {
		d.sh(fmt.Sprintf("ipvsadm -a -t %s:%d -r 10.77.0.%d:%d -g -w 1", foVIP, foPort, 20+i, foPort))
	}
	return d
}

func (d *foDirector) daemon(op string, state SyncState) {
	if op == "start" {
		d.sh(fmt.Sprintf("ipvsadm --start-daemon %s --mcast-interface eth0 --syncid %d", state, foSyncID))
	} else {
		d.sh(fmt.Sprintf("ipvsadm --stop-daemon %s", state))
	}
}

// takeVIP adds the address and announces it as VRRP does (gratuitous ARP).
func (d *foDirector) takeVIP() {
	d.sh(fmt.Sprintf("ip addr add %s/32 dev eth0 && busybox arping -q -U -c 2 -w 1 -I eth0 -s %s %s || true", foVIP, foVIP, foVIP))
	mac := strings.TrimSpace(d.sh("cat /sys/class/net/eth0/address"))
	// A client that knows the address must now send to this director
	// (one that does not will ask, and only the holder answers).
	neigh := strings.TrimSpace(foSh(d.l.t, "ip -n fo-cli neigh show "+foVIP))
	if neigh != "" && !strings.Contains(neigh, mac) {
		d.l.t.Fatalf("gratuitous ARP did not reach the client (%q, want %s)", neigh, mac)
	}
}

func (d *foDirector) dropVIP() { d.sh(fmt.Sprintf("ip addr del %s/32 dev eth0", foVIP)) }

// kill is a crash: the link goes first, then the namespace.
func (d *foDirector) kill() {
	_ = exec.Command("ip", "-n", d.name, "link", "set", "eth0", "down").Run()
	_ = exec.Command("ip", "link", "del", d.veth).Run()
	_ = exec.Command("ip", "netns", "del", d.name).Run()
}

// foEntry is one line of /proc/net/ip_vs_conn.
type foEntry struct {
	proto               string
	caddr, vaddr, daddr uint32
	cport, vport, dport uint16
	state               string
	expires             int
	template            bool // a persistence template (client port 0)
}

func (d *foDirector) table() []foEntry {
	out := d.sh("cat /proc/net/ip_vs_conn")
	var es []foEntry
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue
		}
		h32 := func(s string) uint32 { v, _ := strconv.ParseUint(s, 16, 32); return uint32(v) }
		h16 := func(s string) uint16 { v, _ := strconv.ParseUint(s, 16, 16); return uint16(v) }
		exp, _ := strconv.Atoi(f[8])
		e := foEntry{proto: f[0], caddr: h32(f[1]), cport: h16(f[2]), vaddr: h32(f[3]), vport: h16(f[4]), daddr: h32(f[5]), dport: h16(f[6]), state: f[7], expires: exp}
		e.template = e.cport == 0
		es = append(es, e)
	}
	return es
}

// counts are the director's established connections to the service and
// its persistence templates.
func (d *foDirector) counts() (conns, templates int) {
	for _, e := range d.table() {
		switch {
		case e.template:
			templates++
		case e.state == "ESTABLISHED" && e.vport == foPort:
			conns++
		}
	}
	return conns, templates
}

// resyncFrom sends this director's whole table to the sync group as the
// kernel's master daemon would (protocol version 1), from inside its
// namespace: what lvsd could do when the peer comes back.
func (d *foDirector) resyncFrom() (int, error) {
	var recs []SyncRecord
	addr := func(v uint32, port uint16) netip.AddrPort {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrPortFrom(netip.AddrFrom4(b), port)
	}
	for _, e := range d.table() {
		if e.proto != "TCP" {
			continue
		}
		flags, state, timeout := uint32(0x0083), uint16(1), uint32(900) // DR|NOOUTPUT, ESTABLISHED, tcp timeout
		if e.template {
			flags, state, timeout = 0x1083, 0, uint32(max(e.expires, 1)) // |TEMPLATE
		} else if e.state != "ESTABLISHED" {
			continue
		}
		recs = append(recs, SyncRecord{Protocol: unix.IPPROTO_TCP, Flags: flags, State: state, Timeout: timeout,
			Client: addr(e.caddr, e.cport), Virtual: addr(e.vaddr, e.vport), Dest: addr(e.daddr, e.dport)})
	}
	msgs := EncodeSyncV1(foSyncID, recs, 1472)
	sent := 0
	err := labtest.InNetns(d.name, func() error {
		c, err := net.ListenPacket("udp4", d.ip+":0")
		if err != nil {
			return err
		}
		defer c.Close()
		raw, _ := c.(*net.UDPConn).SyscallConn()
		_ = raw.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1)
			_ = unix.SetsockoptInet4Addr(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, netip.MustParseAddr(d.ip).As4())
		})
		dst := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 81), Port: DefaultSyncPort}
		for _, m := range msgs {
			if _, err := c.WriteTo(m, dst); err != nil {
				return err
			}
			sent += int(m[4])
		}
		return nil
	})
	return sent, err
}

// dial opens n connections to the service from the client namespace,
// spread over the client's addresses.
func (l *foLab) dial(n int) *labtest.LongConns {
	c, err := labtest.DialLong("fo-cli", foTarget, l.sources, n, foDeadline)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(c.Close)
	return c
}

// learn polls d's table every second until it holds n connections or
// limit passes; it returns how long that took, the count reached and the
// curve (count every 5 s).
func (l *foLab) learn(d *foDirector, n int, limit time.Duration, persist bool) (time.Duration, int, int, string) {
	start := time.Now()
	var curve []string
	conns, tpl := 0, 0
	for next := time.Duration(0); ; {
		conns, tpl = d.counts()
		el := time.Since(start)
		if el >= next {
			curve = append(curve, fmt.Sprintf("%ds:%d", int(el.Seconds()), conns))
			next += 5 * time.Second
		}
		// Templates: one per client address, whatever the mode.
		done := conns >= n && (!persist || tpl >= foSources)
		if persist && l.persistTemplatesOnly(d) {
			done = tpl >= foSources
		}
		if done || el > limit {
			return el, conns, tpl, strings.Join(curve, " ")
		}
		time.Sleep(time.Second)
	}
}

// persistTemplatesOnly: with sync_persist_mode 1 only templates travel.
func (l *foLab) persistTemplatesOnly(d *foDirector) bool {
	return strings.TrimSpace(d.sh("cat /proc/sys/net/ipv4/vs/sync_persist_mode")) == "1"
}

// run plays one scenario and returns its RESULT line.
func (l *foLab) run(sc foScenario) string {
	t := l.t
	n := *failoverConns
	settle := 2*sc.interval + foDeadline + 2*time.Second
	res := fmt.Sprintf("%s: %d connections, a line every %s, %s, %s scheduler", sc.name, n, sc.interval, sc.knobs, sc.sched)
	if sc.persist {
		res += ", persistent 300s"
	}
	switch sc.kind {
	case "failover":
		d1, d2 := l.director(1, sc), l.director(2, sc)
		defer d2.kill()
		d1.takeVIP()
		d1.daemon("start", SyncMaster)
		d2.daemon("start", SyncBackup)
		c := l.dial(n)
		c.Run(sc.interval)
		took, got, _, curve := l.learn(d2, n, 60*time.Second+3*sc.interval, false)
		t.Logf("the backup has %d of %d connections after %s (%s)", got, n, took.Round(time.Second), curve)
		d1.kill()
		d2.daemon("stop", SyncBackup)
		d2.daemon("start", SyncMaster)
		d2.takeVIP()
		time.Sleep(settle)
		failed, kinds := c.Failures()
		c.Close()
		return res + fmt.Sprintf(": backup learnt %d/%d in %s; after failover %d/%d survive (failures %v)", got, n, took.Round(time.Second), n-failed, n, kinds)
	}

	// failback: d2 holds the address and the connections; d1 comes back.
	d2 := l.director(2, sc)
	defer d2.kill()
	d2.takeVIP()
	switch sc.mode {
	case "both":
		d2.daemon("start", SyncMaster)
		d2.daemon("start", SyncBackup)
	case "none":
	default:
		d2.daemon("start", SyncMaster)
	}
	c := l.dial(n)
	c.Run(sc.interval)
	time.Sleep(3 * time.Second)
	c2, t2 := d2.counts()
	t.Logf("d2 holds %d connections, %d templates", c2, t2)

	d1 := l.director(1, sc)
	defer d1.kill()
	returned := time.Now()
	var learnt string
	switch sc.mode {
	case "keepalived":
		d1.daemon("start", SyncBackup)
		time.Sleep(3410 * time.Millisecond) // 3 x advert_int + (256-150)/256 s
		got, tpl := d1.counts()
		learnt = fmt.Sprintf("d1 had %d/%d connections, %d templates when it took over (3.41 s after its backup daemon started)", got, n, tpl)
	case "hold", "both", "resync":
		d1.daemon("start", SyncBackup)
		if sc.mode == "both" {
			d1.daemon("start", SyncMaster)
		}
		if sc.mode == "resync" {
			time.Sleep(500 * time.Millisecond) // the backup thread joins the group
			sent, err := d2.resyncFrom()
			if err != nil {
				t.Fatalf("resync: %v", err)
			}
			t.Logf("d2 sent %d entries", sent)
		}
		took, got, tpl, curve := l.learn(d1, n, sc.learnLimit, sc.persist)
		learnt = fmt.Sprintf("d1 learnt %d/%d connections, %d templates in %s (limit %s; curve %s)", got, n, tpl, took.Round(time.Second), sc.learnLimit, curve)
	case "fixedhold":
		d1.daemon("start", SyncBackup)
		time.Sleep(sc.holdFor)
		got, tpl := d1.counts()
		learnt = fmt.Sprintf("d1 had %d/%d connections, %d templates after a hold of %s", got, n, tpl, sc.holdFor)
	case "none":
		learnt = "no sync"
	}
	t.Log(learnt)
	// d1 takes the address back.
	switch sc.mode {
	case "keepalived", "hold", "resync", "fixedhold":
		d1.daemon("stop", SyncBackup)
		d1.daemon("start", SyncMaster)
	}
	d2.dropVIP()
	d1.takeVIP()
	switch sc.mode {
	case "keepalived", "hold", "resync", "fixedhold":
		d2.daemon("stop", SyncMaster)
		d2.daemon("start", SyncBackup)
	}
	held := time.Since(returned)
	time.Sleep(settle)
	failed, kinds := c.Failures()
	res += fmt.Sprintf(": %s; address back after %s; %d/%d survive the failback (failures %v)", learnt, held.Round(time.Second), n-failed, n, kinds)
	if sc.persist {
		moved, checked := c.Sticky("fo-cli", foTarget)
		res += fmt.Sprintf("; new connections from %d client addresses: %d went to another real server", checked, moved)
	}
	if sc.again && failed == 0 {
		// d2 must have learnt d1's connections to take over again.
		took, got, _, _ := l.learn(d2, n, 60*time.Second, false)
		d1.kill()
		d2.takeVIP()
		time.Sleep(settle)
		failed2, kinds2 := c.Failures()
		res += fmt.Sprintf("; then d1 dies again: d2 had %d/%d (checked after %s), %d/%d survive (failures %v)", got, n, took.Round(time.Second), n-failed2, n, kinds2)
	}
	c.Close()
	return res
}
