package check

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMCheckReloadIdentityVsKeepalived (lab VM, run by TestLabDedup):
// keepalived 2.2.7's checker and lvsd's checker manager, in the same run,
// one TCP_CHECK whose real server refuses. Both take it out at the first
// failure; a reload that changes retry (not compared by keepalived's
// compare_tcp_check) keeps it out; a reload that changes connect_timeout
// (compared: a new checker) puts it back (keepalived's "Adding service",
// migrate_checkers with no failed checker left) until the new checker's
// first failure takes it out again.
func TestVMCheckReloadIdentityVsKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // refused from now on
	conf := func(checker string) string {
		return fmt.Sprintf("virtual_server 10.7.9.1 80 {\n  protocol TCP\n  lb_kind NAT\n  lb_algo rr\n  delay_loop 1\n"+
			"  real_server 127.0.0.1 %d {\n    weight 1\n    TCP_CHECK {\n      %s\n    }\n  }\n}\n", port, strings.ReplaceAll(checker, ";", "\n      "))
	}
	const (
		first    = "connect_timeout 1"
		retry    = "connect_timeout 1;retry 3"
		timeout2 = "connect_timeout 2;retry 3"
	)

	// keepalived 2.2.7: its turns from its log.
	dir := t.TempDir()
	path := filepath.Join(dir, "k.conf")
	write := func(c string) {
		if err := os.WriteFile(path, []byte(conf(c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(first)
	pid := filepath.Join(dir, "k.pid")
	cmd := exec.Command(keepalived, "-C", "-n", "-l", "-D", "-f", path, "-p", pid, "-c", pid+".c")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		labtest.Terminate(cmd, 10*time.Second)
		_ = exec.Command("ipvsadm", "-C").Run()
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	rs := fmt.Sprintf("[127.0.0.1]:tcp:%d", port)
	kaTurns := func() string {
		var turns []string
		for _, line := range strings.Split(out.String(), "\n") {
			switch {
			case strings.Contains(line, "Removing service "+rs):
				turns = append(turns, "down")
			case strings.Contains(line, "Adding service "+rs):
				turns = append(turns, "up")
			}
		}
		return strings.Join(turns, " ")
	}
	hup := func(c string) {
		write(c)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	labtest.WaitFor(t, "keepalived's first failure", 20*time.Second, func() bool { return kaTurns() == "down" })
	hup(retry)
	time.Sleep(4 * time.Second)
	kaAfterRetry := kaTurns()
	hup(timeout2)
	labtest.WaitFor(t, "keepalived: back and out again", 20*time.Second, func() bool { return kaTurns() == "down up down" })
	stop()
	stopped = true
	t.Logf("keepalived 2.2.7 turns: after retry change %q, after connect_timeout change %q", kaAfterRetry, kaTurns())
	if kaAfterRetry != "down" {
		t.Errorf("keepalived after the retry change: %q, want down only: the reference did not behave as expected\n%s", kaAfterRetry, out.String())
	}

	// lvsd's checker manager, the same configurations.
	load := func(c string) *config.Config { return labtest.Config(t, conf(c)) }
	var (
		mu    sync.Mutex
		turns []string
		last  = true
	)
	cfg := load(first)
	m := NewManager(nil, nil, 4, nil)
	observe := func() {
		mu.Lock()
		defer mu.Unlock()
		up := m.Snapshot().RealServerUp(cfg.VirtualServers[0], cfg.VirtualServers[0].RealServers[0])
		if up != last {
			turns = append(turns, map[bool]string{true: "up", false: "down"}[up])
			last = up
		}
	}
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	polled := make(chan struct{})
	go func() {
		// A turn lasts at least until the next check (delay_loop 1).
		defer close(polled)
		for ctx.Err() == nil {
			observe()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-done; <-polled }()
	lvsdTurns := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(turns, " ")
	}
	reload := func(c string) {
		next := load(c)
		// The real server is the same: observe reads it from either.
		if err := m.Update(next, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	labtest.WaitFor(t, "lvsd's first failure", 20*time.Second, func() bool { return lvsdTurns() == "down" })
	reload(retry)
	time.Sleep(4 * time.Second)
	lvsdAfterRetry := lvsdTurns()
	reload(timeout2)
	labtest.WaitFor(t, "lvsd: back and out again", 20*time.Second, func() bool { return lvsdTurns() == "down up down" })
	t.Logf("lvsd turns: after retry change %q, after connect_timeout change %q", lvsdAfterRetry, lvsdTurns())
	if lvsdAfterRetry != kaAfterRetry {
		t.Errorf("after the retry change: lvsd %q, keepalived 2.2.7 %q", lvsdAfterRetry, kaAfterRetry)
	}
}
