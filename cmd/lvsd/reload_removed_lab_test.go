package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestReloadRemovedInstanceMatchesKeepalived: a SIGHUP to a configuration
// without two of three MASTER instances, under keepalived 2.2.7 and lvsd
// in the same run. keepalived's clear_diff_vrrp lets each go (priority 0,
// VIPs removed) and reports it FAULT, running notify_fault, or DELETED
// with notify_deleted, running its script; the generic notify script gets
// the same word. The kept instance reports nothing. The notify FIFO lines
// and the scripts' runs must be the same under both daemons.
func TestReloadRemovedInstanceMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	dir := t.TempDir()
	instance := func(name string, vrid int, vip, extra string) string {
		return fmt.Sprintf(`vrrp_instance %s {
  state BACKUP
  interface eth0
  virtual_router_id %d
  version 3
  priority 150
  advert_int 1
  virtual_ipaddress {
    %s/24
  }
%s}
`, name, vrid, vip, extra)
	}
	got, runs := map[string][]string{}, map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(dir, kind+".fifo")
		out := filepath.Join(dir, kind+".runs")
		script := filepath.Join(dir, kind+"-notify.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		global := fmt.Sprintf("global_defs {\n  router_id lab\n  notify_fifo %s\n  script_user root\n}\n", fifo)
		kept := instance("VI_3", 53, "10.9.0.103", "")
		full := global +
			instance("VI_1", 51, labVIP, fmt.Sprintf("  notify %s\n  notify_fault \"%s fault VI_1\"\n", script, script)) +
			instance("VI_2", 52, "10.9.0.102", fmt.Sprintf("  notify %s\n  notify_deleted \"%s deleted VI_2\"\n", script, script)) +
			kept
		// Made here, so that keepalived, which did not make it, keeps it
		// across its reload (it unlinks and makes again a FIFO it made).
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", full, "-P")
		l.waitFor(kind+": three masters", masterDown(150)+5*time.Second, func() bool {
			return l.hasVIP("d1") && l.hasAddr("d1", "10.9.0.102") && l.hasAddr("d1", "10.9.0.103")
		})
		labtest.WaitFor(t, kind+": three MASTER lines", 5*time.Second, func() bool { return strings.Count(strings.Join(tap.lines(), "\n"), " MASTER ") == 3 })
		labtest.WaitFor(t, kind+": the notify scripts ran for MASTER", 5*time.Second, func() bool {
			r := strings.Join(readLines(t, out), "\n")
			return strings.Contains(r, "INSTANCE VI_1 MASTER 150") && strings.Contains(r, "INSTANCE VI_2 MASTER 150")
		})
		before, fifoBefore := len(readLines(t, out)), len(tap.lines())
		if err := os.WriteFile(p.conf, []byte(global+kept), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Process.Signal(syscall.SIGHUP)
		l.waitFor(kind+": the removed instances' VIPs go", 5*time.Second, func() bool { return !l.hasVIP("d1") && !l.hasAddr("d1", "10.9.0.102") })
		// Give both daemons the same time to report, then compare.
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if len(tap.lines()) >= fifoBefore+2 && len(readLines(t, out)) >= before+4 {
				break
			}
		}
		if !l.hasAddr("d1", "10.9.0.103") {
			t.Errorf("%s: the kept instance lost its VIP", kind)
		}
		time.Sleep(500 * time.Millisecond)
		p.signal(t, syscall.SIGTERM)
		got[kind] = tap.close()
		runs[kind] = readLines(t, out)
		t.Logf("%s: notify_fifo:\n%s\nscripts:\n%s", kind, strings.Join(got[kind], "\n"), strings.Join(runs[kind], "\n"))
		slices.Sort(runs[kind])
	}
	k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n")
	if !strings.Contains(k, `INSTANCE "VI_1" FAULT 150`) || !strings.Contains(k, `INSTANCE "VI_2" DELETED 150`) {
		t.Errorf("keepalived did not write the lines the test expects:\n%s", k)
	}
	if k != v {
		t.Errorf("notify_fifo differs:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
	if !slices.Equal(runs["keepalived"], runs["lvsd"]) {
		t.Errorf("scripts ran differently (sorted):\n--- keepalived\n%s\n--- lvsd\n%s", strings.Join(runs["keepalived"], "\n"), strings.Join(runs["lvsd"], "\n"))
	}
}
