package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// The VRRP lab: a bridge in its own namespace and one namespace per host
// (directors and a client) hanging off it by veth. Nothing touches the
// machine's own interfaces.

const labVIP = "10.9.0.100"

type vrrpLab struct {
	t      testing.TB
	prefix string
	hosts  map[string]int // name -> last octet
	dir    string
}

var labSeq struct {
	sync.Mutex
	n int
}

func newVRRPLab(t testing.TB, hosts ...string) *vrrpLab {
	t.Helper()
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "ip")
	labSeq.Lock()
	labSeq.n++
	l := &vrrpLab{t: t, prefix: fmt.Sprintf("lv%d%c", os.Getpid()%10000, 'a'+rune(labSeq.n%26)), hosts: map[string]int{}, dir: t.TempDir()}
	labSeq.Unlock()
	t.Cleanup(l.destroy)
	l.sh("ip netns add %s", l.ns("br"))
	l.sh("ip -n %s link add br0 type bridge && ip -n %s link set br0 up", l.ns("br"), l.ns("br"))
	for i, h := range hosts {
		octet := i + 1
		l.hosts[h] = octet
		ns := l.ns(h)
		l.sh("ip netns add %s", ns)
		// Link-local addresses at once, for VRRP over IPv6.
		l.sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0", ns)
		l.sh("ip -n %s link add eth0 type veth peer name p%s netns %s", ns, h, l.ns("br"))
		l.sh("ip -n %s link set p%s master br0 up", l.ns("br"), h)
		l.sh("ip -n %s addr add 10.9.0.%d/24 dev eth0 && ip -n %s link set eth0 up && ip -n %s link set lo up", ns, octet, ns, ns)
	}
	return l
}

func (l *vrrpLab) ns(h string) string { return l.prefix + h }

func (l *vrrpLab) sh(format string, args ...any) string {
	l.t.Helper()
	cmd := fmt.Sprintf(format, args...)
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func (l *vrrpLab) destroy() {
	for h := range l.hosts {
		_ = exec.Command("sh", "-c", fmt.Sprintf("ip netns pids %s | xargs -r kill -9; ip netns del %s", l.ns(h), l.ns(h))).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.ns("br")).Run()
}

func (l *vrrpLab) mac(h string) string {
	return strings.TrimSpace(l.sh("ip netns exec %s cat /sys/class/net/eth0/address", l.ns(h)))
}

func (l *vrrpLab) hasVIP(h string) bool { return l.hasAddr(h, labVIP) }

func (l *vrrpLab) hasAddr(h, addr string) bool {
	out, err := exec.Command("ip", "-n", l.ns(h), "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// masters lists the hosts holding the VIP.
func (l *vrrpLab) masters(hosts ...string) []string {
	var m []string
	for _, h := range hosts {
		if l.hasVIP(h) {
			m = append(m, h)
		}
	}
	return m
}

// waitFor polls cond every 10 ms and returns how long it took to hold.
func (l *vrrpLab) waitFor(what string, limit time.Duration, cond func() bool) time.Duration {
	l.t.Helper()
	return labtest.WaitFor(l.t, what, limit, cond)
}

// holds checks cond stays true for d.
func (l *vrrpLab) holds(what string, d time.Duration, cond func() bool) {
	l.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !cond() {
			l.t.Fatalf("%s: broke within %s", what, d)
		}
	}
}

// vrrpConf is the pair's keepalived.conf; both daemons read the same file.
type vrrpConf struct {
	priority  int
	nopreempt bool
	auth      bool
	version   int
	interval  string
	extra     string // more lines inside vrrp_instance
	global    string // blocks before the instance (vrrp_script...)
	ipv6      bool   // VIP labVIP6 (VRRPv3 over IPv6)
	raw       string // the whole file instead (the fields above unused)
}

const labVIP6 = "fd00:9::100"

func (c vrrpConf) render() string {
	if c.raw != "" {
		return c.raw
	}
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id lab\n}\n" + c.global + "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n")
	fmt.Fprintf(&b, "  priority %d\n", c.priority)
	if c.interval == "" {
		c.interval = "1"
	}
	fmt.Fprintf(&b, "  advert_int %s\n", c.interval)
	if c.version == 3 {
		b.WriteString("  version 3\n")
	}
	if c.nopreempt {
		b.WriteString("  nopreempt\n")
	}
	b.WriteString(c.extra)
	if c.auth {
		b.WriteString("  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }\n")
	}
	vip := labVIP + "/24"
	if c.ipv6 {
		vip = labVIP6 + "/64"
	}
	b.WriteString("  virtual_ipaddress {\n    " + vip + "\n  }\n}\n")
	return b.String()
}

type daemonProc struct {
	kind string
	host string
	conf string
	cmd  *exec.Cmd
	log  *syncBuffer
	// dumpDir is where the daemon writes keepalived's dumps: lvsd's
	// state directory, keepalived's TMPDIR.
	dumpDir string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs lvsd (this test binary as the CLI) or keepalived in host's
// namespace with the configuration.
func (l *vrrpLab) start(kind, host string, c vrrpConf) *daemonProc {
	l.t.Helper()
	dir := filepath.Join(l.dir, fmt.Sprintf("%s-%s-%d", host, kind, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(c.render()), 0o644); err != nil {
		l.t.Fatal(err)
	}
	var args []string
	dumpDir := dir
	switch kind {
	case "lvsd":
		self, _ := os.Executable()
		// A unix socket path must stay under 108 bytes: the state
		// directory (and its control socket) gets a short one.
		state, err := os.MkdirTemp("", "lvsd")
		if err != nil {
			l.t.Fatal(err)
		}
		l.t.Cleanup(func() { os.RemoveAll(state) })
		args = []string{self, "run", "-P", "-f", conf, "--state-dir", state, "--debug"}
		dumpDir = state
	case "keepalived":
		labtest.NeedBinary(l.t, "keepalived")
		args = []string{"keepalived", "-n", "-l", "-D", "-P", "-f", conf, "-p", dir + "/k.pid", "-r", dir + "/v.pid", "-c", dir + "/c.pid", "-b", dir + "/b.pid"}
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(host)}, args...)...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1", "TMPDIR="+dir)
	p := &daemonProc{kind: kind, host: host, conf: conf, cmd: cmd, log: &syncBuffer{}, dumpDir: dumpDir}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if l.t.Failed() {
			l.t.Logf("--- %s on %s ---\n%s", kind, host, p.log.String())
		}
	})
	return p
}

func (p *daemonProc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s on %s did not exit within 5 s of %s", p.kind, p.host, sig)
	}
}

// Master-down intervals and skews (advert_int 1, VRRPv2).
func masterDown(prio int) time.Duration { return 3*time.Second + skew(prio) }
func skew(prio int) time.Duration       { return time.Duration(256-prio) * time.Second / 256 }

func TestVRRPLvsdPair(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2")
	d1 := l.start("lvsd", "d1", vrrpConf{priority: 100, auth: true})
	d2 := l.start("lvsd", "d2", vrrpConf{priority: 90, auth: true})

	took := l.waitFor("d1 becomes master", masterDown(100)+time.Second, func() bool { return l.hasVIP("d1") })
	t.Logf("start: d1 master after %s (master-down %s)", took.Round(time.Millisecond), masterDown(100))
	l.holds("exactly one master", 2*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })

	// SIGTERM: priority 0 advert, the backup takes over after its skew.
	d1.signal(t, syscall.SIGTERM)
	took = l.waitFor("d2 takes over after SIGTERM", masterDown(90), func() bool { return l.hasVIP("d2") })
	t.Logf("SIGTERM: d2 has the VIP after %s (skew %s)", took.Round(time.Millisecond), skew(90))
	if took > skew(90)+300*time.Millisecond {
		t.Errorf("SIGTERM takeover took %s, want about the skew %s", took, skew(90))
	}
	if l.hasVIP("d1") {
		t.Error("d1 kept the VIP after SIGTERM")
	}

	// The higher priority comes back and preempts.
	d1 = l.start("lvsd", "d1", vrrpConf{priority: 100, auth: true})
	took = l.waitFor("d1 preempts", masterDown(100)+time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
	t.Logf("preempt: d1 master again after %s", took.Round(time.Millisecond))

	// SIGKILL: no goodbye, the backup waits the master-down interval.
	_ = d1.cmd.Process.Kill()
	killed := time.Now()
	_ = d1.cmd.Wait()
	took = l.waitFor("d2 takes over after SIGKILL", masterDown(90)+time.Second, func() bool { return l.hasVIP("d2") })
	took = time.Since(killed)
	t.Logf("SIGKILL: d2 has the VIP after %s (master-down %s)", took.Round(time.Millisecond), masterDown(90))
	if took < masterDown(90)-time.Second || took > masterDown(90)+500*time.Millisecond {
		t.Errorf("SIGKILL takeover took %s, want about %s", took, masterDown(90))
	}
	// The dead master's VIP is still configured (nobody removed it); a
	// restarted lvsd removes its stale VIPs first.
	d1 = l.start("lvsd", "d1", vrrpConf{priority: 100, auth: true, nopreempt: true})
	l.waitFor("restarted d1 removes its stale VIP", 2*time.Second, func() bool { return !l.hasVIP("d1") })
	// nopreempt: the higher priority stays backup.
	l.holds("nopreempt holds d1 in backup", masterDown(100)+2*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d2" })
	d1.signal(t, syscall.SIGTERM)
	d2.signal(t, syscall.SIGTERM)
	if l.hasVIP("d2") {
		t.Error("d2 kept the VIP after SIGTERM")
	}
}

func TestVRRPLinkDownAndPartition(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2", "cl")
	d1 := l.start("lvsd", "d1", vrrpConf{priority: 100})
	l.start("lvsd", "d2", vrrpConf{priority: 90})
	l.waitFor("d1 becomes master", masterDown(100)+time.Second, func() bool { return l.hasVIP("d1") })

	// Link down on the master: FAULT, VIP removed, the backup takes over.
	l.sh("ip -n %s link set eth0 down", l.ns("d1"))
	took := l.waitFor("d2 takes over from a faulted d1", masterDown(90)+2*time.Second, func() bool { return l.hasVIP("d2") })
	t.Logf("link down: d2 master after %s", took.Round(time.Millisecond))
	l.waitFor("d1 logs FAULT", 2*time.Second, func() bool { return strings.Contains(d1.log.String(), "state=FAULT") })
	if l.hasVIP("d1") {
		t.Error("faulted d1 kept the VIP")
	}
	l.sh("ip -n %s link set eth0 up", l.ns("d1"))
	l.waitFor("d1 back and preempting", masterDown(100)+3*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })

	// Partition: d1's bridge port leaves the bridge (its link stays up).
	l.sh("ip -n %s link set pd1 nomaster", l.ns("br"))
	l.waitFor("both masters while partitioned", masterDown(90)+time.Second, func() bool { return l.hasVIP("d1") && l.hasVIP("d2") })
	// Watch the client's ARP view of the VIP across the heal.
	cap := startCapture(t, l, "cl", "arp")
	l.sh("ip -n %s link set pd1 master br0", l.ns("br"))
	healed := time.Now()
	took = l.waitFor("one master after the heal", 3*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
	t.Logf("partition healed: one master after %s", took.Round(time.Millisecond))
	// d1 answers d2's yielding advert (higher_prio_send_advert) with
	// GARPs at once; the margin is for a loaded machine, and lvsd's log
	// says whether d1 heard a lower priority ("vrrp advert with lower
	// priority") if none came.
	time.Sleep(2 * time.Second)
	frames := cap.stop()
	garps := 0
	for _, f := range frames {
		if a, ok := parseARP(f.data); ok && a.senderIP == labVIP && a.targetIP == labVIP && a.senderMAC == l.mac("d1") && f.at.After(healed) {
			garps++
		}
	}
	if garps == 0 {
		t.Errorf("no gratuitous ARP from the surviving master d1 after the heal (%d frames captured)", len(frames))
	}
	t.Logf("after the heal the client saw %d GARPs for %s from d1", garps, labVIP)
}

func TestVRRPClientARPCacheFollowsTakeover(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2", "cl")
	d1 := l.start("lvsd", "d1", vrrpConf{priority: 100})
	l.start("lvsd", "d2", vrrpConf{priority: 90})
	l.waitFor("d1 becomes master", masterDown(100)+time.Second, func() bool { return l.hasVIP("d1") })
	touch := func() {
		// A TCP connect (refused is fine) makes the client resolve the VIP.
		_ = exec.Command("ip", "netns", "exec", l.ns("cl"), "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+labVIP+"/9").Run()
	}
	touch()
	neigh := func() string { return l.sh("ip -n %s neigh show %s", l.ns("cl"), labVIP) }
	if !strings.Contains(neigh(), l.mac("d1")) {
		t.Fatalf("client's neighbour entry %q is not d1's MAC %s", neigh(), l.mac("d1"))
	}
	_ = d1.cmd.Process.Kill()
	_ = d1.cmd.Wait()
	took := l.waitFor("client's ARP cache points at d2 without asking", masterDown(90)+2*time.Second, func() bool { return strings.Contains(neigh(), l.mac("d2")) })
	t.Logf("client's ARP entry for the VIP moved to d2's MAC %s %s after SIGKILL of d1", l.mac("d2"), took.Round(time.Millisecond))
}

// TestVRRPInteropWithKeepalived runs lvsd and keepalived 2.2.7 as the two
// directors of one VRRP group, each way round, with and without PASS auth.
func TestVRRPInteropWithKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	for _, auth := range []bool{true, false} {
		for _, kinds := range [][2]string{{"lvsd", "keepalived"}, {"keepalived", "lvsd"}} {
			name := fmt.Sprintf("%s-master_%s-backup_auth-%v", kinds[0], kinds[1], auth)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				l := newVRRPLab(t, "d1", "d2")
				d2 := l.start(kinds[1], "d2", vrrpConf{priority: 90, auth: auth})
				d1 := l.start(kinds[0], "d1", vrrpConf{priority: 100, auth: auth})
				l.waitFor("higher priority becomes master", masterDown(90)+2*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
				l.holds("exactly one master", 2*time.Second, func() bool { m := l.masters("d1", "d2"); return len(m) == 1 && m[0] == "d1" })
				d1.signal(t, syscall.SIGTERM)
				took := l.waitFor("backup takes over after SIGTERM", masterDown(90), func() bool { return l.hasVIP("d2") })
				if took > skew(90)+500*time.Millisecond {
					t.Errorf("takeover after SIGTERM took %s, want about %s", took, skew(90))
				}
				d1 = l.start(kinds[0], "d1", vrrpConf{priority: 100, auth: auth})
				took = l.waitFor("higher priority preempts", masterDown(100)+2*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
				t.Logf("SIGTERM takeover and preemption back after %s", took.Round(time.Millisecond))
				d1.signal(t, syscall.SIGTERM)
				d2.signal(t, syscall.SIGTERM)
				if strings.Contains(d2.log.String()+d1.log.String(), "dropped") && kinds[0] == "lvsd" {
					t.Logf("lvsd logged drops:\n%s", d1.log.String())
				}
			})
		}
	}
	t.Run("auth mismatch splits the group", func(t *testing.T) {
		t.Parallel()
		l := newVRRPLab(t, "d1", "d2")
		l.start("keepalived", "d2", vrrpConf{priority: 90, auth: false})
		d1 := l.start("lvsd", "d1", vrrpConf{priority: 100, auth: true})
		l.waitFor("both become master", masterDown(90)+2*time.Second, func() bool { return l.hasVIP("d1") && l.hasVIP("d2") })
		l.waitFor("lvsd logs the auth drop", 3*time.Second, func() bool { return strings.Contains(d1.log.String(), "auth_type_mismatch") })
	})
}

// TestVRRPReloadKeepsState: a SIGHUP that changes the master's VRRP
// section (priority, GARP refresh) keeps the instance MASTER without a
// transition; the VIP never leaves and the backup never takes it.
func TestVRRPReloadKeepsState(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2")
	d1 := l.start("lvsd", "d1", vrrpConf{priority: 100, auth: true})
	l.start("lvsd", "d2", vrrpConf{priority: 90, auth: true})
	l.waitFor("d1 becomes master", masterDown(100)+time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
	changed := vrrpConf{priority: 110, auth: true, extra: "  garp_master_refresh 30\n"}
	if err := os.WriteFile(d1.conf, []byte(changed.render()), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = d1.cmd.Process.Signal(syscall.SIGHUP)
	l.waitFor("reload logged", 3*time.Second, func() bool { return strings.Contains(d1.log.String(), "kept across reload") })
	l.holds("d1 keeps the VIP through the reload, d2 never takes it", masterDown(90)+time.Second, func() bool {
		m := l.masters("d1", "d2")
		return len(m) == 1 && m[0] == "d1"
	})
	logText := d1.log.String()
	after := logText[strings.Index(logText, "kept across reload"):]
	if strings.Contains(after, "state=BACKUP") || strings.Contains(after, "state=STOP") {
		t.Errorf("the instance changed state across the reload:\n%s", after)
	}
	// A reload that drops the instance lets it go with priority 0
	// (clear_diff_vrrp; reported FAULT, TestReloadRemovedInstanceMatchesKeepalived).
	if err := os.WriteFile(d1.conf, []byte("global_defs {\n  router_id lab\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = d1.cmd.Process.Signal(syscall.SIGHUP)
	took := l.waitFor("d2 takes over when d1's instance is removed by reload", masterDown(90), func() bool { return l.hasVIP("d2") && !l.hasVIP("d1") })
	t.Logf("instance removed by reload: d2 master after %s (priority 0 advert, skew %s)", took.Round(time.Millisecond), skew(90))
}

// TestVRRPIPv6InteropWithKeepalived: VRRPv3 over IPv6 between lvsd and
// keepalived, and the unsolicited neighbour advertisement of a takeover.
func TestVRRPIPv6InteropWithKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	for _, kinds := range [][2]string{{"lvsd", "keepalived"}, {"keepalived", "lvsd"}} {
		t.Run(kinds[0]+"-master_"+kinds[1]+"-backup", func(t *testing.T) {
			l := newVRRPLab(t, "d1", "d2", "cl")
			has := func(h string) bool { return l.hasAddr(h, labVIP6) }
			d2 := l.start(kinds[1], "d2", vrrpConf{priority: 90, version: 3, ipv6: true})
			d1 := l.start(kinds[0], "d1", vrrpConf{priority: 100, version: 3, ipv6: true})
			l.waitFor("higher priority master over IPv6", masterDown(90)+2*time.Second, func() bool { return has("d1") && !has("d2") })
			l.holds("exactly one master", 2*time.Second, func() bool { return has("d1") && !has("d2") })
			capt := startCapture(t, l, "cl", "icmp6")
			d1.signal(t, syscall.SIGTERM)
			took := l.waitFor("backup takes over after SIGTERM", masterDown(90), func() bool { return has("d2") })
			t.Logf("IPv6: %s backup took over %s after SIGTERM of the %s master", kinds[1], took.Round(time.Millisecond), kinds[0])
			if took > skew(90)+500*time.Millisecond {
				t.Errorf("takeover took %s, want about %s", took, skew(90))
			}
			time.Sleep(300 * time.Millisecond)
			na := 0
			target := net.ParseIP(labVIP6)
			for _, f := range capt.stop() {
				// Ethernet + IPv6 (40) + ICMPv6 type 136, target at offset 8.
				if len(f.data) >= 14+40+24 && f.data[12] == 0x86 && f.data[13] == 0xdd && f.data[14+6] == 58 && f.data[14+40] == 136 &&
					net.IP(f.data[14+40+8:14+40+24]).Equal(target) && net.HardwareAddr(f.data[6:12]).String() == l.mac("d2") {
					na++
				}
			}
			if na == 0 {
				t.Errorf("no unsolicited neighbour advertisement for %s from the new master", labVIP6)
			}
			d2.signal(t, syscall.SIGTERM)
		})
	}
}

// TestVRRPTrackScriptAndNotify: a vrrp_script with a negative weight lowers
// the master below its backup, which preempts; notify scripts run (without
// a shell of lvsd's, as argv) with keepalived's arguments.
func TestVRRPTrackScriptAndNotify(t *testing.T) {
	l := newVRRPLab(t, "d1", "d2")
	dir := t.TempDir()
	flag := filepath.Join(dir, "maintenance")
	notes := filepath.Join(dir, "notify.log")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+notes+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	global := "vrrp_script chk_maint {\n  script \"/usr/bin/test ! -e " + flag + "\"\n  interval 0.2\n  weight -20\n  fall 1\n  rise 1\n}\n"
	extra := "  track_script {\n    chk_maint\n  }\n  notify " + script + "\n"
	l.start("lvsd", "d1", vrrpConf{priority: 100, extra: extra, global: global})
	l.start("lvsd", "d2", vrrpConf{priority: 90})
	l.waitFor("d1 master", masterDown(100)+2*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
	l.waitFor("notify ran for MASTER", 3*time.Second, func() bool {
		b, _ := os.ReadFile(notes)
		return strings.Contains(string(b), "INSTANCE VI_1 MASTER 100")
	})
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	took := l.waitFor("d2 preempts once d1's priority drops to 80", masterDown(90)+2*time.Second, func() bool { return l.hasVIP("d2") && !l.hasVIP("d1") })
	t.Logf("track_script weight -20: d2 took over %s after the check started failing", took.Round(time.Millisecond))
	l.waitFor("notify ran for BACKUP with the lowered priority", 3*time.Second, func() bool {
		b, _ := os.ReadFile(notes)
		return strings.Contains(string(b), "INSTANCE VI_1 BACKUP 80")
	})
	os.Remove(flag)
	l.waitFor("d1 back on top when the script passes again", masterDown(100)+3*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
	b, _ := os.ReadFile(notes)
	t.Logf("notify calls:\n%s", b)
}
