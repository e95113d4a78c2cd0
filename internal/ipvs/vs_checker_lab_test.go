package ipvs

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func startKeepalived(t *testing.T, conf string) *exec.Cmd {
	t.Helper()
	keepalived := labtest.NeedBinary(t, "keepalived")
	path := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(t.TempDir(), "k.pid")
	cmd := exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() })
	return cmd
}

// TestVMCheckerStartupMatchesKeepalived: with retry 3 and
// delay_before_retry 30, a real server that refuses connections from the
// start is removed on its first failed check by keepalived 2.2.7 (in the
// kernel's table) and by lvsd's checker, both well before one
// delay_before_retry could pass.
func TestVMCheckerStartupMatchesKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	realKernel(t)
	port := closedPort(t)
	conf := fmt.Sprintf(`
virtual_server 10.7.8.1 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 2
    real_server 127.0.0.1 %d {
        TCP_CHECK {
            connect_timeout 1
            retry 3
            delay_before_retry 30
        }
    }
}
`, port)
	const bound = 15 * time.Second // < delay_before_retry: a retry would show
	start := time.Now()
	startKeepalived(t, conf)
	sawRS, removed := false, time.Duration(0)
	for time.Since(start) < 40*time.Second {
		table := ipvsadmSave(t)
		if strings.Contains(table, "-a -t 10.7.8.1:80") {
			sawRS = true
		} else if strings.Contains(table, "-A -t 10.7.8.1:80") && sawRS {
			removed = time.Since(start)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sawRS || removed == 0 || removed > bound {
		t.Fatalf("keepalived: real server added=%v, removed after %v (want under %v)", sawRS, removed, bound)
	}

	cfg := labtest.Config(t, conf)
	m := check.NewManager(nil, nil, 1, nil)
	lstart := time.Now()
	if err := m.Update(cfg, lstart); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	vs := cfg.VirtualServers[0]
	rs := vs.RealServers[0]
	var lremoved time.Duration
	for time.Since(lstart) < 40*time.Second {
		if !m.Snapshot().RealServerUp(vs, rs) {
			lremoved = time.Since(lstart)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lremoved == 0 || lremoved > bound {
		t.Fatalf("lvsd: real server removed after %v (want under %v)", lremoved, bound)
	}
	t.Logf("first failed check removes the real server: keepalived after %v, lvsd after %v (delay_before_retry 30 s)", removed.Round(time.Millisecond), lremoved.Round(time.Millisecond))
}

// TestVMOmegaMatchesKeepalived: with omega, stopping runs notify_down of
// the real server in service and quorum_down, in keepalived 2.2.7 (on
// SIGTERM) and in lvsd (when the checkers stop).
func TestVMOmegaMatchesKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	realKernel(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	scriptPath := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(scriptPath, []byte("#!/bin/sh\necho \"$1\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`
global_defs {
    script_user root
}
virtual_server 10.7.8.2 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    omega
    quorum_down "%[1]s quorum_down"
    real_server 127.0.0.1 %[2]d {
        notify_down "%[1]s notify_down"
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, scriptPath, port)
	read := func() string {
		b, _ := os.ReadFile(out)
		return strings.Join(strings.Fields(string(b)), " ")
	}
	cmd := startKeepalived(t, conf)
	waitForTable(t, 1)
	time.Sleep(3 * time.Second) // a check or two pass
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("keepalived did not stop on SIGTERM")
	}
	time.Sleep(500 * time.Millisecond)
	kRan := read()
	os.Remove(out)

	cfg := labtest.Config(t, conf)
	run := func(ctx context.Context, s *config.Script, args ...string) (int, error) {
		c := exec.CommandContext(ctx, s.Argv[0], append(s.Argv[1:], args...)...)
		err := c.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), nil
		}
		return 0, err
	}
	m := check.NewManager(nil, run, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.Run(ctx); close(stopped) }()
	time.Sleep(3 * time.Second)
	cancel()
	<-stopped
	lRan := read()
	sorted := func(s string) string {
		f := strings.Fields(s)
		if len(f) == 2 && f[0] > f[1] {
			f[0], f[1] = f[1], f[0]
		}
		return strings.Join(f, " ")
	}
	if sorted(kRan) != "notify_down quorum_down" {
		t.Errorf("keepalived ran %q at stop, want notify_down and quorum_down", kRan)
	}
	if sorted(lRan) != sorted(kRan) {
		t.Errorf("lvsd ran %q at stop, keepalived %q", lRan, kRan)
	}
	t.Logf("at stop with omega: keepalived ran %q, lvsd ran %q", kRan, lRan)
}
