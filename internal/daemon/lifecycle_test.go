package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestLifecycleScriptsThroughARun: startup_script runs before lvsd
// programs anything and is waited for; shutdown_script runs after lvsd
// has removed its services, and Run waits for it; a reload does not run
// the startup script again, and the reloaded shutdown script is the one
// run. Each script blocks on a FIFO the test opens when it has looked at
// the kernel, so the order is checked, not timed.
func TestLifecycleScriptsThroughARun(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := func(name string) string {
		path := filepath.Join(dir, name)
		fifo := path + ".fifo"
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("#!/bin/sh\necho %s-begin >> %s\ncat %s > /dev/null\necho %s-end >> %s\n", name, log, fifo, name, log)
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	release := func(name string) {
		f, err := os.OpenFile(filepath.Join(dir, name+".fifo"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	lines := func() string { b, _ := os.ReadFile(log); return strings.TrimSpace(string(b)) }
	conf := func(shutdown string) string {
		return fmt.Sprintf("global_defs {\n  startup_script %s\n  shutdown_script %s\n  shutdown_script_timeout 30\n}\n", script("startup"+shutdown), script(shutdown)) + baseConf
	}
	kernel := ipvs.NewFakeKernel()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf("shutdown1")), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs labtest.LogBuffer
	signals, done := make(chan os.Signal, 1), make(chan error, 1)
	opts := Options{ConfigFile: path, StateDir: dir, Log: logs.Logger(),
		Kernel: func() (ipvs.Kernel, error) { return kernel, nil }, Sysctl: newFakeSysctl()}
	go func() { done <- Run(context.Background(), opts, signals) }()

	labtest.WaitFor(t, "the startup script", 5*time.Second, func() bool { return lines() == "startupshutdown1-begin" })
	time.Sleep(100 * time.Millisecond)
	if n := kernel.WriteCount(); n != 0 {
		t.Errorf("%d IPVS writes while the startup script runs, want 0", n)
	}
	release("startupshutdown1")
	labtest.WaitFor(t, "the services", 5*time.Second, func() bool { return kernel.WriteCount() == 3 })

	// A reload: no startup script; the new shutdown script replaces the old.
	if err := os.WriteFile(path, []byte(conf("shutdown2")), 0o644); err != nil {
		t.Fatal(err)
	}
	signals <- syscall.SIGHUP
	labtest.WaitFor(t, "the reload", 5*time.Second, func() bool { return strings.Contains(logs.String(), "reload") })
	time.Sleep(200 * time.Millisecond)

	signals <- syscall.SIGTERM
	labtest.WaitFor(t, "the shutdown script", 5*time.Second, func() bool { return strings.HasSuffix(lines(), "shutdown2-begin") })
	if tab, err := kernel.ReadTable(context.Background(), ipvs.ReadOptions{}); err != nil || len(tab) != 0 {
		t.Errorf("the shutdown script runs while lvsd's services are still there: %v (%v)", tab, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before the shutdown script ended", err)
	case <-time.After(200 * time.Millisecond):
	}
	release("shutdown2")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := lines(), "startupshutdown1-begin\nstartupshutdown1-end\nshutdown2-begin\nshutdown2-end"; got != want {
		t.Errorf("scripts ran:\n%s\nwant:\n%s", got, want)
	}
}

// TestStartupScriptTimeout: a startup script that outlives
// startup_script_timeout is killed (its process group) and logged, and
// lvsd starts; one that fails is logged with its status, and lvsd starts.
func TestStartupScriptTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"timeout", "sleep 30", `msg="startup script timed out"`},
		{"failure", "exit 3", `msg="startup script failed" script=SCRIPT status=3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := filepath.Join(dir, "startup")
			if err := os.WriteFile(s, []byte("#!/bin/sh\n"+tc.body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(path, []byte("global_defs {\n  startup_script "+s+"\n  startup_script_timeout 1\n}\n"+baseConf), 0o644); err != nil {
				t.Fatal(err)
			}
			kernel := ipvs.NewFakeKernel()
			var logs labtest.LogBuffer
			signals, done := make(chan os.Signal, 1), make(chan error, 1)
			opts := Options{ConfigFile: path, StateDir: dir, Log: logs.Logger(),
				Kernel: func() (ipvs.Kernel, error) { return kernel, nil }, Sysctl: newFakeSysctl()}
			start := time.Now()
			go func() { done <- Run(context.Background(), opts, signals) }()
			labtest.WaitFor(t, "the services", 10*time.Second, func() bool { return kernel.WriteCount() == 3 })
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("lvsd started %s after a startup script with a 1 s timeout", took)
			}
			if want := strings.ReplaceAll(tc.want, "SCRIPT", s); !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
			signals <- syscall.SIGTERM
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
