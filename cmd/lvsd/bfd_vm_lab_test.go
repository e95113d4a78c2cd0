package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMBFDCheckMatchesKeepalived: BFD_CHECK in the lab VM (keepalived
// runs checkers only with IPVS): FRR's bfdd on the real server's address
// is the BFD peer of a keepalived 2.2.7 director and an lvsd director,
// each with a virtual server whose only real server has BFD_CHECK on that
// session. The real server is in both IPVS tables while the session is Up,
// leaves both when bfdd is cut off, and comes back to both on restore; the
// times are compared.
func TestVMBFDCheckMatchesKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	labtest.NeedBinary(t, "keepalived")
	ipvsadm := labtest.NeedBinary(t, "ipvsadm")
	l := newVRRPLab(t, "ka", "lv", "frr")
	startBfdd(t, l, "frr", "10.9.0.3", "10.9.0.1", "10.9.0.2")
	conf := func(src string) string {
		return fmt.Sprintf(`global_defs {
  router_id %s
}
bfd_instance frr {
  neighbor_ip 10.9.0.3
  source_ip %s
  min_rx 100
  min_tx 100
  multiplier 5
}
virtual_server 10.9.0.100 80 {
  protocol TCP
  lb_algo rr
  lb_kind DR
  delay_loop 1
  real_server 10.9.0.3 80 {
    BFD_CHECK {
      name frr
    }
  }
}
`, src, src)
	}
	start := time.Now()
	// keepalived without -C: its BFD process runs beside the checker.
	l.startRaw("keepalived", "ka", conf("10.9.0.1"))
	l.startRaw("lvsd", "lv", conf("10.9.0.2"))
	member := func(host string) bool {
		out, _ := exec.Command("ip", "netns", "exec", l.ns(host), ipvsadm, "-Ln", "-t", "10.9.0.100:80").CombinedOutput()
		return strings.Contains(string(out), "10.9.0.3:80")
	}
	// both polls the two tables until each has (want) or lacks the real
	// server, and returns how long after since each got there.
	both := func(what string, since time.Time, want bool, limit time.Duration) (kaT, lvT time.Duration) {
		t.Helper()
		_, ok := labtest.Poll(limit, 20*time.Millisecond, func() bool {
			if kaT == 0 && member("ka") == want {
				kaT = time.Since(since)
			}
			if lvT == 0 && member("lv") == want {
				lvT = time.Since(since)
			}
			return kaT != 0 && lvT != 0
		})
		if !ok {
			t.Fatalf("%s: not within %s (keepalived %v, lvsd %v; 0: not yet)", what, limit, kaT, lvT)
		}
		return kaT, lvT
	}
	kaUp, lvUp := both("the real server in both tables", start, true, 30*time.Second)
	// Settle: the sessions at their fast timers, the real server staying.
	time.Sleep(3 * time.Second)
	if !member("ka") || !member("lv") {
		t.Fatalf("the real server left a table with the session up (keepalived %v, lvsd %v)", member("ka"), member("lv"))
	}
	cut := time.Now()
	l.sh("ip -n %s link set eth0 down", l.ns("frr"))
	kaDown, lvDown := both("the real server out of both tables", cut, false, 15*time.Second)
	restore := time.Now()
	l.sh("ip -n %s link set eth0 up", l.ns("frr"))
	kaBack, lvBack := both("the real server back in both tables", restore, true, 30*time.Second)
	t.Logf("BFD_CHECK real server: in the table after start keepalived %v, lvsd %v; out after the cut (detection 500 ms) keepalived %v, lvsd %v; back after the restore keepalived %v, lvsd %v",
		kaUp.Round(time.Millisecond), lvUp.Round(time.Millisecond), kaDown.Round(time.Millisecond), lvDown.Round(time.Millisecond), kaBack.Round(time.Millisecond), lvBack.Round(time.Millisecond))
	if lvDown > kaDown+2*time.Second {
		t.Errorf("lvsd took the real server out %v after the cut, keepalived %v", lvDown, kaDown)
	}
	if lvBack > kaBack+3*time.Second {
		t.Errorf("lvsd put the real server back %v after the restore, keepalived %v", lvBack, kaBack)
	}
}
