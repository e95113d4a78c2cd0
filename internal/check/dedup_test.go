package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// sharedConfig is n virtual servers (10.7.9.1:1000+i) sharing one real
// server 127.0.0.1:port, each with the checker block check(i).
func sharedConfig(t testing.TB, n int, port int, check func(i int) string) *config.Config {
	t.Helper()
	var b strings.Builder
	for i := range n {
		// One keyword a line, as keepalived reads them.
		block := strings.NewReplacer("{ ", "{\n      ", " }", "\n    }", " connect_", "\n      connect_", " delay_", "\n      delay_",
			" retry", "\n      retry", " alpha", "\n      alpha", " warmup", "\n      warmup", " url", "\n      url").Replace(check(i))
		fmt.Fprintf(&b, "virtual_server 10.7.9.1 %d {\n  protocol TCP\n  lb_kind NAT\n  real_server 127.0.0.1 %d {\n    weight 1\n    %s\n  }\n}\n", 1000+i, port, block)
	}
	return labtest.Config(t, b.String())
}

func TestProbeKey(t *testing.T) {
	base := func(mod func(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer)) string {
		vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP}
		rs := &config.RealServer{Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
		c := &config.Checker{Type: config.CheckTCP, ConnectTimeout: 5 * time.Second, Retry: 1, DelayBeforeRetry: time.Second,
			DelayLoop: 6 * time.Second, Pos: config.Pos{File: "a", Line: 1},
			Ext: &config.CheckerExtra{URLs: []config.URL{{Path: "/", StatusCodes: [][2]int{{200, 299}}, Pos: config.Pos{Line: 3}}},
				MiscPath: &config.Script{Argv: []string{"/bin/true"}, Pos: config.Pos{Line: 4}}}}
		mod(c, vs, rs)
		k, ok := probeKey(c, vs, rs)
		if !ok {
			return "none"
		}
		return k
	}
	same := base(func(*config.Checker, *config.VirtualServer, *config.RealServer) {})
	for _, tc := range []struct {
		name  string
		mod   func(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer)
		share bool
	}{
		// Another virtual server, and what only the checker's tracker,
		// schedule and log read: shared.
		{"other virtual server", func(_ *config.Checker, vs *config.VirtualServer, _ *config.RealServer) { vs.Port = 81 }, true},
		{"retry", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Retry = 3 }, true},
		{"delay_before_retry", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.DelayBeforeRetry = 3 }, true},
		{"delay_loop", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.DelayLoop = time.Second }, true},
		{"warmup", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Warmup = time.Second }, true},
		{"alpha", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Alpha = true }, true},
		{"log_all_failures", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.LogAllFailures = true }, true},
		{"fast_recovery", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.FastRecovery = true }, true},
		{"positions", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.Pos.Line, c.Extra().URLs[0].Pos.Line, c.Extra().MiscPath.Pos.Line = 9, 9, 9
		}, true},
		{"real server weight", func(_ *config.Checker, _ *config.VirtualServer, rs *config.RealServer) { rs.Weight = 7 }, true},
		{"connect_ip to itself", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.ConnectIP = netip.MustParseAddr("192.0.2.1")
		}, true},
		// What the probe sends, where from, or how it judges the answer.
		{"type", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Type = config.CheckHTTP }, false},
		{"real server address", func(_ *config.Checker, _ *config.VirtualServer, rs *config.RealServer) {
			rs.Addr = netip.MustParseAddr("192.0.2.2")
		}, false},
		{"real server port, connect_port to the old one", func(c *config.Checker, _ *config.VirtualServer, rs *config.RealServer) {
			rs.Port, c.ConnectPort = 81, 80
		}, true},
		{"real server port", func(_ *config.Checker, _ *config.VirtualServer, rs *config.RealServer) { rs.Port = 81 }, false},
		{"connect_port", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.ConnectPort = 8080 }, false},
		{"connect_ip", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.ConnectIP = netip.MustParseAddr("192.0.2.9")
		}, false},
		{"bindto", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.BindTo = netip.MustParseAddr("192.0.2.100")
		}, false},
		{"bind_port", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.BindPort = 5000 }, false},
		{"bind_if", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.BindIf = "eth1" }, false},
		{"fwmark", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.FWMark = 3 }, false},
		{"connect_timeout", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.ConnectTimeout = time.Second }, false},
		{"url path", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Extra().URLs[0].Path = "/x" }, false},
		{"url digest", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.Extra().URLs[0].Digest = "00"
		}, false},
		{"url status_code", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.Extra().URLs[0].StatusCodes = [][2]int{{200, 200}}
		}, false},
		{"url regex", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Extra().URLs[0].Regex = "ok" }, false},
		{"second url", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.MutExtra().URLs = append(c.MutExtra().URLs, config.URL{Path: "/"})
		}, false},
		{"http_protocol", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.HTTPProtocol = "1.1" }, false},
		{"enable_sni", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.EnableSNI = true }, false},
		{"checker virtualhost", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Virtualhost = "a" }, false},
		{"misc_path", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.Extra().MiscPath.Argv = []string{"/bin/false"}
		}, false},
		{"misc user", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.Extra().MiscPath.User = "nobody"
		}, false},
		{"misc_timeout", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.MiscTimeout = time.Second }, false},
		{"misc_dynamic", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.MutExtra().MiscDynamic = true
		}, false},
		{"dns", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.MutExtra().DNSName = "x." }, false},
		{"udp payload", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.MutExtra().Payload = []byte{1}
		}, false},
		{"require_reply", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) {
			c.MutExtra().RequireReply = true
		}, false},
		{"helo_name", func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.MutExtra().HeloName = "h" }, false},
	} {
		got := base(tc.mod)
		if (got == same) != tc.share {
			t.Errorf("%s: shared=%v, want %v", tc.name, got == same, tc.share)
		}
	}
	// HTTP_GET's Host comes from the checker, else the real server, else
	// the virtual server: another virtual server's virtualhost is another
	// probe.
	http := func(vh string) string {
		return base(func(c *config.Checker, vs *config.VirtualServer, _ *config.RealServer) {
			c.Type, vs.Virtualhost = config.CheckHTTP, vh
		})
	}
	if http("a.example") == http("b.example") {
		t.Error("HTTP_GET under virtual servers with other virtualhosts shares a probe: the Host header differs")
	}
	for _, typ := range []config.CheckerType{config.CheckFile, config.CheckBFD} {
		if base(func(c *config.Checker, _ *config.VirtualServer, _ *config.RealServer) { c.Type = typ }) != "none" {
			t.Errorf("%s sends no probe to share", typ)
		}
	}
}

// simRun drives a manager's schedule on simulated time: each check due is
// taken as the loop takes it and answered at once (dur 1 ms) with server's
// state at that instant; no socket, worker or clock is involved.
type simRun struct {
	t      *testing.T
	m      *Manager
	mono   time.Duration
	server func(at time.Duration) bool
	probes []time.Duration
	// per checker: its checks (time, passed) and real-server flips
	checks map[Key][]simCheck
	flips  map[Key][]simFlip
}

type simCheck struct {
	at time.Duration
	ok bool
}

type simFlip struct {
	at time.Duration
	up bool
}

const simDur = time.Millisecond

func newSim(t *testing.T, cfg *config.Config, server func(time.Duration) bool) *simRun {
	s := &simRun{t: t, m: NewManager(nil, nil, 1, nil), server: server, checks: map[Key][]simCheck{}, flips: map[Key][]simFlip{}}
	if err := s.m.Update(cfg, clockBase); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *simRun) run(end time.Duration) {
	wp := &workerPool{}
	seen := map[Key]uint64{}
	up := map[Key]bool{}
	s.m.mu.Lock()
	for k, st := range s.m.checks {
		seen[k], up[k] = st.checks, s.m.rsUp[k.rs()]
	}
	s.m.mu.Unlock()
	for {
		s.m.mu.Lock()
		if len(s.m.queue) == 0 || s.m.queue[0].at > end {
			s.m.mu.Unlock()
			s.mono = end
			return
		}
		s.mono = max(s.mono, s.m.queue[0].at)
		s.m.mu.Unlock()
		due := s.m.takeDue(s.mono, nil, wp)
		sts := wp.pending
		wp.pending = nil
		for _, d := range due {
			sts = append(sts, d.st)
		}
		for _, st := range sts {
			s.probes = append(s.probes, s.mono)
			ok := s.server(s.mono)
			r := result{st: st, ok: ok, weight: -1, at: clockBase.Add(s.mono), dur: simDur}
			if !ok {
				r.err = errors.New("connect: connection refused")
			}
			s.m.handle(r)
		}
		s.m.mu.Lock()
		for k, st := range s.m.checks {
			if st.checks != seen[k] {
				seen[k] = st.checks
				s.checks[k] = append(s.checks[k], simCheck{st.last.Sub(clockBase), st.lastErr == ""})
			}
			if now := s.m.rsUp[k.rs()]; now != up[k] {
				up[k] = now
				s.flips[k] = append(s.flips[k], simFlip{s.mono, now})
			}
		}
		s.m.mu.Unlock()
	}
}

// probesIn counts the probes run in [from, to).
func (s *simRun) probesIn(from, to time.Duration) int {
	n := 0
	for _, p := range s.probes {
		if p >= from && p < to {
			n++
		}
	}
	return n
}

func (s *simRun) checker(k Key) *config.Checker {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.checks[k].cfg
}

// verifyKeepalivedCounts checks, for every checker, what keepalived's own
// timer would give it: after the server goes down at down, the real server
// leaves at its retry+1-th failed check, those checks delay_before_retry
// apart; after it comes back at back, the first check passes and brings it
// back; no check is ever later than keepalived's timer would make it.
func (s *simRun) verifyKeepalivedCounts(down, back time.Duration) {
	t := s.t
	if len(s.checks) == 0 {
		t.Fatal("no checks ran")
	}
	for k, checks := range s.checks {
		c := s.checker(k)
		var failing []simCheck
		var firstBack *simCheck
		for i := range checks {
			ch := checks[i]
			if i > 0 {
				gap := ch.at - checks[i-1].at
				want := simDur + c.DelayLoop
				if !checks[i-1].ok && len(failing) > 0 && len(failing) <= c.Retry {
					want = simDur + c.DelayBeforeRetry
				}
				if gap > want {
					t.Errorf("%v: check at %s came %s after the one before, later than keepalived's %s", k, ch.at, gap, want)
				}
			}
			switch {
			case ch.at >= down && ch.at < back:
				if ch.ok {
					t.Fatalf("%v: check at %s passed while the server was down", k, ch.at)
				}
				failing = append(failing, ch)
			case ch.at >= back && firstBack == nil:
				firstBack = &checks[i]
			}
		}
		if len(failing) < c.Retry+1 {
			t.Fatalf("%v: only %d failed checks while down", k, len(failing))
		}
		var downAt, upAt time.Duration = -1, -1
		for _, f := range s.flips[k] {
			if f.at >= down && f.at < back && !f.up && downAt < 0 {
				downAt = f.at
			}
			if f.at >= back && f.up && upAt < 0 {
				upAt = f.at
			}
		}
		if want := failing[c.Retry].at; downAt != want {
			t.Errorf("%v (retry %d): down at %s, want at its %d-th failed check at %s (failed checks at %v)", k, c.Retry, downAt, c.Retry+1, want, failing)
		}
		for i := 1; i <= c.Retry; i++ {
			if gap := failing[i].at - failing[i-1].at; gap != simDur+c.DelayBeforeRetry {
				t.Errorf("%v: retry %d came %s after the failure before, want delay_before_retry %s", k, i, gap, c.DelayBeforeRetry)
			}
		}
		if firstBack == nil || !firstBack.ok || upAt != firstBack.at {
			t.Errorf("%v: back at %s, want at its first check after the server returned (%+v)", k, upAt, firstBack)
		}
	}
}

// TestSharedProbeOnePerInterval: 40 virtual servers sharing a real server
// and the same TCP_CHECK (delay_loop 1) cost one probe a second, not 40;
// each real server still leaves at its retry+1-th failed check and comes
// back at its first passing one, all 40 at the same probe.
func TestSharedProbeOnePerInterval(t *testing.T) {
	cfg := sharedConfig(t, 40, 9, func(int) string {
		return "TCP_CHECK { connect_timeout 1 delay_loop 1 retry 2 delay_before_retry 0.5 }"
	})
	const down, back, end = 10 * time.Second, 20 * time.Second, 30 * time.Second
	s := newSim(t, cfg, func(at time.Duration) bool { return at < down || at >= back })
	s.run(end)
	if n := s.probesIn(0, down); n < 9 || n > 11 {
		t.Errorf("%d probes in the first 10 s, want about 10 (one a second for 40 checkers)", n)
	}
	checks := 0
	for _, c := range s.checks {
		checks += len(c)
	}
	t.Logf("%d probes for %d checks of 40 checkers in %s", len(s.probes), checks, end)
	if len(s.probes)*39 > checks {
		t.Errorf("%d probes for %d checks: not shared", len(s.probes), checks)
	}
	s.verifyKeepalivedCounts(down, back)
	var flips []simFlip
	for k, f := range s.flips {
		if flips == nil {
			flips = f
		} else if fmt.Sprint(f) != fmt.Sprint(flips) {
			t.Errorf("%v flipped %v, others %v: not at the same probe", k, f, flips)
		}
	}
	if len(flips) != 2 {
		t.Errorf("flips %v, want down and up", flips)
	}
	st := s.m.ProbeStats()
	if st.Groups != 1 || st.Grouped != 40 || st.Probes != uint64(len(s.probes)) || st.Shared != uint64(checks-len(s.probes)) {
		t.Errorf("ProbeStats %+v; probes %d checks %d", st, len(s.probes), checks)
	}
}

// TestProbeSharingOff: SetProbeSharing(false) gives every checker its own
// probes, as keepalived.
func TestProbeSharingOff(t *testing.T) {
	cfg := sharedConfig(t, 40, 9, func(int) string { return "TCP_CHECK { connect_timeout 1 delay_loop 1 }" })
	s := &simRun{t: t, m: NewManager(nil, nil, 1, nil), server: func(time.Duration) bool { return true }, checks: map[Key][]simCheck{}, flips: map[Key][]simFlip{}}
	s.m.SetProbeSharing(false)
	if err := s.m.Update(cfg, clockBase); err != nil {
		t.Fatal(err)
	}
	s.run(10 * time.Second)
	if n := len(s.probes); n < 390 || n > 410 {
		t.Errorf("%d probes in 10 s without sharing, want 400", n)
	}
	if st := s.m.ProbeStats(); st.Groups != 0 || st.Shared != 0 {
		t.Errorf("%+v", st)
	}
}

// TestSharedProbeMixedTrackers: checkers of the same probe with other
// retry, delay_before_retry and alpha each follow keepalived's count and
// timing for their own settings; they share whenever they are due
// together and fall back into step once steady.
func TestSharedProbeMixedTrackers(t *testing.T) {
	cfg := sharedConfig(t, 40, 9, func(i int) string {
		alpha := ""
		if i%2 == 0 {
			alpha = "alpha"
		}
		return fmt.Sprintf("TCP_CHECK { connect_timeout 1 delay_loop 1 retry %d delay_before_retry %.1f %s }", i%3, 0.3+0.1*float64(i%4), alpha)
	})
	const down, back, end = 10 * time.Second, 20 * time.Second, 40 * time.Second
	s := newSim(t, cfg, func(at time.Duration) bool { return at < down || at >= back })
	s.run(end)
	s.verifyKeepalivedCounts(down, back)
	if n := s.probesIn(0, down); n > 11 {
		t.Errorf("%d probes in the first 10 s, want about 10", n)
	}
	// While down, 12 combinations of retry and delay_before_retry retry
	// on 12 rhythms: those due together share.
	checksDown := 0
	for _, cs := range s.checks {
		for _, c := range cs {
			if c.at >= down && c.at < back {
				checksDown++
			}
		}
	}
	if n := s.probesIn(down, back); n*3 > checksDown {
		t.Errorf("%d probes for %d checks while down: the retries of checkers due together are not shared", n, checksDown)
	}
	if n := s.probesIn(back+5*time.Second, end); n > 16 {
		t.Errorf("%d probes in the last 15 s: the checkers did not fall back into step", n)
	}
	t.Logf("probes: %d before, %d while down, %d after; stats %+v", s.probesIn(0, down), s.probesIn(down, back), s.probesIn(back, end), s.m.ProbeStats())
}

// TestSharedProbeReload: a virtual server added by a reload shares the
// probe of the checkers already running: at once when their next check is
// within its first-run bound, else once it has run and is steady.
func TestSharedProbeReload(t *testing.T) {
	// warmup 0.2 with delay_loop 5: the new checker's first run cannot
	// wait for the group's next check, so it falls into step later.
	for _, loop := range []string{"1", "5"} {
		t.Run("delay_loop="+loop, func(t *testing.T) {
			check := func(int) string { return "TCP_CHECK { connect_timeout 1 delay_loop " + loop + " warmup 0.2 }" }
			s := newSim(t, sharedConfig(t, 40, 9, check), func(time.Duration) bool { return true })
			s.run(12 * time.Second)
			if err := s.m.Update(sharedConfig(t, 41, 9, check), clockBase.Add(s.mono)); err != nil {
				t.Fatal(err)
			}
			s.run(60 * time.Second)
			d := 0
			fmt.Sscan(loop, &d)
			want := 30 / d
			if n := s.probesIn(30*time.Second, 60*time.Second); n > want+1 {
				t.Errorf("%d probes in 30 s after the reload, want %d (41 checkers in step)", n, want)
			}
			for _, st := range s.m.Status() {
				if st.Key.VS == "10.7.9.1:1040:TCP" || strings.Contains(st.Key.VS, "1040") {
					if st.Shared == 0 || st.GroupSize != 41 {
						t.Errorf("new checker %+v never shared", st)
					}
				}
			}
		})
	}
}

// TestSharedProbeDistinctTargets: checkers whose probes differ each run
// their own.
func TestSharedProbeDistinctTargets(t *testing.T) {
	cfg := sharedConfig(t, 20, 9, func(i int) string {
		return fmt.Sprintf("TCP_CHECK { connect_timeout 1 delay_loop 1 connect_port %d }", 7000+i%2)
	})
	s := newSim(t, cfg, func(time.Duration) bool { return true })
	s.run(10 * time.Second)
	if n := len(s.probes); n < 18 || n > 22 {
		t.Errorf("%d probes in 10 s, want about 20 (two ports, one probe a second each)", n)
	}
	if st := s.m.ProbeStats(); st.Groups != 2 || st.Grouped != 20 {
		t.Errorf("%+v, want 2 groups of 10", st)
	}
}

// TestSharedProbeWorkers: HTTP_GET, run by the workers, shares likewise.
func TestSharedProbeWorkers(t *testing.T) {
	cfg := sharedConfig(t, 10, 9, func(int) string {
		return "HTTP_GET { url { path /health } connect_timeout 1 delay_loop 1 }"
	})
	s := newSim(t, cfg, func(time.Duration) bool { return true })
	s.run(10 * time.Second)
	if n := len(s.probes); n < 9 || n > 11 {
		t.Errorf("%d HTTP_GET probes in 10 s, want about 10", n)
	}
}

// countingListener accepts and closes connections on loopback, counting
// them; stop and start take it down and up on the same port.
type countingListener struct {
	mu       sync.Mutex
	ln       net.Listener
	addr     string
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newCountingListener(t *testing.T) *countingListener {
	l := &countingListener{addr: "127.0.0.1:0"}
	l.start(t)
	l.addr = l.ln.Addr().String()
	t.Cleanup(l.stop)
	return l
}

func (l *countingListener) start(t *testing.T) {
	ln, err := net.Listen("tcp4", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepted.Add(1)
			c.Close()
		}
	}()
}

func (l *countingListener) stop() {
	l.mu.Lock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *countingListener) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// TestSharedTCPCheckLoopback: 40 virtual servers with the same TCP_CHECK
// (delay_loop 1) on one loopback real server: the listener sees about
// one connect a second; stopped, all 40 real servers leave together at
// the same probe; restarted, they come back together.
func TestSharedTCPCheckLoopback(t *testing.T) {
	l := newCountingListener(t)
	port := l.port()
	cfg := sharedConfig(t, 40, port, func(int) string {
		return "TCP_CHECK { connect_timeout 1 delay_loop 1 retry 1 delay_before_retry 1 }"
	})
	m, changes := startManager(t, cfg)
	const window = 5 * time.Second
	time.Sleep(time.Second) // past the first-run spread
	before := l.accepted.Load()
	time.Sleep(window)
	n := l.accepted.Load() - before
	t.Logf("lvsd: %d connects in %s for 40 checkers with delay_loop 1 (%.1f/s; without sharing: 40/s)", n, window, float64(n)/window.Seconds())
	if n < 3 || n > 8 {
		t.Errorf("%d connects in %s, want about 5", n, window)
	}
	allUp := func(want bool) bool {
		snap := m.Snapshot()
		for _, vs := range cfg.VirtualServers {
			if snap.RealServerUp(vs, vs.RealServers[0]) != want {
				return false
			}
		}
		return true
	}
	sameHistory := func() {
		t.Helper()
		var first Status
		for i, st := range m.Status() {
			if i == 0 {
				first = st
				continue
			}
			if st.Checks != first.Checks || st.Failures != first.Failures || !st.LastCheck.Equal(first.LastCheck) || st.Up != first.Up {
				t.Errorf("%v: %d checks %d failures last %s up %v; %v: %d %d %s %v: not the same probes", st.Key, st.Checks, st.Failures, st.LastCheck, st.Up,
					first.Key, first.Checks, first.Failures, first.LastCheck, first.Up)
				return
			}
		}
	}
	c0 := changes.Load()
	l.stop()
	labtest.WaitFor(t, "all 40 real servers leave", 10*time.Second, func() bool { return allUp(false) })
	sameHistory()
	if d := changes.Load() - c0; d != 1 {
		t.Errorf("%d state-change notifications for the 40 real servers leaving, want 1 (one probe)", d)
	}
	c0 = changes.Load()
	l.start(t)
	labtest.WaitFor(t, "all 40 real servers return", 10*time.Second, func() bool { return allUp(true) })
	sameHistory()
	if d := changes.Load() - c0; d != 1 {
		t.Errorf("%d state-change notifications for the 40 real servers returning, want 1 (one probe)", d)
	}

	// The same configuration without sharing, as keepalived runs it.
	off := NewManager(nil, nil, 8, nil)
	off.SetProbeSharing(false)
	if err := off.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); off.Run(ctx) }()
	time.Sleep(1200 * time.Millisecond)
	before = l.accepted.Load()
	time.Sleep(3 * time.Second)
	cancel()
	<-done
	offRate := float64(l.accepted.Load()-before) / 3
	t.Logf("lvsd with sharing: %.1f connects/s; without (SetProbeSharing(false), keepalived's way): %.1f/s", float64(n)/window.Seconds(), offRate)
	if offRate < 25 {
		t.Errorf("without sharing %.1f connects/s, want about 40", offRate)
	}
}

// BenchmarkUpdate30k: Update with 30,000 TCP_CHECK real servers (the
// probe keys are built here).
func BenchmarkUpdate30k(b *testing.B) {
	var cfgText strings.Builder
	for v := range 300 {
		fmt.Fprintf(&cfgText, "virtual_server 10.60.%d.%d 80 {\n delay_loop 1\n protocol TCP\n", v/100, v%100+1)
		for r := range 100 {
			fmt.Fprintf(&cfgText, " real_server 10.%d.%d.%d 80 {\n  TCP_CHECK {\n connect_timeout 3\n }\n }\n", 61+v/100, v%100, r+1)
		}
		cfgText.WriteString("}\n")
	}
	cfg := labtest.Config(b, cfgText.String())
	for b.Loop() {
		m := NewManager(nil, nil, 1, nil)
		if err := m.Update(cfg, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSharedProbeHASuspend: checkers that ha_suspend held while the
// others ran fall into step with them once their virtual server's address
// is on the host.
func TestSharedProbeHASuspend(t *testing.T) {
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "virtual_server 10.7.9.%d %d {\n  protocol TCP\n  lb_kind NAT\n  ha_suspend\n  real_server 127.0.0.1 9 {\n    TCP_CHECK {\n      connect_timeout 1\n      delay_loop 1\n    }\n  }\n}\n", 1+i%2, 80+i)
	}
	cfg := labtest.Config(t, b.String())
	s := newSim(t, cfg, func(time.Duration) bool { return true })
	s.m.SetLocalAddresses([]netip.Addr{netip.MustParseAddr("10.7.9.1")})
	s.run(10300 * time.Millisecond)
	s.m.SetLocalAddresses([]netip.Addr{netip.MustParseAddr("10.7.9.1"), netip.MustParseAddr("10.7.9.2")})
	s.run(30 * time.Second)
	if n := s.probesIn(0, 10*time.Second); n > 11 {
		t.Errorf("%d probes in 10 s with half the checkers suspended, want about 10", n)
	}
	if n := s.probesIn(20*time.Second, 30*time.Second); n > 11 {
		t.Errorf("%d probes in 10 s once all run, want about 10 (in step again)", n)
	}
	for _, st := range s.m.Status() {
		if st.Checks < 15 {
			t.Errorf("%v ran %d checks", st.Key, st.Checks)
		}
	}
}

// TestSharedProbeReloadWhileRunning: reloads while shared probes are in
// flight (the race detector watches), then one connect a delay_loop.
func TestSharedProbeReloadWhileRunning(t *testing.T) {
	l := newCountingListener(t)
	check := func(int) string { return "TCP_CHECK { connect_timeout 1 delay_loop 0.1 }" }
	cfgs := []*config.Config{sharedConfig(t, 40, l.port(), check), sharedConfig(t, 41, l.port(), check)}
	m, _ := startManager(t, cfgs[0])
	for i := range 20 {
		time.Sleep(50 * time.Millisecond)
		if err := m.Update(cfgs[i%2], time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	before := l.accepted.Load()
	time.Sleep(2 * time.Second)
	n := l.accepted.Load() - before
	t.Logf("%d connects in 2 s, delay_loop 0.1, 40 checkers; %+v", n, m.ProbeStats())
	if n > 30 {
		t.Errorf("%d connects in 2 s, want about 20", n)
	}
	for _, st := range m.Status() {
		if !st.Up || st.Checks == 0 {
			t.Errorf("%+v", st)
		}
	}
}
