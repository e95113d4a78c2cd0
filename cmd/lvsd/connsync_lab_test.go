package main

// Hitless director failover and failback (issue 14), in the lab VM: two
// directors running lvsd with lvs_sync_daemon, three DR real servers and
// a client on one bridge, long-lived connections sending a line a second.
// The master is killed with -9 (every process of its namespace) and its
// namespace, with its IPVS table, deleted; later it comes back in a fresh
// namespace with the higher priority and preempts. The same scenario runs
// with two keepalived 2.2.7 directors as the reference. docs/benchmarks.md
// has the figures.

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/daemon"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/vishvananda/netlink"
)

var (
	connSyncConns      = flag.Int("connsync.conns", 500, "long-lived connections to the plain service in TestVMConnSync")
	connSyncInterval   = flag.Duration("connsync.interval", time.Second, "time between lines on each connection in TestVMConnSync")
	connSyncPersistent = flag.Int("connsync.persistent", 100, "long-lived connections to the persistent service in TestVMConnSync")
)

const (
	csVIP       = "10.78.0.100"
	csPort      = 5000 // wrr, DR
	csPersist   = 5001 // wrr, DR, persistence_timeout 300
	csSources   = 20   // client addresses: persistence makes one template per address and port
	csDeadline  = 10 * time.Second
	csBridge    = "cs-br"
	csInside    = "cs-in"     // NAT: the real servers' network
	csGateway   = "10.79.0.1" // NAT: the real servers' gateway, a VIP that moves with csVIP
	csClientNS  = "cs-cli"
	csMasterPri = 150
	csBackupPri = 100
)

func csTarget(port int) string { return net.JoinHostPort(csVIP, strconv.Itoa(port)) }

func csSh(t testing.TB, cmd string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// csConfig is the directors' keepalived.conf: the sync daemon follows the
// VRRP instance, as keepalived's documentation shows it.
// With nat, the real servers sit on an inside network behind the
// directors and route through a gateway address in the same instance.
func csConfig(name string, prio int, nat bool) string {
	state := "BACKUP"
	if prio == csMasterPri {
		state = "MASTER"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global_defs {
  router_id %s
  lvs_sync_daemon eth0 VI_1 id 51
}
vrrp_instance VI_1 {
  state %s
  interface eth0
  virtual_router_id 78
  priority %d
  advert_int 1
  virtual_ipaddress {
    %s/32 dev eth0%s
  }
}
`, name, state, prio, csVIP, map[bool]string{true: "\n    " + csGateway + "/16 dev eth1"}[nat])
	method, rsNet := "DR", "10.78.0"
	if nat {
		method, rsNet = "NAT", "10.79.0"
	}
	for _, port := range []int{csPort, csPersist} {
		fmt.Fprintf(&b, "virtual_server %s %d {\n  delay_loop 2\n  lb_algo wrr\n  lb_kind %s\n  protocol TCP\n", csVIP, port, method)
		if port == csPersist {
			b.WriteString("  persistence_timeout 300\n")
		}
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(&b, "  real_server %s.%d %d {\n    weight %d\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n", rsNet, 20+i, port, i)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

type csLab struct {
	t       *testing.T
	nat     bool
	sources []netip.Addr
	gen     int
}

// newCSLab builds the bridge, the client and the three real servers (DR:
// on the same bridge, the VIP on lo; NAT: on an inside bridge, routing
// through csGateway).
func newCSLab(t *testing.T, nat bool) *csLab {
	cleanup := func() {
		_ = exec.Command("sh", "-c", `for n in $(ip netns list | awk '/^cs-/ {print $1}'); do ip netns pids $n | xargs -r kill -9; ip netns del $n; done
for l in $(ip -o link show | awk -F': ' '$2 ~ /^cs-/ {split($2,a,"@"); print a[1]}'); do ip link del $l 2>/dev/null; done`).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	csSh(t, "ip link add "+csBridge+" type bridge && ip link set "+csBridge+" up")
	if nat {
		csSh(t, "ip link add "+csInside+" type bridge && ip link set "+csInside+" up")
	}
	l := &csLab{t: t, nat: nat}
	l.host(csClientNS, csClientNS, "10.78.0.2")
	for i := range csSources {
		a := netip.AddrFrom4([4]byte{10, 78, 1, byte(2 + i)})
		l.sources = append(l.sources, a)
		csSh(t, fmt.Sprintf("ip -n %s addr add %s/16 dev eth0", csClientNS, a))
	}
	for i := 1; i <= 3; i++ {
		ns := fmt.Sprintf("cs-rs%d", i)
		if nat {
			csSh(t, fmt.Sprintf("ip netns add %s && ip link add %s type veth peer name eth0 netns %s && ip link set %s master %s up", ns, ns, ns, ns, csInside))
			csSh(t, fmt.Sprintf("ip -n %s link set lo up && ip -n %s addr add 10.79.0.%d/16 dev eth0 && ip -n %s link set eth0 up && ip -n %s route add default via %s", ns, ns, 20+i, ns, ns, csGateway))
		} else {
			l.host(ns, ns, fmt.Sprintf("10.78.0.%d", 20+i))
			csSh(t, fmt.Sprintf("ip -n %s addr add %s/32 dev lo", ns, csVIP))
			csSh(t, fmt.Sprintf("ip netns exec %s sh -c 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2'", ns))
		}
		for _, port := range []int{csPort, csPersist} {
			labtest.StartHelper(t, ns, "serve", fmt.Sprint(i), fmt.Sprintf("0.0.0.0:%d", port))
		}
	}
	return l
}

// host adds a namespace on the bridge with eth0 at addr/16.
func (l *csLab) host(ns, veth, addr string) {
	csSh(l.t, fmt.Sprintf("ip netns add %s && ip link add %s type veth peer name eth0 netns %s && ip link set %s master %s up", ns, veth, ns, veth, csBridge))
	csSh(l.t, fmt.Sprintf("ip -n %s link set lo up && ip -n %s addr add %s/16 dev eth0 && ip -n %s link set eth0 up", ns, ns, addr, ns))
}

// csDirector is one director: a fresh namespace and its daemon.
type csDirector struct {
	l      *csLab
	kind   string // lvsd or keepalived
	ns     string
	veth   string
	veths  []string // NAT: the inside links
	state  string   // lvsd's state directory (control socket)
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
}

func (l *csLab) director(kind string, which, prio int) *csDirector {
	t := l.t
	l.gen++
	d := &csDirector{l: l, kind: kind, ns: fmt.Sprintf("cs-d%d-%d", which, l.gen), veth: fmt.Sprintf("cs-d%dg%d", which, l.gen),
		log: &syncBuffer{}, exited: make(chan struct{})}
	l.host(d.ns, d.veth, fmt.Sprintf("10.78.0.%d", 10+which))
	if l.nat {
		in := fmt.Sprintf("cs-d%di%d", which, l.gen)
		csSh(t, fmt.Sprintf("ip link add %s type veth peer name eth1 netns %s && ip link set %s master %s up", in, d.ns, in, csInside))
		csSh(t, fmt.Sprintf("ip -n %s addr add 10.79.0.%d/16 dev eth1 && ip -n %s link set eth1 up && ip netns exec %s sysctl -qw net.ipv4.ip_forward=1", d.ns, 10+which, d.ns, d.ns))
		d.veths = append(d.veths, in)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(csConfig(d.ns, prio, l.nat)), 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	switch kind {
	case "lvsd":
		self, _ := os.Executable()
		state, err := os.MkdirTemp("", "cs")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(state) })
		d.state = state
		args = []string{self, "run", "-f", conf, "--state-dir", state}
	case "keepalived":
		args = []string{"keepalived", "-n", "-l", "-D", "-f", conf, "-p", dir + "/k.pid", "-r", dir + "/v.pid", "-c", dir + "/c.pid", "-b", dir + "/b.pid"}
	}
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", d.ns}, args...)...)
	d.cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("--- %s in %s (last 4000 bytes of its log) ---\n%s", kind, d.ns, faultTail(d.log.String(), 4000))
		}
	})
	return d
}

func (d *csDirector) sh(cmd string) string {
	d.l.t.Helper()
	return csSh(d.l.t, fmt.Sprintf("ip netns exec %s sh -c %q", d.ns, cmd))
}

// kill is a crash: every process of the namespace gets SIGKILL, then the
// link and the namespace (with its IPVS table) go.
func (d *csDirector) kill() {
	_ = exec.Command("sh", "-c", "ip netns pids "+d.ns+" 2>/dev/null | xargs -r kill -9").Run()
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
	}
	for _, v := range append([]string{d.veth}, d.veths...) {
		_ = exec.Command("ip", "link", "del", v).Run()
	}
	_ = exec.Command("ip", "netns", "del", d.ns).Run()
}

// holdsVIP asks the director's namespace over netlink: under TCG a
// process per poll would take the CPU the directors need at takeover.
func (d *csDirector) holdsVIP() bool {
	held := false
	_ = labtest.InNetns(d.ns, func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			held = held || a.IP.String() == csVIP
		}
		return err
	})
	return held
}

// conns counts the director's established connections to the two
// services and its persistence templates.
func (d *csDirector) conns() (conns, templates int) {
	var out []byte
	err := labtest.InNetns(d.ns, func() (err error) {
		out, err = os.ReadFile("/proc/thread-self/net/ip_vs_conn")
		return err
	})
	if err != nil {
		return 0, 0
	}
	ports := map[string]bool{fmt.Sprintf("%04X", csPort): true, fmt.Sprintf("%04X", csPersist): true}
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 9 || !ports[f[4]] {
			continue
		}
		switch {
		case f[2] == "0000":
			templates++
		case f[7] == "ESTABLISHED":
			conns++
		}
	}
	return conns, templates
}

func (d *csDirector) status() (daemon.StatusDoc, error) {
	self, _ := os.Executable()
	c := exec.Command(self, "status", "--json", "--socket", filepath.Join(d.state, "lvsd.sock"))
	c.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var doc daemon.StatusDoc
	out, err := c.Output()
	if err != nil {
		return doc, err
	}
	return doc, json.Unmarshal(out, &doc)
}

// csEvent is what one event did to the connections.
type csEvent struct {
	name          string
	took          time.Duration // until the other director held the address
	learnt        string
	failed        int
	kinds         map[string]int
	stalls        labtest.StallFigures
	moved, sticky int
}

func (e csEvent) String() string {
	return fmt.Sprintf("%s: address moved after %s; %s; %d failed %v; %s; persistent clients moved %d/%d",
		e.name, e.took.Round(10*time.Millisecond), e.learnt, e.failed, e.kinds, e.stalls, e.moved, e.sticky)
}

// csRun plays failover then failback with two directors of kind, n plain
// and np persistent connections, and returns both events.
func csRun(t *testing.T, kind string, nat bool, n, np int) (failover, failback csEvent) {
	l := newCSLab(t, nat)
	settle := 2**connSyncInterval + csDeadline + 2*time.Second

	// d1 first: started together, d2 could win the first election, and
	// lvsd's d1 would then hold its preemption for SyncFailbackHold.
	d1 := l.director(kind, 1, csMasterPri)
	labtest.WaitFor(t, kind+": d1 holds the address", 30*time.Second, d1.holdsVIP)
	d2 := l.director(kind, 2, csBackupPri)
	labtest.WaitFor(t, kind+": both directors have the services", 30*time.Second, func() bool {
		return strings.Count(d1.sh("ipvsadm -Sn"), "-a -t") == 6 && strings.Count(d2.sh("ipvsadm -Sn"), "-a -t") == 6
	})
	plain, err := labtest.DialLong(csClientNS, csTarget(csPort), l.sources, n, csDeadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	sticky, err := labtest.DialLong(csClientNS, csTarget(csPersist), l.sources, np, csDeadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sticky.Close)
	plain.Run(*connSyncInterval)
	sticky.Run(*connSyncInterval)
	took, _ := labtest.Poll(60*time.Second, time.Second, func() bool { c, _ := d2.conns(); return c >= n+np })
	c2, tpl2 := d2.conns()
	failover.learnt = fmt.Sprintf("the backup had %d/%d connections, %d templates (%s after connecting)", c2, n+np, tpl2, took.Round(time.Second))

	// Failover: d1 dies with its table.
	plain.MarkEvent()
	sticky.MarkEvent()
	start := time.Now()
	d1.kill()
	_, moved := labtest.Poll(30*time.Second, 50*time.Millisecond, d2.holdsVIP)
	failover.took = time.Since(start) // from the SIGKILL
	if !moved {
		t.Fatalf("%s: the backup did not take the address within 30 s", kind)
	}
	time.Sleep(settle)
	failover.name = kind + " failover"
	failover.failed, failover.kinds = csFailures(plain, sticky)
	failover.stalls = csStalls(plain, sticky)
	failover.moved, failover.sticky = sticky.Sticky(csClientNS, csTarget(csPersist))
	t.Logf("%s (%s)", failover, time.Since(start).Round(time.Second))
	if kind == "lvsd" {
		doc, err := d2.status()
		if err != nil {
			t.Errorf("lvsd status on the new master: %v", err)
		} else if sd := doc.SyncDaemon; sd == nil || len(sd.Running) != 1 || sd.Running[0].State != "master" || sd.Settings["net.ipv4.vs.sync_refresh_period"] != "10" {
			t.Errorf("lvsd status on the new master: sync daemon %+v, want a master daemon and sync_refresh_period 10", sd)
		}
	}

	// Failback: d1 comes back in a fresh namespace and preempts.
	plain.MarkEvent()
	sticky.MarkEvent()
	start = time.Now()
	d1 = l.director(kind, 1, csMasterPri)
	var learntAtTakeover string
	_, moved = labtest.Poll(120*time.Second, 50*time.Millisecond, func() bool {
		if !d1.holdsVIP() {
			return false
		}
		c, tpl := d1.conns()
		learntAtTakeover = fmt.Sprintf("the returning director had %d/%d connections, %d templates when it took the address", c, n+np, tpl)
		return true
	})
	failback.took = time.Since(start) // from the returning director's start
	if !moved {
		t.Fatalf("%s: the returning director did not take the address back within 120 s", kind)
	}
	time.Sleep(settle)
	failback.name = kind + " failback"
	failback.learnt = learntAtTakeover
	failback.failed, failback.kinds = csFailures(plain, sticky)
	failback.stalls = csStalls(plain, sticky)
	failback.moved, failback.sticky = sticky.Sticky(csClientNS, csTarget(csPersist))
	t.Logf("%s (%s)", failback, time.Since(start).Round(time.Second))
	if kind == "lvsd" {
		if doc, err := d2.status(); err != nil || doc.SyncDaemon == nil {
			t.Errorf("lvsd status on the director that gave the address back: %v", err)
		} else {
			t.Logf("the surviving director sent %d persistence templates to the sync group while it was master", doc.SyncDaemon.TemplatesSent)
		}
	}
	return failover, failback
}

func csFailures(cs ...*labtest.LongConns) (int, map[string]int) {
	n, kinds := 0, map[string]int{}
	for _, c := range cs {
		m, k := c.Failures()
		n += m
		for w, v := range k {
			kinds[w] += v
		}
	}
	return n, kinds
}

func csStalls(cs ...*labtest.LongConns) labtest.StallFigures {
	all := &labtest.LongConns{}
	for _, c := range cs {
		all.Conns = append(all.Conns, c.Conns...)
	}
	return all.Stalls()
}

// TestVMConnSync: with lvs_sync_daemon, lvsd keeps every connection
// through a director failover and the failback that follows, and
// persistent clients stay on their real server; keepalived 2.2.7 in the
// same boot is the reference (it keeps them through the failover only).
func TestVMConnSync(t *testing.T) {
	labtest.RequireVM(t)
	labtest.NeedBinary(t, "ipvsadm")
	labtest.NeedBinary(t, "keepalived")
	var rows []string
	t.Run("keepalived", func(t *testing.T) {
		fo, fb := csRun(t, "keepalived", false, *connSyncConns, *connSyncPersistent)
		rows = append(rows, fo.String(), fb.String())
		// The lab's sanity check: keepalived's sync daemons keep the
		// connections through a failover.
		if fo.failed > (*connSyncConns+*connSyncPersistent)/20 {
			t.Errorf("keepalived lost %d connections on failover: the lab is broken", fo.failed)
		}
	})
	lvsdHitless := func(t *testing.T, fo, fb csEvent) {
		for _, e := range []csEvent{fo, fb} {
			if e.failed != 0 {
				t.Errorf("%s: %d connections reset or stalled over %s (%v)", e.name, e.failed, csDeadline, e.kinds)
			}
			if e.moved != 0 {
				t.Errorf("%s: %d of %d persistent clients reached another real server", e.name, e.moved, e.sticky)
			}
		}
	}
	t.Run("lvsd", func(t *testing.T) {
		fo, fb := csRun(t, "lvsd", false, *connSyncConns, *connSyncPersistent)
		rows = append(rows, fo.String(), fb.String())
		lvsdHitless(t, fo, fb)
	})
	// NAT, smaller: the real servers route through a gateway address that
	// moves with the virtual address (docs/operations.md).
	t.Run("lvsd-NAT", func(t *testing.T) {
		fo, fb := csRun(t, "lvsd", true, 200, 40)
		fo.name, fb.name = "NAT "+fo.name, "NAT "+fb.name
		rows = append(rows, fo.String(), fb.String())
		lvsdHitless(t, fo, fb)
	})
	for _, r := range rows {
		t.Log("RESULT " + r)
	}
}
