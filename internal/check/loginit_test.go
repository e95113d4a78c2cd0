package check

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestLogAllFailures: log_all_failures (in the checker, or
// checker_log_all_failures for all) logs each failure while the checker
// is up, the one that takes it down included, and none while it is down
// (keepalived 2.2.7's check_tcp.c); HTTP_GET logs before its first
// verdict too. Without either, no failure is logged.
func TestLogAllFailures(t *testing.T) {
	for _, tc := range []struct {
		name, global, checker string
		want                  int
	}{
		{"none", "", "TCP_CHECK {\n retry 2\n }", 0},
		{"checker", "", "TCP_CHECK {\n retry 2\n log_all_failures\n }", 3},
		{"global", "global_defs {\n checker_log_all_failures\n}\n", "TCP_CHECK {\n retry 2\n }", 3},
		{"global off", "global_defs {\n checker_log_all_failures off\n}\n", "TCP_CHECK {\n retry 2\n }", 0},
		{"alpha TCP starts down", "global_defs {\n checker_log_all_failures\n}\n", "TCP_CHECK {\n retry 2\n alpha\n }", 0},
		{"alpha HTTP logs its first", "global_defs {\n checker_log_all_failures\n}\n", "HTTP_GET {\n url {\n path /\n status_code 200\n }\n retry 2\n alpha\n }", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := labtest.Config(t, tc.global+"virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 127.0.0.1 9 {\n "+tc.checker+"\n }\n}\n")
			var buf bytes.Buffer
			m := NewManager(slog.New(slog.NewTextHandler(&buf, nil)), nil, 1, nil)
			if err := m.Update(cfg, time.Now()); err != nil {
				t.Fatal(err)
			}
			var st *checkState
			for _, s := range m.checks {
				st = s
			}
			if !strings.Contains(tc.checker, "alpha") {
				// At start-up keepalived takes a checker down at its
				// first failure: count from one that has passed.
				m.handle(result{st: st, ok: true, weight: -1, at: time.Now()})
			}
			for range 6 {
				m.handle(result{st: st, ok: false, weight: -1, err: errors.New("connection refused"), at: time.Now()})
			}
			if got := strings.Count(buf.String(), `msg="check failed"`); got != tc.want {
				t.Errorf("%d failures logged, want %d:\n%s", got, tc.want, buf.String())
			}
		})
	}
}

// TestRSInitNotifies: with rs_init_notifies a real server that starts up
// runs its notify_up (keepalived 2.2.7's init_service_rs); an alpha one
// does not, nor one kept across a reload; a new one at a reload does.
func TestRSInitNotifies(t *testing.T) {
	conf := func(global string, rss ...string) *config.Config {
		var b strings.Builder
		b.WriteString(global + "virtual_server 10.0.0.1 80 {\n protocol TCP\n")
		for _, rs := range rss {
			name, alpha, _ := strings.Cut(rs, " ")
			b.WriteString(" real_server " + name + " 80 {\n  notify_up \"/bin/up " + name + "\"\n  TCP_CHECK {\n   delay_loop 3600\n   " + alpha + "\n  }\n }\n")
		}
		b.WriteString("}\n")
		return labtest.Config(t, b.String())
	}
	for _, on := range []bool{true, false} {
		var mu sync.Mutex
		var ran []string
		run := func(ctx context.Context, s *config.Script, args ...string) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, strings.Join(s.Argv, " "))
			return 0, nil
		}
		global := ""
		if on {
			global = "global_defs {\n rs_init_notifies\n}\n"
		}
		m := NewManager(nil, run, 1, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		if err := m.Update(conf(global, "10.0.1.1", "10.0.1.9 alpha"), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := m.Update(conf(global, "10.0.1.1", "10.0.1.9 alpha", "10.0.1.2"), time.Now()); err != nil {
			t.Fatal(err)
		}
		want := []string{"/bin/up 10.0.1.1", "/bin/up 10.0.1.2"}
		if !on {
			want = nil
		}
		labtest.WaitFor(t, "notify_up scripts", 3*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(ran) >= len(want) })
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done
		mu.Lock()
		slices.Sort(ran) // run in parallel, in no set order
		if !slices.Equal(ran, want) {
			t.Errorf("rs_init_notifies %v: scripts %q, want %q", on, ran, want)
		}
		mu.Unlock()
	}
}

// TestAlphaFirstFailureFIFOLine: a checker that starts down (alpha) and
// fails its first check changes nothing, yet keepalived 2.2.7's
// update_svr_checker_state writes the real server's "RS ... DOWN" FIFO
// line (do_rs_notifies): the manager hands it to the daemon once; a
// checker whose first failure takes it down hands nothing (its turn
// carries the line), nor does a later failure.
func TestAlphaFirstFailureFIFOLine(t *testing.T) {
	cfg := labtest.Config(t, "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 127.0.0.1 9 {\n TCP_CHECK {\n alpha\n }\n }\n real_server 127.0.0.2 9 {\n TCP_CHECK {\n }\n }\n}\n")
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, st := range m.checks {
			m.handle(result{st: st, ok: false, weight: -1, err: errors.New("connection refused"), at: time.Now()})
		}
	}
	got := m.TakeRSNotifies()
	if len(got) != 1 || got[0].RS.String() != "127.0.0.1:9" || got[0].Up {
		t.Errorf("notifications %+v, want one: 127.0.0.1:9 down", got)
	}
	if again := m.TakeRSNotifies(); len(again) != 0 {
		t.Errorf("taken twice: %+v", again)
	}
}
