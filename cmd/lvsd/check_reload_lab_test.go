package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestCheckerReloadIdentity: lvsd run -C in a namespace, one TCP_CHECK
// whose real server refuses (nothing listens). A reload keeps a checker
// whose identity is unchanged (keepalived 2.2.7's migrate_checkers:
// compare_tcp_check compares only the connection options), so changing
// retry leaves the real server down; changing connect_timeout makes it a
// new checker, and keepalived's rules for new checkers put the real
// server back (no failed checker left: perform_svr_state, "Adding
// service") until that checker's first failure takes it down again
// (retry_it = retry). Read from lvsd's "real server" log lines (the
// reload's turn also goes to lvs_notify_fifo, as keepalived writes it:
// internal/daemon.TestAlertHooksReloadTurn). keepalived itself needs IPVS,
// which only the lab VM has: it runs the same scenario there
// (internal/check.TestVMCheckReloadIdentityVsKeepalived).
func TestCheckerReloadIdentity(t *testing.T) {
	l := newVRRPLab(t, "mx", "d1")
	conf := func(checker string) string {
		return "global_defs {\n  router_id lab\n}\n" +
			"virtual_server 10.9.0.100 80 {\n  protocol TCP\n  delay_loop 1\n" +
			"  real_server 10.9.0.1 8080 {\n    TCP_CHECK {\n" + checker + "\n    }\n  }\n}\n"
	}
	p := l.startRaw("lvsd", "d1", conf("connect_timeout 1"), "-C")
	const turn = `msg="real server" virtual_server=10.9.0.100:80/TCP real_server=10.9.0.1:8080 up=`
	var turns []string
	count := func(up string) int {
		turns = turns[:0]
		for _, line := range strings.Split(p.log.String(), "\n") {
			if i := strings.Index(line, turn); i >= 0 {
				turns = append(turns, line[i+len(turn):])
			}
		}
		n := 0
		for _, v := range turns {
			if v == up {
				n++
			}
		}
		return n
	}
	const down, up = "false", "true"
	labtest.WaitFor(t, "the real server's first failure", 20*time.Second, func() bool { return count(down) == 1 })
	reload := func(checker string) {
		t.Helper()
		before := strings.Count(p.log.String(), "msg=reloaded")
		if err := os.WriteFile(p.conf, []byte(conf(checker)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		labtest.WaitFor(t, "the reload", 10*time.Second, func() bool { return strings.Count(p.log.String(), "msg=reloaded") > before })
	}

	// retry is not compared: the same checker, still failed.
	reload("connect_timeout 1\n      retry 3")
	time.Sleep(4 * time.Second) // four delay_loops
	if n := count(up); n != 0 {
		t.Fatalf("changing retry brought the real server back (%d times): the checker's failed state was not kept", n)
	}

	// connect_timeout is: a new checker, the real server back until its
	// first failure.
	reload("connect_timeout 2\n      retry 3")
	labtest.WaitFor(t, "the real server back on reload", 10*time.Second, func() bool { return count(up) == 1 })
	labtest.WaitFor(t, "the new checker's first failure", 15*time.Second, func() bool { return count(down) == 2 })
	count(up) // fills turns
	if strings.Join(turns, " ") != "false true false" {
		t.Errorf("real server turns %q, want down, up (the reload), down (the first failure)", turns)
	}
}
