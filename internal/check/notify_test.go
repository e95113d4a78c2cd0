package check

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/script"
)

// notify_up/down and quorum scripts are queued, never waited for by the
// checker loop, and cancelled (their process groups killed by the runner)
// when the manager stops: a stop is bounded whatever they do.
func TestNotifyScriptsEndWithTheManager(t *testing.T) {
	var running, cancelled atomic.Int32
	run := func(ctx context.Context, s *config.Script, args ...string) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		select {
		case <-ctx.Done():
			cancelled.Add(1)
			return -1, ctx.Err()
		case <-time.After(time.Minute):
			return 0, nil
		}
	}
	m := NewManager(nil, run, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for i := range 20 {
		m.script("vs rs", &config.Script{Argv: []string{"/usr/local/bin/notify", string(rune('a' + i))}})
	}
	labtest.WaitFor(t, "notify scripts running", 3*time.Second, func() bool { return running.Load() > 0 })
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(script.StopDrain + script.StopKill + time.Second):
		t.Fatal("the manager waited for its notify scripts")
	}
	if took := time.Since(start); took > script.StopDrain+script.StopKill+500*time.Millisecond {
		t.Errorf("stop took %s", took)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("%d notify scripts still running after the manager stopped", n)
	}
	if cancelled.Load() == 0 {
		t.Error("no script was cancelled")
	}
}
