package bfd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// stamped collects lines with the time each arrived.
type stamped struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (s *stamped) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		s.mu.Lock()
		s.lines = append(s.lines, sc.Text())
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	}
}

// first is the time of the first line after since containing sub.
func (s *stamped) first(sub string, since time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.lines {
		if s.at[i].After(since) && strings.Contains(l, sub) {
			return s.at[i], true
		}
	}
	return time.Time{}, false
}

func (s *stamped) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// frrPeer is bfdd's view of a peer (show bfd peers json).
type frrPeer struct {
	Peer             string `json:"peer"`
	Status           string `json:"status"`
	RemoteMult       int    `json:"remote-detect-multiplier"`
	RemoteRx         int    `json:"remote-receive-interval"`
	RemoteTx         int    `json:"remote-transmit-interval"`
	Diagnostic       string `json:"diagnostic"`
	RemoteDiagnostic string `json:"remote-diagnostic"`
	RemoteID         uint32 `json:"remote-id"`
	TransmitInterval int    `json:"transmit-interval"`
	ReceiveInterval  int    `json:"receive-interval"`
	DetectMultiplier int    `json:"detect-multiplier"`
}

// TestInteropFRRBfdd runs FRR's bfdd in one namespace with two peers:
// lvsd's bfd runner in a second namespace and keepalived 2.2.7's bfd
// process in a third, each behind its own veth, all at 100 ms × 5. Both
// sessions must come Up (as bfdd sees them too); then both links are cut
// at once (bfdd's side set down) and each end must go Down within its
// detection time (5 × 100 ms); then restored, and both come Up again.
// The times, and the packets each sends while Up (tshark), are compared.
func TestInteropFRRBfdd(t *testing.T) {
	labtest.NeedRoot(t)
	const bfdd = "/usr/lib/frr/bfdd"
	_, err := os.Stat(bfdd)
	labtest.Need(t, err == nil, "FRR's bfdd not installed (scripts/setup.sh installs frr)")
	vtysh := labtest.NeedBinary(t, "vtysh")
	keepalived := labtest.NeedBinary(t, "keepalived")
	tshark := labtest.NeedBinary(t, "tshark")

	frr := labtest.NewNetns(t, "bfdf")
	lv := labtest.NewNetns(t, "bfdl")
	ka := labtest.NewNetns(t, "bfdk")
	link := func(ns *labtest.Netns, dev, addr, peerDev, peerAddr, addr6, peerAddr6 string) {
		if out, err := exec.Command("ip", "link", "add", dev, "netns", ns.Name, "type", "veth", "peer", "name", peerDev, "netns", frr.Name).CombinedOutput(); err != nil {
			t.Fatalf("veth: %v: %s", err, out)
		}
		ns.MustIP(t, "addr", "add", addr+"/24", "dev", dev)
		ns.MustIP(t, "link", "set", dev, "up")
		frr.MustIP(t, "addr", "add", peerAddr+"/24", "dev", peerDev)
		frr.MustIP(t, "link", "set", peerDev, "up")
		ns.MustIP(t, "addr", "add", addr6+"/64", "dev", dev, "nodad")
		frr.MustIP(t, "addr", "add", peerAddr6+"/64", "dev", peerDev, "nodad")
	}
	link(lv, "eth0", "10.77.1.1", "to_lv", "10.77.1.2", "fd77:1::1", "fd77:1::2")
	link(ka, "eth0", "10.77.2.1", "to_ka", "10.77.2.2", "fd77:2::1", "fd77:2::2")

	// bfdd runs as user frr: its directory must be reachable.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	conf := `bfd
 peer 10.77.1.1 local-address 10.77.1.2
  receive-interval 100
  transmit-interval 100
  detect-multiplier 5
 exit
 peer 10.77.2.1 local-address 10.77.2.2
  receive-interval 100
  transmit-interval 100
  detect-multiplier 5
 exit
 peer fd77:1::1 local-address fd77:1::2
  receive-interval 100
  transmit-interval 100
  detect-multiplier 5
 exit
 peer fd77:2::1 local-address fd77:2::2
  receive-interval 100
  transmit-interval 100
  detect-multiplier 5
 exit
exit
`
	if err := os.WriteFile(filepath.Join(dir, "bfdd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	frrLog := &stamped{}
	bcmd := frr.Command(bfdd, "-f", filepath.Join(dir, "bfdd.conf"), "-i", filepath.Join(dir, "bfdd.pid"),
		"--vty_socket", dir, "--bfdctl", filepath.Join(dir, "bfdd.sock"), "-P", "0", "--log", "stdout", "--log-level", "debug")
	bout, _ := bcmd.StdoutPipe()
	bcmd.Stderr = bcmd.Stdout
	if err := bcmd.Start(); err != nil {
		t.Fatal(err)
	}
	go frrLog.read(bout)
	t.Cleanup(func() {
		_ = bcmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = bcmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = bcmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("--- bfdd ---\n%s", frrLog)
		}
	})
	peers := func() map[string]frrPeer {
		out, err := exec.Command(vtysh, "--vty_socket", dir, "-d", "bfdd", "-c", "show bfd peers json").Output()
		if err != nil {
			return nil
		}
		var ps []frrPeer
		if json.Unmarshal(out, &ps) != nil {
			return nil
		}
		m := map[string]frrPeer{}
		for _, p := range ps {
			m[p.Peer] = p
		}
		return m
	}

	// keepalived 2.2.7's bfd process.
	kconf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(kconf, []byte(`global_defs {
  router_id ka
}
bfd_instance frr {
  neighbor_ip 10.77.2.2
  source_ip 10.77.2.1
  min_rx 100
  min_tx 100
  multiplier 5
}
bfd_instance frr6 {
  neighbor_ip fd77:2::2
  source_ip fd77:2::1
  hoplimit 255
  min_rx 100
  min_tx 100
  multiplier 5
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	kaLog := &stamped{}
	kcmd := ka.Command(keepalived, "-n", "-l", "-D", "-f", kconf, "-p", dir+"/k.pid", "-b", dir+"/b.pid", "-r", dir+"/v.pid", "-c", dir+"/c.pid")
	kout, _ := kcmd.StdoutPipe()
	kcmd.Stderr = kcmd.Stdout
	// lvsd's runner.
	lvLog := &stamped{}
	lr, lw := io.Pipe()
	go lvLog.read(lr)
	// frr6: IPv6, hop limit 255 as bfdd requires (keepalived's default
	// is 64, which bfdd's GTSM drops: both are given 255).
	r := NewRunner([]Instance{{SessionConfig: SessionConfig{Name: "frr", MinRx: 100000, MinTx: 100000, IdleTx: DefaultIdleTx, Multiplier: 5},
		Neighbor: netip.MustParseAddr("10.77.1.2"), Source: netip.MustParseAddr("10.77.1.1")},
		{SessionConfig: SessionConfig{Name: "frr6", MinRx: 100000, MinTx: 100000, IdleTx: DefaultIdleTx, Multiplier: 5},
			Neighbor: netip.MustParseAddr("fd77:1::2"), Source: netip.MustParseAddr("fd77:1::1"), TTL: 255}},
		slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	var mu sync.Mutex
	type ev struct {
		at time.Time
		s  State
	}
	var evs []ev
	r.Watch(func(name string, s State) {
		if name == "frr" {
			mu.Lock()
			evs = append(evs, ev{time.Now(), s})
			mu.Unlock()
		}
	})
	lvFirst := func(s State, since time.Time) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			if e.s == s && e.at.After(since) {
				return e.at, true
			}
		}
		return time.Time{}, false
	}
	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	start := time.Now()
	go func() {
		runDone <- labtest.InNetns(lv.Name, func() error { return r.Run(ctx) })
	}()
	if err := kcmd.Start(); err != nil {
		t.Fatal(err)
	}
	go kaLog.read(kout)
	t.Cleanup(func() {
		cancel()
		<-runDone
		_ = kcmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = kcmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = kcmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("--- keepalived ---\n%s\n--- lvsd ---\n%s", kaLog, lvLog)
		}
	})

	// Up.
	var lvUp, kaUp time.Time
	labtest.WaitFor(t, "both sessions Up", 20*time.Second, func() bool {
		var ok1, ok2 bool
		lvUp, ok1 = lvFirst(Up, start)
		kaUp, ok2 = kaLog.first("(frr) Entering Up state", start)
		return ok1 && ok2
	})
	var ps map[string]frrPeer
	labtest.WaitFor(t, "bfdd sees both peers up", 10*time.Second, func() bool {
		ps = peers()
		return ps["10.77.1.1"].Status == "up" && ps["10.77.2.1"].Status == "up"
	})
	// IPv6 (pktinfo and hop limit on the dual-stack listening socket).
	labtest.WaitFor(t, "IPv6 sessions Up, as bfdd sees them too", 10*time.Second, func() bool {
		_, kaUp6 := kaLog.first("(frr6) Entering Up state", start)
		ps6 := peers()
		return r.State("frr6") == Up && kaUp6 && ps6["fd77:1::1"].Status == "up" && ps6["fd77:2::1"].Status == "up"
	})
	t.Logf("Up after start: lvsd %v, keepalived %v (keepalived's start includes its fork and config load)", lvUp.Sub(start).Round(time.Millisecond), kaUp.Sub(start).Round(time.Millisecond))
	for _, a := range []string{"10.77.1.1", "10.77.2.1"} {
		p := ps[a]
		t.Logf("bfdd's view of %s: status %s, remote mult %d rx %d ms tx %d ms", a, p.Status, p.RemoteMult, p.RemoteRx, p.RemoteTx)
		if p.RemoteMult != 5 || p.RemoteRx != 100 || p.RemoteTx != 100 {
			t.Errorf("bfdd's view of %s: %+v, want mult 5, 100 ms", a, p)
		}
	}
	if ps["10.77.1.1"].RemoteID != r.inst[0].sess.LocalDisc() {
		t.Errorf("bfdd's remote id %d, lvsd's discriminator %d", ps["10.77.1.1"].RemoteID, r.inst[0].sess.LocalDisc())
	}

	// Packets while Up, as bfdd's namespace receives them.
	capture := func() map[string][]float64 {
		flt := "udp dst port 3784 and (src host 10.77.1.1 or src host 10.77.2.1)"
		cmd := frr.Command(tshark, "-f", flt, "-i", "to_lv", "-f", flt, "-i", "to_ka", "-a", "duration:3", "-l", "-T", "fields",
			"-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.ttl", "-e", "udp.srcport", "-e", "bfd.sta", "-e", "bfd.flags.p", "-e", "bfd.flags.f",
			"-e", "bfd.desired_min_tx_interval", "-e", "bfd.required_min_rx_interval", "-e", "bfd.detect_time_multiplier")
		out, err := cmd.Output()
		if err != nil {
			t.Logf("tshark: %v", err)
		}
		times := map[string][]float64{}
		seen := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(l, "\t")
			if len(f) < 10 || f[1] == "" {
				continue
			}
			ts, _ := strconv.ParseFloat(f[0], 64)
			times[f[1]] = append(times[f[1]], ts)
			port, _ := strconv.Atoi(f[3])
			if f[2] != "255" || port < MinSourcePort {
				t.Errorf("%s sent with TTL %s from port %s, want TTL 255 and a port in 49152-65535", f[1], f[2], f[3])
			}
			seen[f[1]] = fmt.Sprintf("ttl %s sta %s P %s F %s min_tx %s min_rx %s mult %s", f[2], f[4], f[5], f[6], f[7], f[8], f[9])
		}
		for src, s := range seen {
			t.Logf("%s's last packet: %s", src, s)
		}
		return times
	}
	gaps := capture()
	stat := func(ts []float64) string {
		if len(ts) < 3 {
			return "too few packets"
		}
		var g []float64
		for i := 1; i < len(ts); i++ {
			g = append(g, (ts[i]-ts[i-1])*1000)
		}
		sort.Float64s(g)
		sum := 0.0
		for _, x := range g {
			sum += x
		}
		return fmt.Sprintf("%d packets, gap min %.1f median %.1f max %.1f mean %.1f ms", len(ts), g[0], g[len(g)/2], g[len(g)-1], sum/float64(len(g)))
	}
	t.Logf("packets while Up: lvsd %s; keepalived %s", stat(gaps["10.77.1.1"]), stat(gaps["10.77.2.1"]))
	if n := len(gaps["10.77.1.1"]); n != 0 && (n < 20 || n > 45) {
		t.Errorf("lvsd sent %d packets in 3 s at 100 ms less 10-25%% jitter, want 20-45", n)
	}

	// No flap while Up, on either.
	cut := time.Now()
	// A stall of bfdd's (the machine is shared) takes both down at once:
	// only a flap of lvsd's alone is a failure.
	_, lvFlap := lvFirst(Down, lvUp)
	_, kaFlap := kaLog.first("(frr) Entering Down state", kaUp)
	if lvFlap && !kaFlap {
		t.Errorf("lvsd's session went Down while the link was up, keepalived's did not")
	} else if lvFlap || kaFlap {
		t.Logf("sessions went Down while the link was up: lvsd %v, keepalived %v (bfdd stalled)", lvFlap, kaFlap)
	}
	// Cut both links at once.
	frr.MustIP(t, "link", "set", "to_lv", "down")
	frr.MustIP(t, "link", "set", "to_ka", "down")
	var lvDown, kaDown time.Time
	labtest.WaitFor(t, "both sessions Down after the cut", 10*time.Second, func() bool {
		var ok1, ok2 bool
		lvDown, ok1 = lvFirst(Down, cut)
		kaDown, ok2 = kaLog.first("(frr) Entering Down state", cut)
		return ok1 && ok2
	})
	dLv, dKa := lvDown.Sub(cut), kaDown.Sub(cut)
	t.Logf("Down after the cut (detection time 500 ms): lvsd %v, keepalived %v", dLv.Round(time.Millisecond), dKa.Round(time.Millisecond))
	// Detection time 5 × 100 ms; slack for a loaded machine.
	if dLv > 500*time.Millisecond+400*time.Millisecond {
		t.Errorf("lvsd took %v to go Down, detection time is 500 ms", dLv)
	}
	if dLv < 500*time.Millisecond-150*time.Millisecond {
		t.Errorf("lvsd went Down %v after the cut: before its detection time (500 ms, less one packet gap)", dLv)
	}
	if line, ok := lvLog.first("(frr) Entering Down state (Local diagnostic - Control Detection Time Expired", cut); !ok || line.IsZero() {
		t.Errorf("lvsd did not log keepalived's Down line")
	}
	labtest.WaitFor(t, "bfdd sees both down", 10*time.Second, func() bool {
		ps = peers()
		return ps["10.77.1.1"].Status == "down" && ps["10.77.2.1"].Status == "down"
	})

	// Restore.
	restore := time.Now()
	frr.MustIP(t, "link", "set", "to_lv", "up")
	frr.MustIP(t, "link", "set", "to_ka", "up")
	var lvUp2, kaUp2 time.Time
	labtest.WaitFor(t, "both sessions Up again", 20*time.Second, func() bool {
		var ok1, ok2 bool
		lvUp2, ok1 = lvFirst(Up, restore)
		kaUp2, ok2 = kaLog.first("(frr) Entering Up state", restore)
		return ok1 && ok2
	})
	t.Logf("Up after the restore: lvsd %v, keepalived %v", lvUp2.Sub(restore).Round(time.Millisecond), kaUp2.Sub(restore).Round(time.Millisecond))
	if d := lvUp2.Sub(restore); d > 6*time.Second {
		t.Errorf("lvsd took %v to come Up again", d)
	}
	labtest.WaitFor(t, "bfdd sees both up again", 10*time.Second, func() bool {
		ps = peers()
		return ps["10.77.1.1"].Status == "up" && ps["10.77.2.1"].Status == "up"
	})
}
