package script

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// A flood of transitions never runs more than the notifier's bounds of
// scripts; what is dropped is counted.
func TestNotifierBounds(t *testing.T) {
	n := NewNotifier(nil)
	release := make(chan struct{})
	var mu sync.Mutex
	running, peak, ran := 0, 0, 0
	run := func(ctx context.Context, s *config.Script, args ...string) (int, error) {
		mu.Lock()
		running++
		ran++
		peak = max(peak, running)
		mu.Unlock()
		select {
		case <-release:
		case <-ctx.Done():
		}
		mu.Lock()
		running--
		mu.Unlock()
		return 0, nil
	}
	sc := &config.Script{Argv: []string{"/bin/notify"}}
	for i := range 600 {
		n.Submit(fmt.Sprintf("VI_%d", i%3), run, sc, "INSTANCE", "x", "MASTER")
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	if !n.Close(2*time.Second, time.Second) {
		t.Fatal("scripts still running after close")
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > maxRunning {
		t.Errorf("%d scripts at once, bound %d", peak, maxRunning)
	}
	if want := maxRunning + 3*maxPendingPerKey; ran > want {
		t.Errorf("%d scripts ran for 600 transitions of 3 instances, want at most %d", ran, want)
	}
	if got := n.Dropped.Load(); got != uint64(600-ran) {
		t.Errorf("dropped %d, ran %d: %d transitions unaccounted for", got, ran, 600-ran-int(got))
	}
	if by := n.DroppedFor("VI_0") + n.DroppedFor("VI_1") + n.DroppedFor("VI_2"); by != n.Dropped.Load() {
		t.Errorf("dropped %d in all, %d by instance", n.Dropped.Load(), by)
	}
}
