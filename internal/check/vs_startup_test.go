package check

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

func startupConfig(alpha bool, rss ...string) *config.Config {
	vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP, Quorum: 1}
	for _, a := range rss {
		rs := &config.RealServer{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, Alpha: alpha,
			NotifyDown: &config.Script{Argv: []string{"/bin/down", a}}}
		rs.Checkers = []*config.Checker{{Type: config.CheckTCP, ConnectPort: 80, Retry: 3, Alpha: alpha,
			DelayLoop: time.Hour, DelayBeforeRetry: time.Hour, ConnectTimeout: time.Second}}
		vs.RealServers = append(vs.RealServers, rs)
	}
	return &config.Config{VirtualServers: []*config.VirtualServer{vs}}
}

// fail feeds n failed checks of rs's first checker to m.
func fail(m *Manager, addr string, n int) {
	for range n {
		m.mu.Lock()
		var st *checkState
		for k, s := range m.checks {
			if k.RS.Addr() == netip.MustParseAddr(addr) {
				st = s
			}
		}
		m.mu.Unlock()
		m.handle(result{st: st, ok: false, err: errors.New("refused"), at: time.Now()})
	}
}

func up(m *Manager, cfg *config.Config, addr string) bool {
	vs := cfg.VirtualServers[0]
	for _, rs := range vs.RealServers {
		if rs.Addr == netip.MustParseAddr(addr) {
			return m.Snapshot().RealServerUp(vs, rs)
		}
	}
	panic(addr)
}

// TestStartupFirstFailureRemoves: keepalived 2.2.7 starts every checker
// with retry_it = retry, so at start-up a real server is removed on its
// first failed check, not after retry+1 (check_data.c
// validate_check_config, check_tcp.c tcp_epilog).
func TestStartupFirstFailureRemoves(t *testing.T) {
	cfg := startupConfig(false, "10.0.1.1", "10.0.1.2")
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !up(m, cfg, "10.0.1.1") {
		t.Fatal("a real server without alpha must start up")
	}
	fail(m, "10.0.1.1", 1)
	if up(m, cfg, "10.0.1.1") {
		t.Fatal("first failed check at start-up did not remove the real server")
	}
	// Back up, then the usual retry count applies: retry 3 = 4 failures.
	m.mu.Lock()
	for _, st := range m.checks {
		st.tr.observe(true, -1, st.cfg)
	}
	m.recompute()
	m.mu.Unlock()
	if !up(m, cfg, "10.0.1.1") {
		t.Fatal("success did not bring it back")
	}
	fail(m, "10.0.1.1", 3)
	if !up(m, cfg, "10.0.1.1") {
		t.Fatal("after the first verdict, retry 3 must allow 3 failed retries")
	}
	fail(m, "10.0.1.1", 1)
	if up(m, cfg, "10.0.1.1") {
		t.Fatal("the 4th failure in a row must remove it")
	}
}

// TestReloadStartStates: at reload, keepalived keeps the state of
// checkers that exist before and after; a new real server's checker
// starts up and needs retry+1 failures (keepalived sets retry_it only at
// start, and migrate_checkers only for real servers that existed).
func TestReloadStartStates(t *testing.T) {
	cfg := startupConfig(false, "10.0.1.1")
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	fail(m, "10.0.1.1", 1)
	cfg2 := startupConfig(false, "10.0.1.1", "10.0.1.3")
	if err := m.Update(cfg2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if up(m, cfg2, "10.0.1.1") {
		t.Error("a down real server came back up on reload")
	}
	if !up(m, cfg2, "10.0.1.3") {
		t.Fatal("a new real server must start up")
	}
	fail(m, "10.0.1.3", 3)
	if !up(m, cfg2, "10.0.1.3") {
		t.Error("a real server added on reload went down before retry+1 failures")
	}
	fail(m, "10.0.1.3", 1)
	if up(m, cfg2, "10.0.1.3") {
		t.Error("retry+1 failures did not remove the real server added on reload")
	}
}

type recordRunner struct {
	mu  sync.Mutex
	ran [][]string
}

func (r *recordRunner) run(_ context.Context, s *config.Script, args ...string) (int, error) {
	r.mu.Lock()
	r.ran = append(r.ran, append(append([]string{}, s.Argv...), args...))
	r.mu.Unlock()
	return 0, nil
}

// TestAlphaFirstFailureNotifies: an alpha checker starts down, and its
// first failure runs notify_down though nothing changed
// (update_svr_checker_state: "if (checker->alpha || !alive)
// do_rs_notifies").
func TestAlphaFirstFailureNotifies(t *testing.T) {
	cfg := startupConfig(true, "10.0.1.1")
	rec := &recordRunner{}
	m := NewManager(nil, rec.run, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if up(m, cfg, "10.0.1.1") {
		t.Fatal("alpha must start down")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	fail(m, "10.0.1.1", 1)
	fail(m, "10.0.1.1", 1) // not the first verdict: no second notify
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		n := len(rec.ran)
		rec.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ran) != 1 || rec.ran[0][0] != "/bin/down" {
		t.Fatalf("scripts run %v, want one notify_down", rec.ran)
	}
}
