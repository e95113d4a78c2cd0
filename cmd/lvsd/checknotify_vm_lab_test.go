package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMRSInitNotifiesAndLogAllFailuresMatchKeepalived: keepalived 2.2.7
// then lvsd in the lab VM (keepalived's checker needs IPVS), the same
// configuration with rs_init_notifies and checker_log_all_failures: a
// real server listening (up), one refused (up at start, down at its
// first check), one alpha and refused (down from the start), one without
// checker; a reload adds another without checker; then the listener
// stops. The lvs_notify_fifo lines must be the same (the init "RS ... UP"
// lines of the real servers that start up, the new one's at the reload),
// and so must the number of failures each logs per real server (only
// while its checker is up: the refused one once, the alpha one never,
// the listener's retry+1 times).
func TestVMRSInitNotifiesAndLogAllFailuresMatchKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	conf := func(extra string) string {
		return `global_defs {
  router_id lab
  lvs_notify_fifo FIFO
  rs_init_notifies
  checker_log_all_failures
}
virtual_server 10.9.0.100 80 {
  protocol TCP
  lb_algo rr
  lb_kind NAT
  delay_loop 1
  real_server 10.9.0.1 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 2
      delay_before_retry 1
    }
  }
  real_server 10.9.0.1 8081 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 10.9.0.1 8082 {
    TCP_CHECK {
      connect_timeout 1
      alpha
    }
  }
  real_server 10.9.0.1 8083 {
  }
` + extra + `}
`
	}
	failures := func(kind, log string, port int) int {
		n := 0
		for _, line := range strings.Split(log, "\n") {
			switch kind {
			case "keepalived":
				if strings.Contains(line, fmt.Sprintf("TCP connection to [10.9.0.1]:tcp:%d failed.", port)) {
					n++
				}
			case "lvsd":
				if strings.Contains(line, `msg="check failed"`) && strings.Contains(line, fmt.Sprintf("10.9.0.1:%d", port)) {
					n++
				}
			}
		}
		return n
	}
	fifoLines := map[string]string{}
	counts := map[string]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		l := newVRRPLab(t, "rs", "d1")
		srv := exec.Command("ip", "netns", "exec", l.ns("rs"), "/usr/bin/python3", "-c",
			"import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.9.0.1', 8080)); s.listen(64)\ntime.sleep(600)")
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		labtest.WaitFor(t, "the listener", 20*time.Second, func() bool {
			return exec.Command("ip", "netns", "exec", l.ns("d1"), "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/10.9.0.1/8080").Run() == nil
		})
		fifo := filepath.Join(t.TempDir(), kind+".fifo")
		// Made beforehand: keepalived removes a FIFO it made at a reload
		// and makes a new one, which the tap would not read.
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", strings.Replace(conf(""), "FIFO", fifo, 1), "-C")
		labtest.WaitFor(t, kind+": the refused real server goes down", 20*time.Second, func() bool {
			return strings.Contains(strings.Join(tap.lines(), "\n"), "RS [10.9.0.1]:tcp:8081 [10.9.0.100]:tcp:80 DOWN")
		})
		time.Sleep(3 * time.Second)
		if err := os.WriteFile(p.conf, []byte(strings.Replace(conf("  real_server 10.9.0.1 8084 {\n  }\n"), "FIFO", fifo, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Process.Signal(syscall.SIGHUP)
		labtest.WaitFor(t, kind+": the new real server's line", 20*time.Second, func() bool {
			return strings.Contains(strings.Join(tap.lines(), "\n"), "RS [10.9.0.1]:tcp:8084 [10.9.0.100]:tcp:80 UP")
		})
		time.Sleep(2 * time.Second)
		_ = srv.Process.Kill()
		_ = srv.Wait()
		labtest.WaitFor(t, kind+": the listener's real server goes down", 30*time.Second, func() bool {
			return strings.Contains(strings.Join(tap.lines(), "\n"), "RS [10.9.0.1]:tcp:8080 [10.9.0.100]:tcp:80 DOWN")
		})
		time.Sleep(3 * time.Second)
		p.signal(t, syscall.SIGTERM)
		log := p.log.String()
		counts[kind] = fmt.Sprintf("8080: %d, 8081: %d, 8082: %d", failures(kind, log, 8080), failures(kind, log, 8081), failures(kind, log, 8082))
		fifoLines[kind] = fifoRuns(tap.close())
		t.Logf("%s: failures logged %s; lvs_notify_fifo:\n%s", kind, counts[kind], fifoLines[kind])
	}
	if k, v := fifoLines["keepalived"], fifoLines["lvsd"]; !strings.Contains(k, "RS [10.9.0.1]:tcp:8083 [10.9.0.100]:tcp:80 UP") || k != v {
		t.Errorf("lvs_notify_fifo differs (or keepalived wrote no init line):\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
	if k, v := counts["keepalived"], counts["lvsd"]; k != "8080: 3, 8081: 1, 8082: 0" || k != v {
		t.Errorf("failures logged: keepalived %s, lvsd %s; want both 8080: 3, 8081: 1, 8082: 0", k, v)
	}
}
