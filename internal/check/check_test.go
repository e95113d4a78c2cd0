package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
)

func TestTrackerRetrySemantics(t *testing.T) {
	c := &config.Checker{Retry: 2, DelayLoop: 5 * time.Second, DelayBeforeRetry: time.Second}
	tr := tracker{up: true, weight: -1}
	// retry 2: the third failure in a row takes the server down.
	steps := []struct {
		ok          bool
		wantChanged bool
		wantUp      bool
		wantNext    time.Duration
	}{
		{false, false, true, time.Second},
		{false, false, true, time.Second},
		{false, true, false, 5 * time.Second},
		{false, false, false, time.Second}, // down: retries count again, no change
		{true, true, true, 5 * time.Second},
		{false, false, true, time.Second},
		{true, false, true, 5 * time.Second}, // a success resets the count
		{false, false, true, time.Second},
		{false, false, true, time.Second},
		{false, true, false, 5 * time.Second},
	}
	for i, s := range steps {
		changed, next := tr.observe(s.ok, -1, c)
		if changed != s.wantChanged || tr.up != s.wantUp || next != s.wantNext {
			t.Fatalf("step %d (ok=%v): changed=%v up=%v next=%s, want %v %v %s", i, s.ok, changed, tr.up, next, s.wantChanged, s.wantUp, s.wantNext)
		}
	}
}

// server is a real-server stand-in on loopback that can be stopped and
// restarted on the same port; without a handler it accepts and closes.
type server struct {
	t    testing.TB
	addr string
	mu   sync.Mutex
	ln   net.Listener
	hs   *http.Server
	h    http.Handler
}

func newServer(t testing.TB, h http.Handler) *server {
	return newServerAt(t, "127.0.0.1:0", h)
}

// newServerAt listens on addr (port 0: any free port).
func newServerAt(t testing.TB, addr string, h http.Handler) *server {
	s := &server{t: t, h: h}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *server) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln = ln
	if s.h != nil {
		s.hs = &http.Server{Handler: s.h}
		go func() { _ = s.hs.Serve(ln) }()
		return
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hs != nil {
		_ = s.hs.Close()
		s.hs = nil
	}
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
}

func (s *server) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

func (s *server) port() string { return s.addr[strings.LastIndex(s.addr, ":")+1:] }

// desiredWeights renders the table's destinations: "127.0.0.1:80=16 ...".
func desiredWeights(cfg *config.Config, m *Manager) string {
	var parts []string
	for _, svc := range ipvs.DesiredTable(cfg, m.Snapshot()) {
		for _, d := range svc.Dests {
			parts = append(parts, fmt.Sprintf("%s=%d", d.Addr, d.Weight))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func startManager(t testing.TB, cfg *config.Config) (*Manager, *atomic.Int64) {
	t.Helper()
	var changes atomic.Int64
	m := NewManager(nil, nil, 8, func() { changes.Add(1) })
	runManager(t, m, cfg)
	return m, &changes
}

// runManager installs cfg and runs m until the test ends.
func runManager(t testing.TB, m *Manager, cfg *config.Config) {
	t.Helper()
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestTCPCheckFollowsRealServers: two real servers on loopback, one is
// stopped and restarted; the desired table follows at the times
// delay_loop, retry and delay_before_retry give.
func TestTCPCheckFollowsRealServers(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	for _, inhibit := range []bool{false, true} {
		t.Run(fmt.Sprintf("inhibit_on_failure=%v", inhibit), func(t *testing.T) {
			inh := ""
			if inhibit {
				inh = "inhibit_on_failure"
			}
			cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  lb_kind NAT
  %s
  real_server 127.0.0.1 %s {
    weight 16
    TCP_CHECK { connect_port %s
      connect_timeout 0.5
      delay_loop 0.2
      retry 2
      delay_before_retry 0.1 }
  }
  real_server 127.0.0.2 %s {
    weight 12
    TCP_CHECK { connect_ip 127.0.0.1
      connect_port %s
      connect_timeout 0.5
      delay_loop 0.2
      retry 2
      delay_before_retry 0.1 }
  }
}`, inh, a.port(), a.port(), b.port(), b.port()))
			m, changes := startManager(t, cfg)
			both := "127.0.0.1=16 127.0.0.2=12"
			if got := desiredWeights(cfg, m); got != both {
				t.Fatalf("at start (no alpha) all are in: %q", got)
			}
			time.Sleep(300 * time.Millisecond)
			b.stop()
			down := "127.0.0.1=16"
			if inhibit {
				down = "127.0.0.1=16 127.0.0.2=0"
			}
			took := labtest.WaitFor(t, "stopped server leaves the table", 2*time.Second, func() bool { return desiredWeights(cfg, m) == down })
			// delay_loop 0.2 + two retries at 0.1: at most about 0.4 s + connect.
			t.Logf("stopped real server out after %s", took.Round(time.Millisecond))
			if took > 700*time.Millisecond {
				t.Errorf("down after %s, want within delay_loop + 2 x delay_before_retry (0.4 s)", took)
			}
			if took < 150*time.Millisecond {
				t.Errorf("down after %s: retry 2 should need three failures", took)
			}
			b.start()
			took = labtest.WaitFor(t, "restarted server comes back", 2*time.Second, func() bool { return desiredWeights(cfg, m) == both })
			t.Logf("restarted real server back after %s", took.Round(time.Millisecond))
			if changes.Load() != 2 {
				t.Errorf("%d change notifications, want 2", changes.Load())
			}
		})
	}
}

func TestAlphaStartsDown(t *testing.T) {
	a := newServer(t, nil)
	cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  alpha
  real_server 127.0.0.1 %s {
    TCP_CHECK { connect_timeout 1
      delay_loop 0.2 }
  }
  real_server 127.0.0.3 %s {
    TCP_CHECK { connect_timeout 0.2
      connect_port 1
      delay_loop 0.2 }
  }
}`, a.port(), a.port()))
	m := NewManager(nil, nil, 4, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := desiredWeights(cfg, m); got != "" {
		t.Fatalf("alpha: real servers must start out of the table, got %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	labtest.WaitFor(t, "alpha server comes up after one success", 2*time.Second, func() bool { return desiredWeights(cfg, m) == "127.0.0.1=1" })
}

func TestHTTPChecks(t *testing.T) {
	var slow atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "app.example" {
			http.Error(w, "wrong host "+r.Host, 400)
			return
		}
		if slow.Load() {
			time.Sleep(time.Second)
		}
		io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	srv := newServer(t, mux)
	const helloMD5 = "b1946ac92492d2347c6235b4d2611184" // md5("hello\n")
	cases := []struct {
		name string
		url  string
		want bool
	}{
		{"status and digest", `url { path /ok
 digest ` + helloMD5 + ` }`, true},
		{"wrong digest", `url { path /ok
 digest 00000000000000000000000000000000 }`, false},
		{"404 fails by default", `url { path /missing }`, false},
		{"404 accepted by status_code", `url { path /missing
 status_code 404 }`, true},
		{"endless body without digest passes at once", `url { path /endless }`, true},
		{"endless body with digest fails at the cap", `url { path /endless
 digest ` + helloMD5 + ` }`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  virtualhost app.example
  real_server 127.0.0.1 %s {
    HTTP_GET { %s
      connect_timeout 2
      delay_loop 0.1
      retry 0 }
  }
}`, srv.port(), c.url))
			vs, rs := cfg.VirtualServers[0], cfg.VirtualServers[0].RealServers[0]
			probe, err := NewProbe(rs.Checkers[0], vs, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			_, err = probe(ctx)
			if (err == nil) != c.want {
				t.Errorf("probe: %v, want pass=%v", err, c.want)
			}
			if time.Since(start) > time.Second {
				t.Errorf("probe took %s", time.Since(start))
			}
		})
	}
	t.Run("slow server times out", func(t *testing.T) {
		slow.Store(true)
		defer slow.Store(false)
		cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  virtualhost app.example
  real_server 127.0.0.1 %s {
    HTTP_GET { url { path /ok }
      connect_timeout 0.3 }
  }
}`, srv.port()))
		vs, rs := cfg.VirtualServers[0], cfg.VirtualServers[0].RealServers[0]
		probe, _ := NewProbe(rs.Checkers[0], vs, rs, nil)
		ctx, cancel := context.WithTimeout(context.Background(), rs.Checkers[0].ConnectTimeout)
		defer cancel()
		if _, err := probe(ctx); err == nil {
			t.Error("a response slower than connect_timeout passed")
		}
	})
}

func TestMiscDynamicWeight(t *testing.T) {
	cfg := labtest.Config(t, `
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 80 {
    weight 5
    MISC_CHECK { misc_path "/bin/true"
      misc_dynamic
      delay_loop 0.1 }
  }
}`)
	var code atomic.Int64
	code.Store(12) // weight 10
	run := func(ctx context.Context, s *config.Script, args ...string) (int, error) { return int(code.Load()), nil }
	m := NewManager(nil, run, 2, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	labtest.WaitFor(t, "misc_dynamic exit 12 sets weight 10", 2*time.Second, func() bool { return desiredWeights(cfg, m) == "127.0.0.1=10" })
	code.Store(1)
	labtest.WaitFor(t, "exit 1 takes it down", 2*time.Second, func() bool { return desiredWeights(cfg, m) == "" })
	code.Store(0)
	labtest.WaitFor(t, "exit 0 brings it back", 2*time.Second, func() bool {
		return desiredWeights(cfg, m) == "127.0.0.1=10" || desiredWeights(cfg, m) == "127.0.0.1=5"
	})
}

// TestManyCheckersAreCheap runs 2,000 TCP checkers against 20 loopback
// listeners with 50 HTTP checkers of a server that never answers in time
// mixed in, and requires every fast checker to keep its schedule.
func TestManyCheckersAreCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("a throughput bound: checked in make test's first pass, not under -race -short")
	}
	stuck := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}))
	var servers []*server
	for range 20 {
		servers = append(servers, newServer(t, nil))
	}
	var b strings.Builder
	b.WriteString("virtual_server 10.0.0.1 80 {\n protocol TCP\n")
	for i := range 2000 {
		s := servers[i%len(servers)]
		fmt.Fprintf(&b, " real_server 10.1.%d.%d %s {\n  TCP_CHECK { connect_ip 127.0.0.1\n connect_port %s\n connect_timeout 1\n delay_loop 0.5 }\n }\n", i/250, i%250+1, s.port(), s.port())
	}
	for i := range 50 {
		fmt.Fprintf(&b, " real_server 10.2.0.%d %s {\n  HTTP_GET { url { path /\n }\n connect_ip 127.0.0.1\n connect_timeout 1\n delay_loop 0.5\n retry 0 }\n }\n", i+1, stuck.port())
	}
	b.WriteString("}\n")
	cfg := labtest.Config(t, b.String())
	// The 100 checkers of each server (and the 50 of the stuck one) are
	// identical: with probe sharing they would send one probe per server
	// and interval, and this would not measure 2,000 connects per
	// interval. Each checker runs its own probes here, as in keepalived.
	m := NewManager(nil, nil, 8, nil)
	m.SetProbeSharing(false)
	runManager(t, m, cfg)
	time.Sleep(2500 * time.Millisecond)
	behind, stuckDown, checks := 0, 0, uint64(0)
	for _, st := range m.Status() {
		checks += st.Checks
		if st.Shared != 0 || st.GroupSize != 1 {
			t.Fatalf("%v shares probes (%d shared, group of %d): the test must measure one probe per check", st.Key, st.Shared, st.GroupSize)
		}
		if st.Key.Type == config.CheckHTTP {
			if !st.Up {
				stuckDown++
			}
			continue
		}
		if st.Checks < 3 {
			behind++
		}
	}
	t.Logf("%d checks in 2.5 s, each its own probe", checks)
	if stuckDown != 50 {
		t.Errorf("%d of 50 checkers of the stuck server are down, want all", stuckDown)
	}
	if behind > 0 {
		t.Errorf("%d of 2000 checkers ran fewer than 3 checks in 2.5 s with delay_loop 0.5", behind)
	}
}

// TestResultOfReplacedCheckerIgnored: a check still running when a reload
// replaced its checker reports into the old state, and the new state (which
// carried the old one's history over) does not see it, nor is the old
// one scheduled again.
func TestResultOfReplacedCheckerIgnored(t *testing.T) {
	cfg := labtest.Config(t, `
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 80 {
    TCP_CHECK { connect_timeout 1 }
  }
}`)
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	old := m.queue.pop() // as the loop does when it is due
	m.handle(result{st: old, ok: true, weight: -1, at: time.Now()})
	old = m.queue.pop() // due again, and running when the reload comes
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	m.handle(result{st: old, ok: false, weight: -1, err: errors.New("refused"), at: time.Now()})
	if len(m.queue) != 1 {
		t.Fatalf("%d checkers scheduled, want 1: the replaced one must not come back", len(m.queue))
	}
	for _, s := range m.Status() {
		if s.Checks != 1 || s.Failures != 0 || !s.Up {
			t.Fatalf("after a stale failure: checks %d failures %d up %v, want 1, 0, true", s.Checks, s.Failures, s.Up)
		}
	}
}

// TestCheckHeapOrder interleaves pushes and pops, as the loop does, and
// requires every pop to return the earliest due checker still queued.
func TestCheckHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h checkHeap
	var queued []time.Duration // the due times in h, kept sorted
	for step := range 20000 {
		if len(queued) == 0 || rng.IntN(3) != 0 {
			at := time.Duration(rng.IntN(1000)) * time.Millisecond // many equal times
			h.push(&checkState{next: clockBase.Add(at)})
			i, _ := slices.BinarySearch(queued, at)
			queued = slices.Insert(queued, i, at)
			continue
		}
		got := h.pop().next.Sub(clockBase)
		if got != queued[0] {
			t.Fatalf("step %d: popped a checker due at %s, the earliest is due at %s", step, got, queued[0])
		}
		queued = queued[1:]
		if len(h) != len(queued) {
			t.Fatalf("step %d: %d queued, want %d", step, len(h), len(queued))
		}
	}
}
