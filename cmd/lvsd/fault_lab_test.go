package main

// The fault-injection suite of issue 12 ("no split brain, no crash"). Each
// case builds its own VRRP lab (vrrp_lab_test.go: a bridge namespace and one
// namespace per host), starts lvsd (this test binary as the CLI) and injects
// one fault while a sampler looks every 100 ms at which directors hold the
// VIP and whether every daemon is alive. The invariant: never two holders
// for longer than one advert interval, never zero holders (after the first
// election) for longer than the master-down interval, no daemon dead unless
// the case stops it. Each case logs its figures in one "fault NAME: ..."
// line.
//
//	go test -count=1 -run TestFault -v ./cmd/lvsd
//
// The cases run side by side, each in its own lab: about 40 s in all on
// code that passes, 75 s where the reload bomb is not rejected (it is
// given 25 s per bomb). Needs root, ip, prlimit and taskset; keepalived
// for the variant of case a that uses it as the backup.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/daemon"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/vrrp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	faultAdvert = time.Second            // advert_int of every case
	faultSample = 100 * time.Millisecond // the sampler's period
	faultSlack  = 200 * time.Millisecond // sampling slack on each limit
)

// TestFault runs every case at once, each in its own lab: t.Run from
// goroutines (not t.Parallel) so that -test.parallel (GOMAXPROCS, 2 here)
// does not serialise labs that mostly wait.
func TestFault(t *testing.T) {
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "ip")
	cases := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"reload-during-notify", func(t *testing.T) { faultReloadDuringNotify(t, "lvsd") }},
		{"reload-during-notify-keepalived-backup", func(t *testing.T) { faultReloadDuringNotify(t, "keepalived") }},
		{"sigterm-during-script", faultSigtermDuringScript},
		{"iface-recreate", faultIfaceRecreate},
		{"reload-bomb", faultReloadBomb},
		{"hup-storm", faultHUPStorm},
		{"advert-flood", faultAdvertFlood},
		{"metrics-flood", faultMetricsFlood},
		{"world-writable-script", faultWorldWritableScript},
		{"symlinked-pid-file", faultSymlinkedPIDFile},
		{"stale-garp", faultStaleGARP},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() { defer wg.Done(); t.Run(c.name, c.fn) }()
	}
	wg.Wait()
}

// ---------------------------------------------------------------------------
// Daemons: a thin wrapper over vrrpLab.start's way of running lvsd and
// keepalived, with a command prefix (prlimit, taskset), extra arguments, the
// startFaultPair starts d2 (the backup, of kind backupKind) and then d1, an
// lvsd VRRP-only master, under a holder sampler, and returns once d1 alone
// holds the VIP (armed: when it did).
func startFaultPair(t *testing.T, l *vrrpLab, name, d1Conf, backupKind, d2Conf string, d2Opts faultOpts) (s *holderSampler, d1, d2 *faultDaemon, armed time.Time) {
	t.Helper()
	s = newHolderSampler(t, l, "d1", "d2")
	d2 = startFaultDaemon(t, l, backupKind, "d2", d2Conf, d2Opts)
	d1 = startFaultDaemon(t, l, "lvsd", "d1", d1Conf, faultOpts{args: []string{"-P"}})
	s.watch("d1", d1)
	s.watch("d2", d2)
	limit := masterDown(100) + 3*time.Second
	if armed = s.waitSole("d1", limit); armed.IsZero() {
		t.Fatalf("%s: d1 is not the only holder after %s: %v", name, limit, s.current())
	}
	return s, d1, d2, armed
}

// control socket's directory and one waiter that records the exit.

type faultDaemon struct {
	*daemonProc
	state  string // lvsd's --state-dir: the control socket is state/lvsd.sock
	exited chan struct{}
	exitAt atomic.Pointer[time.Time]
	// ending: the test's clean-up kills it; the sampler ignores that.
	ending atomic.Bool
}

type faultOpts struct {
	wrap []string // command prefix inside the namespace (prlimit, taskset)
	args []string // more `lvsd run` arguments
}

func startFaultDaemon(t *testing.T, l *vrrpLab, kind, host, conf string, o faultOpts) *faultDaemon {
	t.Helper()
	dir := filepath.Join(l.dir, fmt.Sprintf("%s-%s-%d", host, kind, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &faultDaemon{exited: make(chan struct{})}
	var args []string
	switch kind {
	case "lvsd":
		self, _ := os.Executable()
		state, err := os.MkdirTemp("", "lvsd") // a unix socket path stays under 108 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(state) })
		d.state = state
		args = append([]string{self, "run", "-f", confPath, "--state-dir", state, "--debug"}, o.args...)
	case "keepalived":
		labtest.NeedBinary(t, "keepalived")
		args = []string{"keepalived", "-n", "-l", "-D", "-P", "-f", confPath, "-p", dir + "/k.pid", "-r", dir + "/v.pid", "-c", dir + "/c.pid", "-b", dir + "/b.pid"}
	default:
		t.Fatalf("unknown daemon kind %q", kind)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(host)}, append(slices.Clone(o.wrap), args...)...)...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	d.daemonProc = &daemonProc{kind: kind, host: host, conf: confPath, cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		now := time.Now()
		d.exitAt.Store(&now)
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.ending.Store(true)
		_ = cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("--- %s on %s (last 6000 bytes of its log) ---\n%s", kind, host, faultTail(d.log.String(), 6000))
		}
	})
	return d
}

func faultTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func (d *faultDaemon) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// signalWait sends sig and waits up to limit for the exit; it returns how
// long the exit took (or limit) and whether it happened.
func (d *faultDaemon) signalWait(sig syscall.Signal, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
		return d.exitAt.Load().Sub(start), true
	case <-time.After(limit):
		return limit, false
	}
}

// writeConf replaces the daemon's configuration file (for a SIGHUP) at
// once, by rename: a SIGHUP still being handled must never read a
// truncated, half-written file (an empty one is a valid configuration
// without instances).
func (d *faultDaemon) writeConf(t *testing.T, conf string) {
	t.Helper()
	tmp := d.conf + ".new"
	if err := os.WriteFile(tmp, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, d.conf); err != nil {
		t.Fatal(err)
	}
}

// status asks `lvsd status --json` over the control socket, killed after
// limit; it returns the document and how long the answer took.
func (d *faultDaemon) status(limit time.Duration) (daemon.StatusDoc, time.Duration, error) {
	var doc daemon.StatusDoc
	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, self, "status", "--json", "--socket", filepath.Join(d.state, "lvsd.sock"))
	c.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	start := time.Now()
	out, err := c.Output()
	took := time.Since(start)
	if ctx.Err() != nil {
		return doc, took, fmt.Errorf("no answer within %s", limit)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return doc, took, err
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return doc, took, fmt.Errorf("status JSON: %v", err)
	}
	return doc, took, nil
}

// waitLog waits up to limit for the log to contain sub (or the daemon to
// exit); it returns how long that took and whether sub appeared.
func (d *faultDaemon) waitLog(sub string, limit time.Duration) (time.Duration, bool) {
	took, ok := labtest.Poll(limit, 20*time.Millisecond, func() bool { return strings.Contains(d.log.String(), sub) || !d.alive() })
	return took, ok && strings.Contains(d.log.String(), sub)
}

// waitRejected waits up to limit for a rejected reload: lvsd's log line,
// or a failed reload counted in its status; false if the daemon exits.
func (d *faultDaemon) waitRejected(limit time.Duration) (time.Duration, bool) {
	rejected := false
	start, lastStatus := time.Now(), time.Now()
	labtest.Poll(limit, 20*time.Millisecond, func() bool {
		if strings.Contains(d.log.String(), "reload rejected") {
			rejected = true
		} else if time.Since(lastStatus) > 250*time.Millisecond {
			lastStatus = time.Now()
			doc, _, err := d.status(time.Second)
			rejected = err == nil && (doc.ReloadsFailed > 0 || doc.LastReloadErr != "")
		}
		return rejected || !d.alive()
	})
	return time.Since(start), rejected && d.alive()
}

// countLog counts log lines that match re.
func (d *faultDaemon) countLog(re *regexp.Regexp) int {
	return len(re.FindAllStringIndex(d.log.String(), -1))
}

// faultGlobals adds lines to the global_defs block of a rendered vrrpConf.
func faultGlobals(conf, lines string) string {
	return strings.Replace(conf, "  router_id lab\n", "  router_id lab\n"+lines, 1)
}

// faultScript writes an executable shell script.
func faultScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// faultSleepScript is a notify script that records its pid and its
// child's and sleeps secs. The child (in the script's process group)
// sleeps twice as long: left behind by a stop that kills the script alone,
// or that waits for it, it shows.
func faultSleepScript(t *testing.T, dir string, secs int) (script, pids string) {
	pids = filepath.Join(dir, "script.pids")
	script = faultScript(t, filepath.Join(dir, "sleep.sh"), fmt.Sprintf("echo $$ >> %s\nsleep %d &\necho $! >> %s\nsleep %d\n", pids, 2*secs, pids, secs))
	return script, pids
}

// faultLivePids returns the pids listed in file that still run.
func faultLivePids(file string) []int {
	b, _ := os.ReadFile(file)
	var live []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err == nil && faultPidAlive(pid) {
			live = append(live, pid)
		}
	}
	return live
}

func faultPidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// Namespaces from inside this process: labtest.InNetns (sockets opened on
// an OS thread switched into a lab namespace stay in it).

// ---------------------------------------------------------------------------
// The sampler.

type holderSample struct {
	at      time.Time
	holders []string
}

type holderSampler struct {
	l       *vrrpLab
	hosts   []string
	handles map[string]*netlink.Handle
	vip     net.IP

	mu      sync.Mutex
	samples []holderSample
	procs   map[string]*faultDaemon
	expect  map[*faultDaemon]bool
	deaths  []faultDeath
	stopped chan struct{}
	done    chan struct{}
}

type faultDeath struct {
	host     string
	at       time.Time
	reported bool
}

// newHolderSampler samples every 100 ms which of hosts hold the VIP (one
// rtnetlink socket per namespace) and whether each watched daemon lives.
func newHolderSampler(t *testing.T, l *vrrpLab, hosts ...string) *holderSampler {
	t.Helper()
	s := &holderSampler{l: l, hosts: hosts, handles: map[string]*netlink.Handle{}, vip: net.ParseIP(labVIP),
		procs: map[string]*faultDaemon{}, expect: map[*faultDaemon]bool{}, stopped: make(chan struct{}), done: make(chan struct{})}
	for _, h := range hosts {
		err := labtest.InNetns(l.ns(h), func() error {
			hd, err := netlink.NewHandle(unix.NETLINK_ROUTE)
			s.handles[h] = hd
			return err
		})
		if err != nil {
			t.Fatalf("netlink in %s: %v", l.ns(h), err)
		}
	}
	go s.run()
	start := time.Now()
	t.Cleanup(func() {
		s.stop()
		// A death outside every checked window (during a flood, say).
		for _, d := range s.deaths {
			if !d.reported {
				t.Errorf("%s: lvsd died %d ms into the case", d.host, d.at.Sub(start).Milliseconds())
			}
		}
	})
	return s
}

func (s *holderSampler) run() {
	defer close(s.done)
	tick := time.NewTicker(faultSample)
	defer tick.Stop()
	for {
		var hs []string
		for _, h := range s.hosts {
			addrs, err := s.handles[h].AddrList(nil, netlink.FAMILY_V4)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if a.IP.Equal(s.vip) {
					hs = append(hs, h)
					break
				}
			}
		}
		now := time.Now()
		s.mu.Lock()
		s.samples = append(s.samples, holderSample{at: now, holders: hs})
		for h, p := range s.procs {
			if !p.alive() && !s.expect[p] && !p.ending.Load() {
				s.deaths = append(s.deaths, faultDeath{host: h, at: *p.exitAt.Load()})
				delete(s.procs, h)
			}
		}
		s.mu.Unlock()
		select {
		case <-s.stopped:
			return
		case <-tick.C:
		}
	}
}

func (s *holderSampler) stop() {
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	<-s.done
	for _, h := range s.handles {
		h.Close()
	}
}

// watch checks that p stays alive from now on (it replaces an earlier
// daemon on host).
func (s *holderSampler) watch(host string, p *faultDaemon) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[host] = p
}

// expectExit: the case stops p on purpose.
func (s *holderSampler) expectExit(p *faultDaemon) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expect[p] = true
}

func (s *holderSampler) snapshot() []holderSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// current is the last sample's holders.
func (s *holderSampler) current() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return nil
	}
	return s.samples[len(s.samples)-1].holders
}

// waitSole waits until host is the only holder, for up to limit; it
// returns when the first sample saw it, or the zero time.
func (s *holderSampler) waitSole(host string, limit time.Duration) time.Time {
	return s.waitSoleSince(host, time.Now(), limit)
}

// waitSoleSince is waitSole counting from an earlier moment: the first
// sample at or after from, and no later than from+limit, in which host is
// the only holder.
func (s *holderSampler) waitSoleSince(host string, from time.Time, limit time.Duration) time.Time {
	for {
		at := s.firstAfter(from, func(h []string) bool { return len(h) == 1 && h[0] == host })
		if !at.IsZero() && at.Sub(from) <= limit {
			return at
		}
		if !at.IsZero() || time.Now().After(from.Add(limit+faultSample)) {
			return time.Time{}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// firstAfter is the time of the first sample at or after from whose
// holders satisfy cond, or the zero time.
func (s *holderSampler) firstAfter(from time.Time, cond func([]string) bool) time.Time {
	for _, x := range s.snapshot() {
		if !x.at.Before(from) && cond(x.holders) {
			return x.at
		}
	}
	return time.Time{}
}

// longest is the longest run of samples in [from, to] whose holders
// satisfy cond, from the first sample that saw it to the first that did
// not (or to the last sample of the window): ±100 ms. A run under way at
// from counts from from.
func (s *holderSampler) longest(from, to time.Time, cond func([]string) bool) (longest time.Duration, at time.Time) {
	var start time.Time
	var last time.Time
	for _, x := range s.snapshot() {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		last = x.at
		switch {
		case cond(x.holders) && start.IsZero():
			start = x.at
		case !cond(x.holders) && !start.IsZero():
			if d := x.at.Sub(start); d > longest {
				longest, at = d, start
			}
			start = time.Time{}
		}
	}
	if !start.IsZero() {
		if d := last.Sub(start); d > longest {
			longest, at = d, start
		}
	}
	return longest, at
}

// timeline lists the holder changes in [from, to] as "+MS [hosts]".
func (s *holderSampler) timeline(from, to time.Time) string {
	var b strings.Builder
	prev := "-"
	for _, x := range s.snapshot() {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		if cur := fmt.Sprint(x.holders); cur != prev {
			fmt.Fprintf(&b, " +%d%s", x.at.Sub(from).Milliseconds(), cur)
			prev = cur
		}
	}
	return strings.TrimSpace(b.String())
}

func faultTwo(h []string) bool  { return len(h) >= 2 }
func faultZero(h []string) bool { return len(h) == 0 }

// invariantLimits: two holders for at most one advert interval, zero for
// at most the master-down interval of the backup that must take over,
// each with the sampling slack.
type invariantLimits struct{ two, zero time.Duration }

func faultLimits(backupPrio int) invariantLimits {
	return invariantLimits{two: faultAdvert + faultSlack, zero: masterDown(backupPrio) + faultSlack}
}

// faultFigures are one window's measurements.
type faultFigures struct {
	two, zero time.Duration
	deaths    []string
}

func (f faultFigures) String() string {
	s := fmt.Sprintf("max two-holders %d ms, max zero-holders %d ms", f.two.Milliseconds(), f.zero.Milliseconds())
	if len(f.deaths) > 0 {
		s += ", died: " + strings.Join(f.deaths, " ")
	}
	return s
}

// check measures [from, to] and fails the test where the invariant broke
// (with the holders' timeline in the log).
func (s *holderSampler) check(t *testing.T, what string, from, to time.Time, lim invariantLimits) faultFigures {
	t.Helper()
	var f faultFigures
	var twoAt, zeroAt time.Time
	f.two, twoAt = s.longest(from, to, faultTwo)
	f.zero, zeroAt = s.longest(from, to, faultZero)
	s.mu.Lock()
	for i, d := range s.deaths {
		if !d.at.Before(from) && !d.at.After(to) {
			f.deaths = append(f.deaths, fmt.Sprintf("%s@+%dms", d.host, d.at.Sub(from).Milliseconds()))
			s.deaths[i].reported = true
		}
	}
	s.mu.Unlock()
	if f.two > lim.two {
		t.Errorf("%s: two directors held %s for %d ms from +%d ms (limit %d ms: one advert interval + slack)",
			what, labVIP, f.two.Milliseconds(), twoAt.Sub(from).Milliseconds(), lim.two.Milliseconds())
	}
	if f.zero > lim.zero {
		t.Errorf("%s: no director held %s for %d ms from +%d ms (limit %d ms: master-down + slack)",
			what, labVIP, f.zero.Milliseconds(), zeroAt.Sub(from).Milliseconds(), lim.zero.Milliseconds())
	}
	if len(f.deaths) > 0 {
		t.Errorf("%s: daemon died: %s", what, strings.Join(f.deaths, ", "))
	}
	if f.two > lim.two || f.zero > lim.zero {
		t.Logf("%s: holders (ms from the start of the window): %s", what, faultTrunc(s.timeline(from, to), 600))
	}
	return f
}

// ---------------------------------------------------------------------------
// Raw packets: an AF_PACKET capture and a VRRP advert forger, each inside
// a lab namespace.

type rawCapture struct {
	fd     int
	mu     sync.Mutex
	frames []frame
	stopc  chan struct{}
	done   chan struct{}
}

func startRawCapture(t *testing.T, l *vrrpLab, host string) *rawCapture {
	t.Helper()
	c := &rawCapture{stopc: make(chan struct{}), done: make(chan struct{})}
	proto := int(faultHtons(unix.ETH_P_ALL))
	err := labtest.InNetns(l.ns(host), func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: faultHtons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	})
	if err != nil {
		t.Fatalf("capture in %s: %v", l.ns(host), err)
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 65536)
		for {
			select {
			case <-c.stopc:
				return
			default:
			}
			n, _, err := unix.Recvfrom(c.fd, buf, 0)
			if err != nil || n <= 0 {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, frame{at: time.Now(), data: slices.Clone(buf[:n])})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *rawCapture) stop() []frame {
	select {
	case <-c.stopc:
	default:
		close(c.stopc)
		<-c.done
		unix.Close(c.fd)
	}
	return c.snapshot()
}

func (c *rawCapture) snapshot() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.frames)
}

func faultHtons(v uint16) uint16 { return v<<8 | v>>8 }

var faultGroup4 = netip.MustParseAddr("224.0.0.18")

// faultForgeAdvert builds a VRRPv3 advert for the lab's instance (VRID 51, the
// VIP) from src; interval 0, which Marshal refuses, is written by hand
// with the checksum computed again. Parse must accept the result.
func faultForgeAdvert(t *testing.T, src netip.Addr, prio uint8, interval time.Duration) []byte {
	t.Helper()
	iv := interval
	if iv == 0 {
		iv = 10 * time.Millisecond
	}
	a := &vrrp.Advert{Version: 3, VRID: 51, Priority: prio, Interval: iv, Addrs: []netip.Addr{netip.MustParseAddr(labVIP)}}
	b, err := a.Marshal(src, faultGroup4)
	if err != nil {
		t.Fatal(err)
	}
	if interval == 0 {
		binary.BigEndian.PutUint16(b[4:], 0)
		binary.BigEndian.PutUint16(b[6:], 0)
		binary.BigEndian.PutUint16(b[6:], faultV3Checksum(src, faultGroup4, b))
	}
	got, err := vrrp.Parse(b, src, faultGroup4, false)
	if err != nil || got.Interval != interval || got.Priority != prio {
		t.Fatalf("forged advert does not parse back: %+v %v", got, err)
	}
	return b
}

// faultV3Checksum is VRRPv3's checksum over the IPv4 pseudo-header and msg.
func faultV3Checksum(src, dst netip.Addr, msg []byte) uint16 {
	s, d := src.As4(), dst.As4()
	pseudo := append(append(append([]byte{}, s[:]...), d[:]...), 0, vrrp.IPProto, byte(len(msg)>>8), byte(len(msg)))
	var sum uint32
	for _, b := range [][]byte{pseudo, msg} {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// faultFlood sends pkt to 224.0.0.18 (TTL 255) from host's eth0 address src,
// every 1/rate s for d; it returns how many went out.
func faultFlood(t *testing.T, l *vrrpLab, host string, src netip.Addr, pkt []byte, rate int, d time.Duration) int {
	t.Helper()
	return floodTo(t, l, host, src, faultGroup4, pkt, rate, d)
}

// floodTo is faultFlood to dst (the group, or a unicast address).
func floodTo(t *testing.T, l *vrrpLab, host string, src, dst netip.Addr, pkt []byte, rate int, d time.Duration) int {
	t.Helper()
	var fd int
	err := labtest.InNetns(l.ns(host), func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.IPProto); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 255); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, 255); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
			return err
		}
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
	})
	if err != nil {
		t.Fatalf("flood socket in %s: %v", l.ns(host), err)
	}
	defer unix.Close(fd)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	sent := 0
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
			t.Fatalf("flood: %v", err)
		}
		sent++
	}
	return sent
}

func faultMs(d time.Duration) int64 { return d.Milliseconds() }

// ---------------------------------------------------------------------------
// a. A VRRP-changing SIGHUP while a 30 s notify_master runs, `lvsd status`
// during it, then SIGTERM while the script still runs. backupKind is lvsd
// or keepalived 2.2.7 (the reference as the peer).

func faultReloadDuringNotify(t *testing.T, backupKind string) {
	if backupKind == "keepalived" {
		labtest.NeedBinary(t, "keepalived")
	}
	name := "reload-during-notify (" + backupKind + " backup)"
	l := newVRRPLab(t, "d1", "d2")
	script, pids := faultSleepScript(t, t.TempDir(), 30)
	master := vrrpConf{priority: 150, auth: true, extra: "  notify_master " + script + "\n"}
	s, d1, _, armed := startFaultPair(t, l, name, master.render(), backupKind, vrrpConf{priority: 100, auth: true}.render(), faultOpts{})
	if _, ok := labtest.Poll(3*time.Second, 20*time.Millisecond, func() bool { return len(faultLivePids(pids)) > 0 }); !ok {
		t.Fatalf("%s: notify_master did not start", name)
	}
	time.Sleep(time.Second)

	// The reload changes the instance (priority, GARP refresh); d1 stays
	// the highest priority.
	changed := master
	changed.priority = 160
	changed.extra += "  garp_master_refresh 30\n"
	d1.writeConf(t, changed.render())
	hup := time.Now()
	_ = d1.cmd.Process.Signal(syscall.SIGHUP)
	var worstStatus time.Duration
	var statusErrs []string
	for i := range 3 {
		time.Sleep(time.Until(hup.Add(time.Duration(1+3*i) * time.Second)))
		_, took, err := d1.status(2 * time.Second)
		worstStatus = max(worstStatus, took)
		if err != nil {
			statusErrs = append(statusErrs, fmt.Sprintf("+%d s: %v", 1+3*i, err))
		}
	}
	time.Sleep(time.Until(hup.Add(8 * time.Second)))
	fig := s.check(t, name+", 8 s after the reload", armed, time.Now(), faultLimits(100))
	if len(statusErrs) > 0 {
		t.Errorf("%s: lvsd status did not answer within 2 s during the reload: %s", name, strings.Join(statusErrs, "; "))
	}
	reloaded := strings.Contains(d1.log.String(), "reloaded")

	// SIGTERM while the script runs: out within 2 s, the backup takes over.
	running := len(faultLivePids(pids)) > 0
	if !running {
		t.Errorf("%s: the notify script ended before the SIGTERM; the case tests nothing", name)
	}
	s.expectExit(d1)
	term := time.Now()
	took, exited := d1.signalWait(syscall.SIGTERM, 25*time.Second)
	if !exited {
		t.Errorf("%s: lvsd did not exit within %s of SIGTERM", name, took)
	} else if took > 2*time.Second {
		t.Errorf("%s: SIGTERM with a notify script running took %d ms to exit, want ≤ 2000 ms", name, faultMs(took))
	}
	sole := s.waitSoleSince("d2", term, masterDown(100)+faultSlack)
	takeover := "never"
	if sole.IsZero() {
		t.Errorf("%s: d2 was not the only holder within master-down %d ms of SIGTERM: %v", name, faultMs(masterDown(100)), s.current())
	} else {
		takeover = fmt.Sprintf("%d ms", faultMs(sole.Sub(term)))
	}
	after := s.check(t, name+", after SIGTERM", term, time.Now(), faultLimits(100))
	t.Logf("fault %s: %s; lvsd status worst %d ms (%d of 3 failed); reload logged %v; SIGTERM took %d ms (exited %v, script running %v); d2 sole holder after %s; after SIGTERM %s",
		name, fig, faultMs(worstStatus), len(statusErrs), reloaded, faultMs(took), exited, running, takeover, after)
}

// b. A plain SIGTERM while a notify script runs: exit ≤ 2 s, and neither the
// script nor its child left behind.

func faultSigtermDuringScript(t *testing.T) {
	const name = "sigterm-during-script"
	l := newVRRPLab(t, "d1", "d2")
	script, pids := faultSleepScript(t, t.TempDir(), 30)
	s, d1, _, armed := startFaultPair(t, l, name, vrrpConf{priority: 150, extra: "  notify_master " + script + "\n"}.render(), "lvsd", vrrpConf{priority: 100}.render(), faultOpts{args: []string{"-P"}})
	if _, ok := labtest.Poll(3*time.Second, 20*time.Millisecond, func() bool { return len(faultLivePids(pids)) == 2 }); !ok {
		t.Fatalf("%s: notify_master and its child did not start", name)
	}
	time.Sleep(time.Second)
	s.expectExit(d1)
	term := time.Now()
	took, exited := d1.signalWait(syscall.SIGTERM, 31*time.Second)
	if !exited {
		t.Errorf("%s: lvsd did not exit within %s of SIGTERM", name, took)
	} else if took > 2*time.Second {
		t.Errorf("%s: SIGTERM took %d ms to exit with a notify script running, want ≤ 2000 ms", name, faultMs(took))
	}
	time.Sleep(300 * time.Millisecond)
	left := faultLivePids(pids)
	if len(left) > 0 {
		t.Errorf("%s: script processes %v still run %d ms after lvsd exited (its process group is not killed)", name, left, faultMs(time.Since(term)-took))
	}
	sole := s.waitSoleSince("d2", term, masterDown(100)+faultSlack)
	takeover := "never"
	if sole.IsZero() {
		t.Errorf("%s: d2 did not take over: %v", name, s.current())
	} else {
		takeover = fmt.Sprintf("%d ms", faultMs(sole.Sub(term)))
	}
	fig := s.check(t, name, armed, time.Now(), faultLimits(100))
	t.Logf("fault %s: %s; SIGTERM took %d ms (exited %v); script processes left %d; d2 sole holder after %s", name, fig, faultMs(took), exited, len(left), takeover)
}

// c. The master's eth0 deleted and recreated (same name, address, bridge
// port): the instance must not come back MASTER but mute.

func faultIfaceRecreate(t *testing.T) {
	const name = "iface-recreate"
	l := newVRRPLab(t, "d1", "d2")
	s, _, _, armed := startFaultPair(t, l, name, vrrpConf{priority: 150}.render(), "lvsd", vrrpConf{priority: 100}.render(), faultOpts{args: []string{"-P"}})
	capt := startRawCapture(t, l, "d2")
	time.Sleep(time.Second)
	l.sh("ip -n %s link del eth0", l.ns("d1"))
	deleted := time.Now()
	took := "never"
	if at := s.waitSole("d2", masterDown(100)+time.Second); !at.IsZero() {
		took = fmt.Sprintf("%d ms", faultMs(at.Sub(deleted)))
	}
	l.sh("ip -n %s link add eth0 type veth peer name pd1 netns %s", l.ns("d1"), l.ns("br"))
	l.sh("ip -n %s link set pd1 master br0 up", l.ns("br"))
	l.sh("ip -n %s addr add 10.9.0.1/24 dev eth0 && ip -n %s link set eth0 up", l.ns("d1"), l.ns("d1"))
	recreated := time.Now()
	// Out of FAULT, BACKUP for master-down, then (priority 150, preempt)
	// MASTER again: adverts from it must reach d2 and d2 must yield.
	time.Sleep(masterDown(150) + 5*time.Second)
	fig := s.check(t, name, armed, time.Now(), faultLimits(100))
	adverts := 0
	firstAdvert := "none"
	for _, f := range capt.stop() {
		if v, ok := parseVRRP(f.data); ok && v.src == "10.9.0.1" && f.at.After(recreated) && len(v.payload) > 2 && v.payload[2] > 0 {
			if adverts == 0 {
				firstAdvert = fmt.Sprintf("%d ms", faultMs(f.at.Sub(recreated)))
			}
			adverts++
		}
	}
	if adverts == 0 {
		t.Errorf("%s: d2 saw no advert from d1 in the %d ms after its eth0 was recreated (holders now %v)", name, faultMs(time.Since(recreated)), s.current())
	}
	if h := s.current(); len(h) != 1 {
		t.Errorf("%s: %d holders %v at the end, want one", name, len(h), h)
	}
	t.Logf("fault %s: %s; d2 sole holder %s after the delete; after recreation d2 saw %d adverts from d1 (first after %s); holders at the end %v",
		name, fig, took, adverts, firstAdvert, s.current())
}

// d. A configuration bomb on SIGHUP: the daemon stays alive and MASTER and
// rejects the reload within 5 s. Two bombs of a few hundred bytes: one
// nests 999,990 blocks (~SEQ), one expands $DEF parameters to 1,000,000
// lines of 25 KB. The master runs under RLIMIT_AS 4 GiB (so that a bomb
// cannot take the machine's memory) pinned to one CPU (so that it cannot
// take both of the other labs').

func faultBombNesting() string {
	return "~SEQ(i, 999990) vrrp_instance bomb$i {\n"
}

func faultBombExpansion() string {
	return "$A=" + strings.Repeat("x", 60) + "\n" +
		"$B=$A $A $A $A $A $A $A $A\n" +
		"$C=$B $B $B $B $B $B $B $B\n" +
		"$D=$C $C $C $C $C $C $C $C\n" +
		"~SEQ(i, 999990) virtual_server_group bomb$i { $D }\n"
}

func faultReloadBomb(t *testing.T) {
	const name = "reload-bomb"
	l := newVRRPLab(t, "d1", "d2")
	s := newHolderSampler(t, l, "d1", "d2")
	conf := vrrpConf{priority: 150}.render()
	wrap := []string{"prlimit", "--as=4294967296", "taskset", "-c", strconv.Itoa(faultLastCPU())}
	d2 := startFaultDaemon(t, l, "lvsd", "d2", vrrpConf{priority: 100}.render(), faultOpts{args: []string{"-P"}})
	s.watch("d2", d2)
	var results []string
	for _, bomb := range []struct{ name, text string }{{"nesting", faultBombNesting()}, {"expansion", faultBombExpansion()}} {
		what := name + "/" + bomb.name
		d1 := startFaultDaemon(t, l, "lvsd", "d1", conf, faultOpts{wrap: wrap, args: []string{"-P"}})
		s.watch("d1", d1)
		armed := s.waitSole("d1", masterDown(150)+3*time.Second)
		if armed.IsZero() {
			t.Fatalf("%s: d1 is not the only holder: %v", what, s.current())
		}
		time.Sleep(time.Second)
		d1.writeConf(t, conf+bomb.text)
		hup := time.Now()
		_ = d1.cmd.Process.Signal(syscall.SIGHUP)
		took, rejected := d1.waitRejected(25 * time.Second)
		outcome := fmt.Sprintf("rejected after %d ms", faultMs(took))
		switch {
		case !d1.alive():
			outcome = fmt.Sprintf("daemon died %d ms after SIGHUP: %s", faultMs(d1.exitAt.Load().Sub(hup)), faultFatalLine(d1.log.String()))
		case !rejected:
			outcome = fmt.Sprintf("not rejected within %d ms", faultMs(took))
		}
		if !rejected || took > 5*time.Second {
			t.Errorf("%s: %d-byte bomb: %s (want rejected within 5 s, daemon alive)", what, len(bomb.text), outcome)
		}
		peak := faultPeakRSS(d1.cmd.Process.Pid)
		time.Sleep(2 * time.Second)
		lastErr := ""
		if d1.alive() {
			doc, _, err := d1.status(2 * time.Second)
			if err != nil {
				t.Errorf("%s: status after the bomb: %v", what, err)
			}
			lastErr = doc.LastReloadErr
			if rejected && lastErr == "" {
				t.Errorf("%s: status shows no last reload error", what)
			}
			if h := s.current(); len(h) != 1 || h[0] != "d1" {
				t.Errorf("%s: holders %v after the bomb, want d1 alone", what, h)
			}
		}
		fig := s.check(t, what, armed, time.Now(), faultLimits(100))
		results = append(results, fmt.Sprintf("%s (%d bytes): %s; peak RSS %s; %s; last_reload_error %q", bomb.name, len(bomb.text), outcome, peak, fig, faultTrunc(lastErr, 100)))
		// The next bomb starts from a fresh master; stop this one (a
		// dead one left its VIP: the new daemon removes it).
		s.expectExit(d1)
		d1.signalWait(syscall.SIGKILL, 5*time.Second)
		l.sh("ip -n %s addr del %s/24 dev eth0 2>/dev/null || true", l.ns("d1"), labVIP)
	}
	t.Logf("fault %s: %s", name, strings.Join(results, " | "))
}

// faultLastCPU is the highest CPU this process may run on.
func faultLastCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		for i := 1023; i >= 0; i-- {
			if set.IsSet(i) {
				return i
			}
		}
	}
	return runtime.NumCPU() - 1
}

// faultPeakRSS is a process's VmHWM from /proc.
func faultPeakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "?"
}

func faultTrunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// faultFatalLine is the Go runtime's reason for a crash, if the log has one.
func faultFatalLine(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "runtime: ") || strings.HasPrefix(l, "panic:") {
			return l
		}
	}
	return "(no runtime message)"
}

// d'. A HUP storm: 50 SIGHUPs in 1 s, each after a valid VRRP-changing
// rewrite of the configuration.

func faultHUPStorm(t *testing.T) {
	const name = "hup-storm"
	l := newVRRPLab(t, "d1", "d2")
	s, d1, _, armed := startFaultPair(t, l, name, vrrpConf{priority: 150}.render(), "lvsd", vrrpConf{priority: 100}.render(), faultOpts{args: []string{"-P"}})
	time.Sleep(time.Second)
	start := time.Now()
	for i := range 50 {
		d1.writeConf(t, vrrpConf{priority: 150 + i%2, extra: fmt.Sprintf("  garp_master_refresh %d\n", 30+i)}.render())
		_ = d1.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 20 * time.Millisecond)))
	}
	time.Sleep(masterDown(100) + time.Second)
	doc, took, err := d1.status(2 * time.Second)
	if err != nil {
		t.Errorf("%s: status after the storm: %v", name, err)
	}
	if h := s.current(); len(h) != 1 || h[0] != "d1" {
		t.Errorf("%s: holders %v after the storm, want d1 alone", name, h)
	}
	fig := s.check(t, name, armed, time.Now(), faultLimits(100))
	// Every reload keeps d1 the highest priority: the VIP must not move
	// (as TestVRRPReloadKeepsState asks of one reload).
	notD1 := func(h []string) bool { return len(h) != 1 || h[0] != "d1" }
	lost, lostAt := s.longest(armed, time.Now(), notD1)
	if lost > 0 || !s.firstAfter(armed, notD1).IsZero() {
		t.Errorf("%s: the VIP left d1 during reloads that keep it master: longest %d ms from +%d ms; holders: %s",
			name, faultMs(lost), faultMs(lostAt.Sub(armed)), s.timeline(armed, time.Now()))
	}
	t.Logf("fault %s: %s; VIP away from d1 for %d ms at most; status after it %d ms, reloads ok %d failed %d",
		name, fig, faultMs(lost), faultMs(took), doc.ReloadsOK, doc.ReloadsFailed)
}

// e. Forged VRRPv3 adverts from a third namespace, priority 200, 100/s for
// 3 s: first with interval 0, then with a valid interval (1 s). Notify
// invocations are counted (each director appends to its own file); the
// bound is 6 per flood for the pair: a director that obeys a valid
// higher-priority master leaves MASTER once and comes back once.

func faultAdvertFlood(t *testing.T) {
	const name = "advert-flood"
	const notifyBound = 6
	l := newVRRPLab(t, "d1", "d2", "fl")
	dir := t.TempDir()
	notes := map[string]string{}
	for _, h := range []string{"d1", "d2"} {
		notes[h] = filepath.Join(dir, h+".notify")
		faultScript(t, filepath.Join(dir, h+".sh"), "echo \"$@\" >> "+notes[h]+"\n")
	}
	s, d1, d2, armed := startFaultPair(t, l, name, vrrpConf{priority: 150, version: 3, extra: "  notify " + filepath.Join(dir, "d1.sh") + "\n"}.render(), "lvsd", vrrpConf{priority: 100, version: 3, extra: "  notify " + filepath.Join(dir, "d2.sh") + "\n"}.render(), faultOpts{args: []string{"-P"}})
	time.Sleep(time.Second)
	lines := func() int {
		n := 0
		for _, f := range notes {
			b, _ := os.ReadFile(f)
			n += strings.Count(string(b), "\n")
		}
		return n
	}
	stateRE := regexp.MustCompile(`msg="vrrp state"`)
	states := func() int { return d1.countLog(stateRE) + d2.countLog(stateRE) }
	src := netip.MustParseAddr("10.9.0.3")
	var results []string
	var checkFrom = armed
	for _, fl := range []struct {
		name     string
		interval time.Duration
	}{{"interval-0", 0}, {"interval-1s", time.Second}} {
		pkt := faultForgeAdvert(t, src, 200, fl.interval)
		n0, s0 := lines(), states()
		begin := time.Now()
		// Outside the floods the invariant holds in full.
		fig := s.check(t, name+" before "+fl.name, checkFrom, begin, faultLimits(100))
		sent := faultFlood(t, l, "fl", src, pkt, 100, 3*time.Second)
		end := time.Now()
		twoDuring, _ := s.longest(begin, end, faultTwo)
		zeroDuring, _ := s.longest(begin, end, faultZero)
		// A director that obeyed the forger waits master-down (3 adverts
		// of the forged interval + skew) before it takes over again.
		sole := s.waitSole("d1", masterDown(150)+3*time.Second)
		recovered := "never"
		if sole.IsZero() {
			t.Errorf("%s/%s: d1 is not the only holder %s after the flood: %v", name, fl.name, masterDown(150)+3*time.Second, s.current())
		} else {
			recovered = fmt.Sprintf("%d ms", faultMs(sole.Sub(end)))
		}
		time.Sleep(500 * time.Millisecond) // the last notify scripts
		notifies, changes := lines()-n0, states()-s0
		if notifies > notifyBound {
			t.Errorf("%s/%s: %d notify invocations for %d forged adverts (bound %d)", name, fl.name, notifies, sent, notifyBound)
		}
		if twoDuring > faultLimits(100).two {
			t.Errorf("%s/%s: two holders for %d ms during the flood", name, fl.name, faultMs(twoDuring))
		}
		results = append(results, fmt.Sprintf("%s: %d adverts sent, %d state changes, %d notify invocations (bound %d), during the flood max two-holders %d ms max zero-holders %d ms, d1 sole holder %s after it; before it %s",
			fl.name, sent, changes, notifies, notifyBound, faultMs(twoDuring), faultMs(zeroDuring), recovered, fig))
		checkFrom = time.Now()
		time.Sleep(time.Second)
	}
	fig := s.check(t, name+" after the floods", checkFrom, time.Now(), faultLimits(100))
	t.Logf("fault %s: %s | after: %s", name, strings.Join(results, " | "), fig)
}

// f. 1,000 idle connections to the metrics port of a director whose fd
// limit is 256, held (re-opened when closed) for 10 s: its TCP_CHECKs of
// four real servers must keep passing. No IPVS on this kernel: the daemon
// says so and checks all the same; health is read from `lvsd status` and
// from its log ("real server ... up=false").

func faultMetricsFlood(t *testing.T) {
	const name = "metrics-flood"
	l := newVRRPLab(t, "d1", "rs")
	for i := 11; i <= 14; i++ {
		l.sh("ip -n %s addr add 10.9.0.%d/24 dev eth0", l.ns("rs"), i)
	}
	labtest.StartHelper(t, l.ns("rs"), "serve", "rs", "0.0.0.0:5000")
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id lab\n}\nvirtual_server 10.9.0.200 5000 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n")
	for i := 11; i <= 14; i++ {
		fmt.Fprintf(&b, "  real_server 10.9.0.%d 5000 {\n    TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 0.2\n    }\n  }\n", i)
	}
	b.WriteString("}\n")
	d1 := startFaultDaemon(t, l, "lvsd", "d1", b.String(), faultOpts{wrap: []string{"prlimit", "--nofile=256:256"}, args: []string{"-C", "--metrics-addr", "127.0.0.1:9650"}})
	health := func() (up, total int, err error) {
		doc, _, err := d1.status(2 * time.Second)
		if err != nil {
			return 0, 0, err
		}
		for _, vs := range doc.VirtualServers {
			for _, rs := range vs.RealServers {
				total++
				if rs.Health == "up" {
					up++
				}
			}
		}
		return up, total, nil
	}
	if _, ok := labtest.Poll(8*time.Second, 250*time.Millisecond, func() bool { up, n, _ := health(); return up == 4 && n == 4 }); !ok {
		up, n, err := health()
		t.Fatalf("%s: real servers not up before the flood: %d/%d %v", name, up, n, err)
	}
	if lim, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", d1.cmd.Process.Pid)); !regexp.MustCompile(`Max open files\s+256\s+256`).Match(lim) {
		t.Fatalf("%s: lvsd does not run with RLIMIT_NOFILE 256:\n%s", name, lim)
	}
	ipvsNote := strings.Contains(d1.log.String(), "IPVS unavailable")
	downRE := regexp.MustCompile(`msg="real server".*up=false`)
	failRE := regexp.MustCompile(`(?i)too many open files|EMFILE`)
	down0, fail0 := d1.countLog(downRE), d1.countLog(failRE)

	// The flood: a thread in d1's namespace keeps 1,000 connections open.
	var open, opened, closedByServer, dialErrs atomic.Int64
	stop := make(chan struct{})
	floodDone := make(chan error, 1)
	go func() {
		floodDone <- labtest.InNetns(l.ns("d1"), func() error {
			gone := make(chan struct{}, 1000)
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				for open.Load() < 1000 {
					select {
					case <-stop:
						return nil
					default:
					}
					c, err := net.DialTimeout("tcp", "127.0.0.1:9650", 500*time.Millisecond)
					if err != nil {
						dialErrs.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conns = append(conns, c)
					open.Add(1)
					opened.Add(1)
					go func() {
						_, _ = c.Read(make([]byte, 1))
						open.Add(-1)
						closedByServer.Add(1)
						gone <- struct{}{}
					}()
				}
				select {
				case <-stop:
					return nil
				case <-gone:
				}
			}
		})
	}()
	start := time.Now()
	var statusFails, notUp int
	var firstProblem string
	for i := 1; i <= 10; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
		up, n, err := health()
		switch {
		case err != nil:
			statusFails++
			if firstProblem == "" {
				firstProblem = fmt.Sprintf("+%d s: status: %v", i, err)
			}
		case up != n || n != 4:
			notUp++
			if firstProblem == "" {
				firstProblem = fmt.Sprintf("+%d s: %d of %d real servers up", i, up, n)
			}
		}
	}
	close(stop)
	if err := <-floodDone; err != nil {
		t.Errorf("%s: flood: %v", name, err)
	}
	downs, fails := d1.countLog(downRE)-down0, d1.countLog(failRE)-fail0
	if downs > 0 || notUp > 0 {
		t.Errorf("%s: real servers went down under the flood: %d down transitions logged, %d of 10 status samples not all up (first problem %s)", name, downs, notUp, firstProblem)
	}
	if statusFails > 0 {
		t.Errorf("%s: lvsd status failed in %d of 10 samples during the flood (first problem %s)", name, statusFails, firstProblem)
	}
	if !d1.alive() {
		t.Errorf("%s: lvsd died: %s", name, faultFatalLine(d1.log.String()))
	}
	recovered := "never"
	if took, ok := labtest.Poll(5*time.Second, 250*time.Millisecond, func() bool { up, n, _ := health(); return up == 4 && n == 4 }); ok {
		recovered = fmt.Sprintf("%d ms", faultMs(took))
	}
	t.Logf("fault %s: fd limit 256, IPVS-unavailable logged %v; %d connections opened (%d closed by lvsd, %d dial errors); %d real-server down transitions, %d too-many-open-files log lines, %d/10 status samples failed, %d/10 not all up; all up again %s after the flood",
		name, ipvsNote, opened.Load(), closedByServer.Load(), dialErrs.Load(), downs, fails, statusFails, notUp, recovered)
}

// g. enable_script_security and a root-owned notify_master that becomes
// world-writable after the daemon started: it must not run, and the
// daemon must say why.

func faultWorldWritableScript(t *testing.T) {
	const name = "world-writable-script"
	l := newVRRPLab(t, "d1")
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := faultScript(t, filepath.Join(dir, "master.sh"), "echo ran >> "+marker+"\n")
	conf := faultGlobals(vrrpConf{priority: 150, extra: "  notify_master " + script + "\n"}.render(), "  enable_script_security\n  script_user root\n")
	d1 := startFaultDaemon(t, l, "lvsd", "d1", conf, faultOpts{args: []string{"-P"}})
	if _, ok := d1.waitLog("lvsd started", 5*time.Second); !ok {
		t.Fatalf("%s: lvsd did not start with a 0755 script: %s", name, faultTail(d1.log.String(), 2000))
	}
	if err := os.Chmod(script, 0o777); err != nil {
		t.Fatal(err)
	}
	chmodded := time.Now()
	if _, ok := labtest.Poll(masterDown(150)+2*time.Second, 20*time.Millisecond, func() bool { return l.hasVIP("d1") }); !ok {
		t.Fatalf("%s: d1 did not become master", name)
	}
	became := time.Since(chmodded)
	time.Sleep(2 * time.Second)
	ran := false
	if _, err := os.Stat(marker); err == nil {
		ran = true
		t.Errorf("%s: the world-writable (0777) notify_master ran as root under enable_script_security", name)
	}
	var why []string
	for _, line := range strings.Split(d1.log.String(), "\n") {
		if strings.Contains(line, "master.sh") && regexp.MustCompile(`(?i)writable`).MatchString(line) {
			why = append(why, line)
		}
	}
	if len(why) == 0 {
		t.Errorf("%s: no log line says why master.sh was (or should have been) refused", name)
	}
	if !d1.alive() {
		t.Errorf("%s: lvsd died", name)
	}
	t.Logf("fault %s: chmod 0777 %d ms before MASTER; script ran %v; log lines explaining %d: %s", name, faultMs(became), ran, len(why), faultTrunc(strings.Join(why, " / "), 300))
}

// h. -p naming a symlink to a file with known contents: lvsd refuses it
// or replaces the link, never writes through it.

func faultSymlinkedPIDFile(t *testing.T) {
	const name = "symlinked-pid-file"
	l := newVRRPLab(t, "d1")
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	const contents = "precious contents, not a pid\n"
	if err := os.WriteFile(target, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "lvsd.pid")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	d1 := startFaultDaemon(t, l, "lvsd", "d1", vrrpConf{priority: 150}.render(), faultOpts{args: []string{"-P", "-p", link}})
	d1.waitLog("lvsd started", 5*time.Second)
	outcome := "refused (exited)"
	if d1.alive() {
		outcome = "started"
		if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
			outcome = "started, link replaced by a regular file"
		} else if err == nil {
			outcome = "started, link left in place"
		}
	}
	got, err := os.ReadFile(target)
	if err != nil || string(got) != contents {
		t.Errorf("%s: the symlink's target was written: now %q (%v), was %q; lvsd %s", name, got, err, contents, outcome)
	}
	if d1.alive() {
		d1.signalWait(syscall.SIGTERM, 5*time.Second)
	}
	after, err := os.ReadFile(target)
	if err != nil || string(after) != contents {
		t.Errorf("%s: after SIGTERM the target is %q (%v)", name, after, err)
	}
	t.Logf("fault %s: lvsd %s; target while running %q, after exit %q", name, outcome, got, after)
}

// i. The master preempted by a higher priority in the middle of its GARP
// train (vrrp_garp_interval 0.5, vrrp_garp_master_repeat 20: 9.5 s): no
// GARP from it once it has left MASTER. Captured in a client namespace.

func faultStaleGARP(t *testing.T) {
	const name = "stale-garp"
	l := newVRRPLab(t, "d1", "d2", "cl")
	globals := "  vrrp_garp_interval 0.5\n  vrrp_garp_master_repeat 20\n"
	s := newHolderSampler(t, l, "d1", "d2")
	capt := startRawCapture(t, l, "cl")
	d1 := startFaultDaemon(t, l, "lvsd", "d1", faultGlobals(vrrpConf{priority: 100}.render(), globals), faultOpts{args: []string{"-P"}})
	s.watch("d1", d1)
	armed := s.waitSole("d1", masterDown(100)+3*time.Second)
	if armed.IsZero() {
		t.Fatalf("%s: d1 did not become master: %v", name, s.current())
	}
	d2 := startFaultDaemon(t, l, "lvsd", "d2", faultGlobals(vrrpConf{priority: 150}.render(), globals), faultOpts{args: []string{"-P"}})
	s.watch("d2", d2)
	left := s.waitSole("d2", masterDown(150)+3*time.Second)
	if left.IsZero() {
		t.Fatalf("%s: d2 did not preempt: %v", name, s.current())
	}
	// The first sample without d1's VIP; a GARP sent before it may
	// arrive just after, hence 20 ms.
	leftAt := s.firstAfter(armed, func(h []string) bool { return !slices.Contains(h, "d1") }).Add(20 * time.Millisecond)
	time.Sleep(6 * time.Second)
	mac := l.mac("d1")
	before, after := 0, 0
	var lastStale time.Duration
	for _, f := range capt.stop() {
		a, ok := parseARP(f.data)
		if !ok || a.senderIP != labVIP || a.targetIP != labVIP || a.senderMAC != mac {
			continue
		}
		if f.at.After(leftAt) {
			after++
			lastStale = f.at.Sub(leftAt)
		} else {
			before++
		}
	}
	if before == 0 {
		t.Errorf("%s: no GARP from d1 while it was master: the capture sees nothing", name)
	}
	if after > 0 {
		t.Errorf("%s: d1 sent %d GARPs for %s after it left MASTER (the last %d ms after)", name, after, labVIP, faultMs(lastStale))
	}
	fig := s.check(t, name, armed, time.Now(), faultLimits(100))
	t.Logf("fault %s: d1 master %d ms then preempted by d2; GARPs from d1 while master %d, after leaving MASTER %d (last +%d ms); %s",
		name, faultMs(left.Sub(armed)), before, after, faultMs(lastStale), fig)
}
