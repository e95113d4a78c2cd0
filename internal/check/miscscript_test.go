package check

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/script"
	"golang.org/x/sys/unix"
)

// A MISC_CHECK script that times out is killed with every child it put
// in the background, each cycle, and a stop of the checker ends the
// script in flight the same way: no orphans are left behind.
func TestMiscCheckTimeoutLeavesNoOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("runs MISC_CHECK cycles for a few seconds")
	}
	// Orphans come back to this process, which reaps them, rather than
	// to a PID 1 that may not.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	dir, err := os.MkdirTemp("", "lvsd-misc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pids, kids := filepath.Join(dir, "pids"), filepath.Join(dir, "kids")
	path := filepath.Join(dir, "misc.sh")
	body := "#!/bin/sh\necho $$ >> \"$1\"\n" +
		"sleep 60 & echo $! >> \"$2\"\n" +
		"( sleep 60 & echo $! >> \"$2\"; sleep 60 ) & echo $! >> \"$2\"\n" +
		"sleep 60\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := labtest.Config(t, fmt.Sprintf(`
global_defs {
  script_user root
}
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 80 {
    MISC_CHECK {
      misc_path "%s %s %s"
      misc_timeout 1
      delay_loop 1
    }
  }
}`, path, pids, kids))
	r := script.New(slog.New(slog.DiscardHandler), &cfg.Global)
	r.Grace = 200 * time.Millisecond
	m := NewManager(nil, r.Run, 2, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	var groups, children []int
	t.Cleanup(func() {
		for _, p := range children {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	})
	// Two timed-out cycles, then a stop during the third.
	labtest.WaitFor(t, "three MISC_CHECK runs", 10*time.Second, func() bool {
		b, _ := os.ReadFile(pids)
		return strings.Count(string(b), "\n") >= 3
	})
	stop := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the checker did not stop within 2 s of its context's end")
	}
	t.Logf("stopped %v after cancel", time.Since(stop).Round(time.Millisecond))
	groups, children = readInts(pids), readInts(kids)
	if len(children) < 3*(len(groups)-1) {
		// (The run in flight at the stop may not have got that far.)
		t.Fatalf("%d runs recorded %d children, want 3 each", len(groups), len(children))
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, p := range children {
		for labtest.ProcessAlive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if labtest.ProcessAlive(p) {
			t.Errorf("process %d started by a timed-out MISC_CHECK is still alive", p)
		}
	}
	for _, g := range groups {
		for len(labtest.GroupMembers(g)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(labtest.GroupMembers(g)); n > 0 {
			t.Errorf("process group %d of a timed-out MISC_CHECK still has %d live processes", g, n)
		} else if err := syscall.Kill(-g, 0); err != syscall.ESRCH {
			t.Errorf("kill(-%d, 0) = %v, want ESRCH", g, err)
		}
	}
}

func readInts(file string) []int {
	b, _ := os.ReadFile(file)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
