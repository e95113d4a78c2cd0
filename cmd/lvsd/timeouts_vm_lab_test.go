package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMLVSTimeoutsMatchKeepalived: lvs_timeouts in the lab VM (IPVS keeps
// its timeouts per network namespace), keepalived 2.2.7 in one namespace
// and lvsd in another, the same configurations and signals: the timeouts
// `ipvsadm -L --timeout` shows after start, after reloads that change
// lvs_timeouts, drop it and set it again, and after stop must be the same
// under both, and the ones keepalived's check_daemon.c gives.
func TestVMLVSTimeoutsMatchKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	labtest.NeedBinary(t, "keepalived")
	ipvsadm := labtest.NeedBinary(t, "ipvsadm")
	l := newVRRPLab(t, "ka", "lv")
	conf := func(timeouts string) string {
		g := "global_defs {\n  router_id lab\n"
		if timeouts != "" {
			g += "  lvs_timeouts " + timeouts + "\n"
		}
		return g + `}
virtual_server 10.9.0.100 80 {
  protocol TCP
  lb_algo rr
  lb_kind DR
  real_server 10.9.0.3 80 {
  }
}
`
	}
	timeouts := func(host string) string {
		out, err := exec.Command("ip", "netns", "exec", l.ns(host), ipvsadm, "-L", "--timeout").CombinedOutput()
		if err != nil {
			return "error: " + strings.TrimSpace(string(out))
		}
		return strings.TrimSpace(string(out))
	}
	both := func(what, want string) {
		t.Helper()
		want = "Timeout (tcp tcpfin udp): " + want
		if _, ok := labtest.Poll(10*time.Second, 50*time.Millisecond, func() bool { return timeouts("ka") == want && timeouts("lv") == want }); !ok {
			t.Fatalf("%s: keepalived %q, lvsd %q; want %q", what, timeouts("ka"), timeouts("lv"), want)
		}
		t.Logf("%s: both %q", what, want)
	}
	both("before start", "900 120 300")
	ka := l.startRaw("keepalived", "ka", conf("tcp 7200 tcpfin 60"))
	lv := l.startRaw("lvsd", "lv", conf("tcp 7200 tcpfin 60"))
	both("start with tcp and tcpfin", "7200 60 300")
	reload := func(timeouts string) {
		for _, p := range []*daemonProc{ka, lv} {
			if err := os.WriteFile(p.conf, []byte(conf(timeouts)), 0o644); err != nil {
				t.Fatal(err)
			}
			_ = p.cmd.Process.Signal(syscall.SIGHUP)
		}
	}
	reload("udp 100")
	both("reload with udp only", "900 120 100")
	reload("")
	both("reload without lvs_timeouts", "900 120 300")
	reload("tcp 3600")
	both("reload with tcp", "3600 120 300")
	ka.signal(t, syscall.SIGTERM)
	lv.signal(t, syscall.SIGTERM)
	both("after stop", "900 120 300")
}
