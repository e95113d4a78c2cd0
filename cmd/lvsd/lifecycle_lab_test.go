package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLifecycleScriptsMatchKeepalived: keepalived 2.2.7 and lvsd in turn
// on director d1 with startup_script (it notes whether the VIP is there,
// then takes 2 s) and shutdown_script (it notes the same). Under both the
// startup script runs before the instance starts (no VIP, and MASTER
// only after its 2 s and the master-down interval), a reload does not run
// it again, and the shutdown script runs after the VIP is gone.
func TestLifecycleScriptsMatchKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		_ = os.Chmod(d, 0o755)
	}
	out := filepath.Join(dir, "out")
	mk := func(name, extra string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("#!/bin/sh\necho \"%s vip=$(ip -4 addr show dev eth0 | grep -c %s/)\" >> %s\n%s\n", name, labVIP, out, extra)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	global := fmt.Sprintf("global_defs {\n  startup_script %s\n  shutdown_script %s\n}\n", mk("startup", "sleep 2"), mk("shutdown", ""))
	results := map[string]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		_ = os.Remove(out)
		start := time.Now()
		p := l.startRaw(kind, "d1", vrrpConf{priority: 150, version: 3, global: global}.render(), "-P")
		l.waitFor(kind+" master", 2*time.Second+masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		took := time.Since(start)
		if took < 2*time.Second+masterDown(150)-500*time.Millisecond {
			t.Errorf("%s was MASTER %s after start: it did not wait for the 2 s startup script", kind, took)
		}
		_ = p.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(3 * time.Second)
		p.signal(t, syscall.SIGTERM)
		b, _ := os.ReadFile(out)
		results[kind] = strings.TrimSpace(string(b))
		t.Logf("%s: MASTER after %s; scripts: %q", kind, took.Round(time.Millisecond), results[kind])
	}
	if want := "startup vip=0\nshutdown vip=0"; results["keepalived"] != want || results["lvsd"] != want {
		t.Errorf("scripts: keepalived %q, lvsd %q; want both %q", results["keepalived"], results["lvsd"], want)
	}
}
