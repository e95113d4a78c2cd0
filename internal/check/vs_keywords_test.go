package check

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// TestFastRecovery: an HTTP_GET without fast_recovery brings a failed
// server back only after a second passing check, delay_loop later
// (keepalived's failed url restarts the url list on the delay_loop
// timer); with fast_recovery, or for TCP_CHECK, the first pass does.
func TestFastRecovery(t *testing.T) {
	for _, tc := range []struct {
		typ       config.CheckerType
		fast      bool
		wantTwice bool
	}{
		{config.CheckHTTP, false, true},
		{config.CheckSSL, false, true},
		{config.CheckHTTP, true, false},
		{config.CheckTCP, false, false},
	} {
		c := &config.Checker{Type: tc.typ, FastRecovery: tc.fast, Retry: 0, DelayLoop: 7 * time.Second, DelayBeforeRetry: time.Second}
		tr := tracker{up: true, weight: -1, hasRun: true}
		if changed, _ := tr.observe(false, -1, c); !changed || tr.up {
			t.Fatalf("%s: failure did not take it down", tc.typ)
		}
		changed, next := tr.observe(true, -1, c)
		if tc.wantTwice {
			if changed || tr.up || next != c.DelayLoop {
				t.Errorf("%s without fast_recovery: first pass changed=%v up=%v next=%v, want no change, next check after delay_loop", tc.typ, changed, tr.up, next)
			}
			// A failure in between starts over.
			tr.observe(false, -1, c)
			tr.observe(true, -1, c)
			if tr.up {
				t.Errorf("%s: up after fail, pass", tc.typ)
			}
			changed, _ = tr.observe(true, -1, c)
		}
		if !changed || !tr.up {
			t.Errorf("%s fast_recovery=%v: not back up (changed=%v)", tc.typ, tc.fast, changed)
		}
	}
}

func scriptCfg(omega bool, flush string) *config.Config {
	vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP, Quorum: 1, Omega: omega,
		QuorumDown: &config.Script{Argv: []string{"/bin/quorum_down"}}}
	rs := &config.RealServer{Addr: netip.MustParseAddr("10.0.1.1"), Port: 80, Weight: 1,
		NotifyDown: &config.Script{Argv: []string{"/bin/notify_down"}}}
	rs.Checkers = []*config.Checker{{Type: config.CheckTCP, ConnectPort: 80, DelayLoop: time.Hour, ConnectTimeout: time.Second}}
	vs.RealServers = []*config.RealServer{rs}
	return &config.Config{Global: config.Global{LVSFlushOnStop: flush}, VirtualServers: []*config.VirtualServer{vs}}
}

// runAndStop starts m, lets it run briefly and stops it; it returns the
// scripts run.
func runAndStop(t *testing.T, m *Manager, rec *recordRunner, between func()) [][]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if between != nil {
		between()
	}
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([][]string{}, rec.ran...)
}

// TestOmega: at shutdown a virtual server with omega runs notify_down of
// its real servers in service and quorum_down (keepalived's
// clear_service_rs/update_vs_notifies when stopping); with
// lvs_flush_onstop only quorum_down; without omega nothing.
func TestOmega(t *testing.T) {
	for _, tc := range []struct {
		omega bool
		flush string
		want  []string
	}{
		{true, "", []string{"/bin/notify_down", "/bin/quorum_down"}},
		{true, "VS", []string{"/bin/quorum_down"}},
		{false, "", nil},
	} {
		rec := &recordRunner{}
		m := NewManager(nil, rec.run, 1, nil)
		if err := m.Update(scriptCfg(tc.omega, tc.flush), time.Now()); err != nil {
			t.Fatal(err)
		}
		ran := runAndStop(t, m, rec, nil)
		var got []string
		for _, r := range ran {
			got = append(got, r[0])
		}
		// Scripts of different servers run side by side: compare as sets.
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("omega=%v flush=%q: ran %v, want %v", tc.omega, tc.flush, got, tc.want)
		}
	}
}

// TestRemovedRealServerNotifies: a real server in service that a reload
// removes runs its notify_down (clear_service_rs on reload).
func TestRemovedRealServerNotifies(t *testing.T) {
	rec := &recordRunner{}
	m := NewManager(nil, rec.run, 1, nil)
	cfg := scriptCfg(false, "")
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ran := runAndStop(t, m, rec, func() {
		next := scriptCfg(false, "")
		next.VirtualServers[0].RealServers[0].Addr = netip.MustParseAddr("10.0.1.2")
		if err := m.Update(next, time.Now()); err != nil {
			t.Error(err)
		}
		time.Sleep(200 * time.Millisecond)
	})
	if len(ran) != 1 || ran[0][0] != "/bin/notify_down" {
		t.Errorf("ran %v, want the removed server's notify_down", ran)
	}
}

// TestHASuspend: the checkers of an ha_suspend virtual server do not run
// while its address is not on this host, and run once it is.
func TestHASuspend(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.9.9.9"), Port: 80, Protocol: config.ProtoTCP, Quorum: 1, HASuspend: true}
	rs := &config.RealServer{Addr: ap.Addr(), Port: ap.Port(), Weight: 1}
	rs.Checkers = []*config.Checker{{Type: config.CheckTCP, ConnectPort: ap.Port(), DelayLoop: 50 * time.Millisecond, ConnectTimeout: time.Second}}
	vs.RealServers = []*config.RealServer{rs}
	cfg := &config.Config{VirtualServers: []*config.VirtualServer{vs}}
	m := NewManager(nil, nil, 1, nil)
	m.SetLocalAddresses([]netip.Addr{netip.MustParseAddr("192.0.2.1")})
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if s := m.Suspended(); len(s) != 1 {
		t.Fatalf("suspended %v", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	time.Sleep(1500 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d checks ran while the virtual server's address was not local", n)
	}
	m.SetLocalAddresses([]netip.Addr{netip.MustParseAddr("10.9.9.9")})
	deadline := time.Now().Add(20 * time.Second)
	for conns.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := conns.Load(); n < 3 {
		t.Fatalf("only %d checks after the address came", n)
	}
	if s := m.Suspended(); len(s) != 0 {
		t.Errorf("still suspended: %v", s)
	}
}
