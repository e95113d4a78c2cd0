package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// smtpSink is a real SMTP server (Debian's python3-aiosmtpd) that writes
// each mail it accepts as a JSON line: the HELO name, the envelope and the
// DATA as received.
const smtpSink = `import json, signal, sys
from aiosmtpd.controller import Controller

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Sink:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"helo": session.host_name, "from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 OK"

c = Controller(Sink(), hostname=addr, port=port)
c.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
`

type sink struct {
	t   *testing.T
	out string
}

// startSink runs the SMTP server in host's namespace on addr:port.
func startSink(t *testing.T, l *vrrpLab, host, addr string, port int) *sink {
	t.Helper()
	labtest.NeedBinary(t, "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		labtest.Need(t, false, "python3-aiosmtpd is not installed: %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "sink.py")
	if err := os.WriteFile(script, []byte(smtpSink), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sink{t: t, out: filepath.Join(dir, "mails.jsonl")}
	cmd := exec.Command("ip", "netns", "exec", l.ns(host), "/usr/bin/python3", script, addr, fmt.Sprint(port), s.out)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() { line, _ := bufio.NewReader(stdout).ReadString('\n'); ready <- line }()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "ready") {
			t.Fatalf("smtp sink: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("smtp sink did not start")
	}
	return s
}

type mail struct {
	Helo string   `json:"helo"`
	From string   `json:"from"`
	Rcpt []string `json:"rcpt"`
	Data string   `json:"data"`
}

// take returns the mails received so far and empties the mailbox.
func (s *sink) take() []mail {
	s.t.Helper()
	b, err := os.ReadFile(s.out)
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatal(err)
	}
	_ = os.Remove(s.out)
	var ms []mail
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m mail
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			s.t.Fatalf("%q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func (s *sink) count() int {
	b, _ := os.ReadFile(s.out)
	return strings.Count(string(b), "\n")
}

// keepalived's Date header: strftime("%a, %d %b %Y %H:%M:%S %z").
var dateRE = regexp.MustCompile(`^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$`)

// canonical is a mail without its Date (checked for its format): the
// envelope, the other headers in order, the body lines.
func canonical(t *testing.T, m mail) string {
	t.Helper()
	lines := strings.Split(m.Data, "\r\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "Date: ") {
			if !dateRE.MatchString(l) {
				t.Errorf("Date header %q is not keepalived's format", l)
			}
			continue
		}
		keep = append(keep, l)
	}
	return fmt.Sprintf("HELO %s | MAIL FROM:<%s> | RCPT TO:%v\n  %s", m.Helo, m.From, m.Rcpt, strings.Join(keep, "\\r\\n"))
}

func canonicalAll(t *testing.T, ms []mail) []string {
	var out []string
	for _, m := range ms {
		out = append(out, canonical(t, m))
	}
	sort.Strings(out) // keepalived sends its mails at once, on parallel connections
	return out
}

// startRaw runs kind ("lvsd" or "keepalived") in host's namespace with
// the configuration text; args are more arguments.
func (l *vrrpLab) startRaw(kind, host, conf string, args ...string) *daemonProc {
	l.t.Helper()
	dir := filepath.Join(l.dir, fmt.Sprintf("%s-%s-%d", host, kind, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	var argv []string
	switch kind {
	case "lvsd":
		self, _ := os.Executable()
		state, err := os.MkdirTemp("", "lvsd")
		if err != nil {
			l.t.Fatal(err)
		}
		l.t.Cleanup(func() { os.RemoveAll(state) })
		argv = append([]string{self, "run", "-f", path, "--state-dir", state, "--debug"}, args...)
	case "keepalived":
		labtest.NeedBinary(l.t, "keepalived")
		argv = append([]string{"keepalived", "-n", "-l", "-D", "-f", path, "-p", dir + "/k.pid", "-r", dir + "/v.pid", "-c", dir + "/c.pid", "-b", dir + "/b.pid"}, args...)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(host)}, argv...)...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1", "TMPDIR="+dir)
	p := &daemonProc{kind: kind, host: host, conf: path, cmd: cmd, log: &syncBuffer{}, dumpDir: dir}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if l.t.Failed() {
			l.t.Logf("--- %s on %s ---\n%s", kind, host, p.log.String())
		}
	})
	return p
}

// TestSMTPAlertsMatchKeepalived runs keepalived 2.2.7 and then lvsd on
// the same director with the same configuration, a real SMTP server
// (aiosmtpd) in the next namespace: the VRRP instances (and sync group)
// go BACKUP at start and MASTER after the master-down interval, and
// stop. The mails each sends — envelope (HELO, MAIL FROM, RCPT TO),
// headers but the Date (whose format is checked), body — must be the
// same. Two configurations: keepalived's defaults (router_id, From and
// HELO from the host's name, smtp_alert off unless given), and every
// setting given (sync group, smtp_alert_vrrp, no_email_faults, port).
// Between start and stop the director's link goes down (FAULT) and up.
func TestSMTPAlertsMatchKeepalived(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       int // mails per daemon at start
		total      int // and after the link went down and up
		// extra is the mail only lvsd delivers: the FAULT mail, sent
		// while the link to the SMTP server is down, fails; keepalived
		// never tries again, lvsd does (bounded retries).
		extra string
	}{
		{"defaults", `global_defs {
  notification_email {
    ops@example.com
    noc@example.com
  }
  smtp_server 10.9.0.1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  smtp_alert
  virtual_ipaddress {
    10.9.0.100/24
  }
}
vrrp_instance VI_3 {
  state BACKUP
  interface eth0
  virtual_router_id 53
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.9.0.103/24
  }
}
`, 2, 4, "VRRP Instance VI_1 - Entering FAULT state"},
		{"given", `global_defs {
  router_id lab
  notification_email {
    ops@example.com
  }
  notification_email_from lvs@example.com
  smtp_server 10.9.0.1 2525
  smtp_helo_name director.example.com
  smtp_connect_timeout 5
  smtp_alert_vrrp
  no_email_faults
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.9.0.100/24
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 100
  advert_int 1
  smtp_alert off
  virtual_ipaddress {
    10.9.0.101/24
  }
}
`, 4, 8, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t, "mx", "d1")
			port := 25
			if strings.Contains(tc.conf, "2525") {
				port = 2525
			}
			s := startSink(t, l, "mx", "10.9.0.1", port)
			got := map[string][]string{}
			for _, kind := range []string{"keepalived", "lvsd"} {
				args := []string{"-P"}
				p := l.startRaw(kind, "d1", tc.conf, args...)
				l.waitFor(kind+" master", masterDown(100)+5*time.Second, func() bool { return l.hasVIP("d1") })
				labtest.WaitFor(t, fmt.Sprintf("%s: %d mails", kind, tc.want), 20*time.Second, func() bool { return s.count() >= tc.want })
				// The link goes down: FAULT (mailed unless
				// no_email_faults); up again: BACKUP, then MASTER.
				l.sh("ip -n %s link set eth0 down", l.ns("d1"))
				l.waitFor(kind+" fault", 10*time.Second, func() bool { return !l.hasVIP("d1") })
				time.Sleep(time.Second)
				l.sh("ip -n %s link set eth0 up", l.ns("d1"))
				l.waitFor(kind+" master again", masterDown(100)+10*time.Second, func() bool { return l.hasVIP("d1") })
				total := tc.total
				if kind == "lvsd" && tc.extra != "" {
					total++
				}
				labtest.WaitFor(t, fmt.Sprintf("%s: %d mails", kind, total), 30*time.Second, func() bool { return s.count() >= total })
				p.signal(t, syscall.SIGTERM)
				// keepalived's Stopping mails are lost with its
				// scheduler at exit; none may come from either.
				time.Sleep(2 * time.Second)
				got[kind] = canonicalAll(t, s.take())
				t.Logf("%s sent %d mails:\n%s", kind, len(got[kind]), strings.Join(got[kind], "\n"))
				l.waitFor("VIP gone", 5*time.Second, func() bool { return !l.hasVIP("d1") })
			}
			if len(got["keepalived"]) != tc.total {
				t.Errorf("keepalived sent %d mails, the test expects %d", len(got["keepalived"]), tc.total)
			}
			if tc.extra != "" {
				var rest []string
				found := false
				for _, m := range got["lvsd"] {
					if !found && strings.Contains(m, tc.extra) {
						found = true
						continue
					}
					rest = append(rest, m)
				}
				if !found {
					t.Errorf("lvsd did not deliver %q after the link came back", tc.extra)
				}
				got["lvsd"] = rest
			}
			if k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n"); k != v {
				t.Errorf("mails differ:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
			}
		})
	}
}

// TestSMTPCheckerAlerts: TCP_CHECK real servers going down and coming
// back, mailed by lvsd to a real SMTP server. keepalived 2.2.7 needs IPVS
// to run its checkers (not in this kernel: the lab VM's), so the expected
// mails are written here from keepalived's source: smtp.c's subject
// "[%s] Realserver %s of virtual server %s - %s" with FMT_RS/FMT_VS
// ("[ip]:tcp:port") and check_tcp.c's bodies; "[%s] Virtualserver %s -
// %s" with ipwrapper.c's "=> %s %u+%u=%ld <= %ld <=" for the quorum. A
// real server's smtp_alert off keeps its mails back.
func TestSMTPCheckerAlerts(t *testing.T) {
	l := newVRRPLab(t, "mx", "d1")
	s := startSink(t, l, "mx", "10.9.0.1", 25)
	lvsFIFO := filepath.Join(t.TempDir(), "lvs.fifo")
	tap := tapFIFO(lvsFIFO)
	conf := `global_defs {
  router_id lab
  notification_email {
    ops@example.com
  }
  notification_email_from lvs@example.com
  smtp_server 10.9.0.1
  smtp_helo_name director.example.com
  lvs_notify_fifo ` + lvsFIFO + `
}
virtual_server 10.9.0.100 80 {
  protocol TCP
  delay_loop 1
  quorum 2
  smtp_alert
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
	p := l.startRaw("lvsd", "d1", conf, "-C")
	env := "HELO director.example.com | MAIL FROM:<lvs@example.com> | RCPT TO:[ops@example.com]\n"
	mk := func(subject, body string) string {
		return env + `  From: lvs@example.com\r\nSubject: [lab] ` + subject + `\r\nX-Mailer: Keepalived\r\nTo: ops@example.com\r\n\r\n` + body + `\r\n\r\n`
	}
	// Both real servers fail their first check (at start a checker is
	// taken down by its first failure): 8080 mails (8081 has smtp_alert
	// off), and the first failure takes the weight below quorum 2.
	// The virtual server starts with its quorum up (init_service_vs).
	want := []string{
		mk("Virtualserver [10.9.0.100]:tcp:80 - UP", "=> Starting with quorum up 2+0=2 <= 2 <="),
		mk("Realserver [10.9.0.1]:tcp:8080 of virtual server [10.9.0.100]:tcp:80 - DOWN", "=> TCP CHECK failed on service <="),
		mk("Virtualserver [10.9.0.100]:tcp:80 - DOWN", "=> Lost quorum 2+0=2 <= 1 <="),
	}
	sort.Strings(want)
	labtest.WaitFor(t, "the DOWN mails", 20*time.Second, func() bool { return s.count() >= 3 })
	time.Sleep(2 * time.Second)
	if got := canonicalAll(t, s.take()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The real servers come up: the second brings the quorum back.
	srv := exec.Command("ip", "netns", "exec", l.ns("mx"), "/usr/bin/python3", "-c",
		"import socket,time\nfor p in (8080, 8081):\n  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.9.0.1', p)); s.listen(64); globals()['k%d'%p]=s\ntime.sleep(600)")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	want = []string{
		mk("Realserver [10.9.0.1]:tcp:8080 of virtual server [10.9.0.100]:tcp:80 - UP", "=> TCP CHECK succeed on service <="),
		mk("Virtualserver [10.9.0.100]:tcp:80 - UP", "=> Gained quorum 2+0=2 <= 2 <="),
	}
	sort.Strings(want)
	labtest.WaitFor(t, "the UP mails", 20*time.Second, func() bool { return s.count() >= 2 })
	time.Sleep(2 * time.Second)
	if got := canonicalAll(t, s.take()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p.signal(t, syscall.SIGTERM)
	// The lvs_notify_fifo lines (ipwrapper.c notify_fifo_rs/_vs): the
	// quorum at start, then each real server turning, smtp_alert or not,
	// and the quorum.
	lines := tap.close()
	if len(lines) == 0 || lines[0] != "VS [10.9.0.100]:tcp:80 UP" {
		t.Errorf("lvs_notify_fifo starts %q, want the quorum at start", lines)
	} else {
		lines = lines[1:]
	}
	wantLines := []string{
		"RS [10.9.0.1]:tcp:8080 [10.9.0.100]:tcp:80 DOWN", "RS [10.9.0.1]:tcp:8081 [10.9.0.100]:tcp:80 DOWN", "VS [10.9.0.100]:tcp:80 DOWN",
		"RS [10.9.0.1]:tcp:8080 [10.9.0.100]:tcp:80 UP", "RS [10.9.0.1]:tcp:8081 [10.9.0.100]:tcp:80 UP", "VS [10.9.0.100]:tcp:80 UP",
	}
	if len(lines) != 6 || phasesLVS(lines) != phasesLVS(wantLines) {
		t.Errorf("lvs_notify_fifo:\n%s\nwant (in any order within each half):\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
}

// phasesLVS sorts the first and the second half of lines apart.
func phasesLVS(lines []string) string {
	a := append([]string(nil), lines[:len(lines)/2]...)
	b := append([]string(nil), lines[len(lines)/2:]...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(append(a, b...), "\n")
}

// fifoReader writes a script that copies the FIFO it is given (its last
// argument, as keepalived passes it) to out, line by line as they come.
func fifoReader(t *testing.T, dir, out string) string {
	t.Helper()
	script := out + ".sh"
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec cat \"$1\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// fifoTap reads the FIFO at path as soon as it exists, until its writer
// closes it after done is closed.
type fifoTap struct {
	mu    sync.Mutex
	buf   []byte
	done  chan struct{}
	ended chan struct{}
}

func tapFIFO(path string) *fifoTap {
	f := &fifoTap{done: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(f.ended)
		fd := -1
		for fd < 0 {
			select {
			case <-f.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if n, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				fd = n
			}
		}
		defer syscall.Close(fd)
		b := make([]byte, 4096)
		for {
			n, err := syscall.Read(fd, b)
			if n > 0 {
				f.mu.Lock()
				f.buf = append(f.buf, b[:n]...)
				f.mu.Unlock()
				continue
			}
			if n == 0 && err == nil {
				// No writer: the daemon has not opened it yet, or has
				// closed it.
				select {
				case <-f.done:
					return
				default:
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return f
}

func (f *fifoTap) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.TrimSuffix(string(f.buf), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// close waits for the writer to be gone and returns every line.
func (f *fifoTap) close() []string {
	close(f.done)
	select {
	case <-f.ended:
	case <-time.After(10 * time.Second):
	}
	return f.lines()
}

// TestNotifyFIFOMatchesKeepalived: keepalived 2.2.7 and then lvsd on one
// director, the same configuration with notify_fifo (read by the test)
// and vrrp_notify_fifo with a vrrp_notify_fifo_script that copies what it
// reads (keepalived starts it with the FIFO's path as last argument); an
// instance and a sync group go BACKUP at start, MASTER, and STOP at
// SIGTERM. The lines must be the same, and a FIFO the daemon created is
// gone after it stops.
func TestNotifyFIFOMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	dir := t.TempDir()
	got := map[string][]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		outVRRP := filepath.Join(dir, kind+"-vrrp.txt")
		fAll, fVRRP := filepath.Join(dir, kind+"-all.fifo"), filepath.Join(dir, kind+"-vrrp.fifo")
		conf := fmt.Sprintf(`global_defs {
  router_id lab
  notify_fifo %s
  vrrp_notify_fifo %s
  vrrp_notify_fifo_script %s
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.9.0.100/24
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 150
  advert_int 1
  virtual_ipaddress {
    10.9.0.101/24
  }
}
`, fAll, fVRRP, fifoReader(t, dir, outVRRP))
		tap := tapFIFO(fAll)
		p := l.startRaw(kind, "d1", conf, "-P")
		l.waitFor(kind+" master", masterDown(100)+5*time.Second, func() bool { return l.hasVIP("d1") })
		labtest.WaitFor(t, kind+": MASTER lines", 10*time.Second, func() bool { return len(tap.lines()) >= 6 && len(readLines(t, outVRRP)) >= 6 })
		p.signal(t, syscall.SIGTERM)
		got[kind+" notify_fifo"] = tap.close()
		time.Sleep(time.Second)
		// The script is ended at the stop: whether it read the STOP
		// lines first is a race in keepalived; they are compared on the
		// FIFO the test reads.
		var vl []string
		for _, line := range readLines(t, outVRRP) {
			if !strings.Contains(line, " STOP ") {
				vl = append(vl, line)
			}
		}
		got[kind+" vrrp_notify_fifo_script"] = vl
		for _, f := range []string{fAll, fVRRP} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%s: %s still exists after stop", kind, f)
			}
		}
		t.Logf("%s: notify_fifo:\n%s\nvrrp_notify_fifo (script):\n%s", kind, strings.Join(got[kind+" notify_fifo"], "\n"), strings.Join(vl, "\n"))
	}
	for f, n := range map[string]int{"notify_fifo": 9, "vrrp_notify_fifo_script": 6} {
		k, v := got["keepalived "+f], got["lvsd "+f]
		if len(k) != n {
			t.Errorf("keepalived wrote %d lines to %s, the test expects %d", len(k), f, n)
		}
		// The order within one instant (the sync group moving its
		// members) is each daemon's; the lines and their phases (start,
		// MASTER, STOP) must agree.
		if phases(k) != phases(v) {
			t.Errorf("%s differs:\n--- keepalived\n%s\n--- lvsd\n%s", f, strings.Join(k, "\n"), strings.Join(v, "\n"))
		}
	}
}

// phases sorts the lines within each state (BACKUP, MASTER, STOP), so
// that only the order of the phases counts.
func phases(lines []string) string {
	var out []string
	var cur []string
	last := ""
	flush := func() { sort.Strings(cur); out = append(out, cur...); cur = nil }
	for _, l := range lines {
		f := strings.Fields(l)
		st := ""
		if len(f) >= 3 {
			st = f[2]
		}
		if st != last {
			flush()
			last = st
		}
		cur = append(cur, l)
	}
	flush()
	return strings.Join(out, "\n")
}
