package main

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMSMTPCheckerAlertsMatchKeepalived: the checkers' mails, keepalived
// 2.2.7 then lvsd in the lab VM (keepalived's checker needs IPVS), the
// same configuration, each with a real SMTP server (aiosmtpd) in a
// namespace of its own: two real servers that fail their checks at start
// (one with smtp_alert off) and a quorum of 2, then both listening. Each
// phase's mails must be the same (subjects, bodies, envelope, headers but
// Date), and the lvs_notify_fifo lines the same, omega's at stop included.
func TestVMSMTPCheckerAlertsMatchKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	conf := `global_defs {
  router_id lab
  lvs_notify_fifo FIFO
  notification_email {
    ops@example.com
  }
  notification_email_from lvs@example.com
  smtp_server 10.9.0.1
  smtp_helo_name director.example.com
}
virtual_server 10.9.0.100 80 {
  protocol TCP
  lb_algo rr
  lb_kind NAT
  delay_loop 1
  quorum 2
  smtp_alert
  omega
  real_server 10.9.0.1 8080 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 10.9.0.1 8081 {
    smtp_alert off
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`
	// quiet waits for at least one mail, then for 4 s without another.
	quiet := func(s *sink, what string) {
		labtest.WaitFor(t, what, 30*time.Second, func() bool { return s.count() >= 1 })
		for n := s.count(); ; {
			time.Sleep(4 * time.Second)
			if m := s.count(); m == n {
				return
			} else {
				n = m
			}
		}
	}
	phases := map[string][2][]string{}
	fifoLines := map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		l := newVRRPLab(t, "mx", "d1")
		s := startSink(t, l, "mx", "10.9.0.1", 25)
		fifo := filepath.Join(t.TempDir(), kind+".fifo")
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", strings.Replace(conf, "FIFO", fifo, 1), "-C")
		quiet(s, kind+": the DOWN mails")
		down := canonicalAll(t, s.take())
		srv := exec.Command("ip", "netns", "exec", l.ns("mx"), "/usr/bin/python3", "-c",
			"import socket,time\nfor p in (8080, 8081):\n  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.9.0.1', p)); s.listen(64); globals()['k%d'%p]=s\ntime.sleep(600)")
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		quiet(s, kind+": the UP mails")
		up := canonicalAll(t, s.take())
		p.signal(t, syscall.SIGTERM)
		_ = srv.Process.Kill()
		_ = srv.Wait()
		phases[kind] = [2][]string{down, up}
		fifoLines[kind] = tap.close()
		t.Logf("%s: lvs_notify_fifo:\n%s", kind, strings.Join(fifoLines[kind], "\n"))
		t.Logf("%s: DOWN phase:\n%s\nUP phase:\n%s", kind, strings.Join(down, "\n"), strings.Join(up, "\n"))
	}
	for i, name := range []string{"DOWN", "UP"} {
		k, v := strings.Join(phases["keepalived"][i], "\n"), strings.Join(phases["lvsd"][i], "\n")
		if k == "" {
			t.Errorf("keepalived sent no mail in the %s phase", name)
		}
		if k != v {
			t.Errorf("%s phase mails differ:\n--- keepalived\n%s\n--- lvsd\n%s", name, k, v)
		}
	}
	// The lines of one instant (two real servers turning at once) may
	// come in either order: compared as sorted within runs of one state.
	k, v := fifoRuns(fifoLines["keepalived"]), fifoRuns(fifoLines["lvsd"])
	if !strings.Contains(k, "VS [10.9.0.100]:tcp:80 DOWN") || k != v {
		t.Errorf("lvs_notify_fifo differs (or keepalived wrote no omega line at stop):\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
}

// fifoRuns sorts each run of consecutive lines that end in the same
// state word (UP, DOWN).
func fifoRuns(lines []string) string {
	var out, run []string
	last := ""
	flush := func() { sort.Strings(run); out = append(out, run...); run = nil }
	for _, l := range lines {
		st := l[strings.LastIndexByte(l, ' ')+1:]
		if st != last {
			flush()
			last = st
		}
		run = append(run, l)
	}
	flush()
	return strings.Join(out, "\n")
}
