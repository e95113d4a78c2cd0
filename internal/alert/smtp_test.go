package alert

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// fakeSMTP is a scripted SMTP server: it records every line the client
// sends and answers with reply(line), or the greeting first.
type fakeSMTP struct {
	ln    net.Listener
	mu    sync.Mutex
	lines [][]string // per session
	reply func(cmd string) string
	greet string
}

func newFakeSMTP(t *testing.T, greet string, reply func(cmd string) string) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, reply: reply, greet: greet}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.lines = append(f.lines, nil)
	n := len(f.lines) - 1
	f.mu.Unlock()
	if f.greet == "" {
		return
	}
	c.Write([]byte(f.greet))
	r := bufio.NewReader(c)
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f.mu.Lock()
		f.lines[n] = append(f.lines[n], line)
		f.mu.Unlock()
		if inData {
			if line == ".\r\n" {
				inData = false
				c.Write([]byte(f.reply(".")))
			}
			continue
		}
		cmd := strings.TrimRight(line, "\r\n")
		rep := f.reply(cmd)
		if rep == "" {
			return
		}
		c.Write([]byte(rep))
		if strings.HasPrefix(cmd, "DATA") && strings.HasPrefix(rep, "354") {
			inData = true
		}
		if cmd == "QUIT" {
			return
		}
	}
}

func (f *fakeSMTP) sessions() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.lines...)
}

func okReply(cmd string) string {
	switch {
	case strings.HasPrefix(cmd, "HELO"):
		return "250-fake greets you\r\n250 HELP\r\n" // a multi-line reply
	case strings.HasPrefix(cmd, "DATA"):
		return "354 go ahead\r\n"
	case cmd == "QUIT":
		return "221 bye\r\n"
	}
	return "250 OK\r\n"
}

// TestSendSession: the exact commands keepalived 2.2.7's smtp.c sends.
func TestSendSession(t *testing.T) {
	f := newFakeSMTP(t, "220 fake ESMTP\r\n", okReply)
	m, _ := InstanceMessage("R", "VI_1", StateMaster)
	data := Data(m, "k@x", []string{"a@x", "b@x"}, time.Unix(0, 0))
	if err := send(context.Background(), f.ln.Addr().String(), 5*time.Second, "lvs1", "k@x", []string{"a@x", "b@x"}, data); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.sessions()[0], "")
	want := "HELO lvs1\r\nMAIL FROM:<k@x>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n" + data + "QUIT\r\n"
	if got != want {
		t.Errorf("session:\n%q\nwant\n%q", got, want)
	}
}

// TestSendRefused: an unexpected code ends the session with QUIT, as
// keepalived's FSM does, and is not retried.
func TestSendRefused(t *testing.T) {
	f := newFakeSMTP(t, "220 fake\r\n", func(cmd string) string {
		if strings.HasPrefix(cmd, "RCPT") {
			return "550 no such user\r\n"
		}
		return okReply(cmd)
	})
	err := send(context.Background(), f.ln.Addr().String(), 5*time.Second, "h", "f", []string{"a"}, "x")
	var se *stageError
	if !errors.As(err, &se) || se.stage != "RCPT" || se.code != 550 {
		t.Fatalf("err %v, want RCPT 550", err)
	}
	got := f.sessions()[0]
	if got[len(got)-1] != "QUIT\r\n" {
		t.Errorf("last command %q, want QUIT", got[len(got)-1])
	}
}

// TestSendTimeout: a server that never answers is given up after the
// timeout (keepalived's smtp_connect_timeout bounds each read).
func TestSendTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			defer c.Close() // silent
		}
	}()
	start := time.Now()
	err = send(context.Background(), ln.Addr().String(), 300*time.Millisecond, "h", "f", []string{"a"}, "x")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

// FuzzParseReply: any server bytes give a code in 100..599 or an error,
// never a panic; a well-formed multi-line reply gives its last line's code.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "250-a\r\n250-b\r\n250 c\r\n", "354\r\n", "", "25", "2500 x\r\n", "abc def\r\n", "250-" + strings.Repeat("x", 2000) + "\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		code, err := ParseReply(bufio.NewReaderSize(bytes.NewReader(b), maxReply))
		if err == nil && (code < 100 || code > 599) {
			t.Fatalf("code %d from %q", code, b)
		}
	})
}

func TestParseReply(t *testing.T) {
	for in, want := range map[string]int{"220 ok\r\n": 220, "250-a\r\n250-b\r\n251 c\r\n": 251, "354\r\n": 354, "221 bye\n": 221} {
		got, err := ParseReply(bufio.NewReader(strings.NewReader(in)))
		if err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2x0 no\r\n", "250-only continuation\r\n", "25\r\n", "999 x\r\n"} {
		if code, err := ParseReply(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%q: code %d, want an error", in, code)
		}
	}
}

func testSpec(addr string) Spec {
	ap := netip.MustParseAddrPort(addr)
	return Spec{RouterID: "R", To: []string{"a@x"}, From: "f@x", Server: ap.Addr().String(), Port: ap.Port(), HeloName: "h",
		ConnectTimeout: 2 * time.Second, Instances: map[string]bool{"VI_1": true, "VI_2": false}, Groups: map[string]bool{"G": true},
		RealServers: map[RealServerKey]bool{{"vs", netip.MustParseAddrPort("10.0.0.2:80")}: true},
		Names:       map[string]VirtualServer{"vs": {Addr: netip.MustParseAddrPort("10.0.0.1:80"), Protocol: config.ProtoTCP}}}
}

// TestSenderRules: last_email_state, smtp_alert off, no_email_faults,
// no_checker_emails, FILE_CHECK.
func TestSenderRules(t *testing.T) {
	sp := testSpec("127.0.0.1:1")
	s := New(sp, nil)
	var subjects []string
	drain := func() { subjects = append(subjects, queuedSubjects(s)...) }
	s.InstanceState("VI_1", StateBackup)
	s.InstanceState("VI_1", StateBackup) // same state: no mail
	s.InstanceState("VI_1", StateMaster)
	s.InstanceState("VI_2", StateMaster) // smtp_alert off
	s.InstanceState("VI_1", "INIT")      // nothing for INIT
	s.GroupState("G", StateMaster)
	rs := netip.MustParseAddrPort("10.0.0.2:80")
	s.CheckerChange("vs", rs, config.CheckTCP, false, true, false)
	s.CheckerChange("vs", rs, config.CheckFile, false, true, false)
	s.CheckerChange("vs", netip.MustParseAddrPort("10.0.0.3:80"), config.CheckTCP, false, true, false) // not configured
	drain()
	sp.NoEmailFaults, sp.NoCheckerEmails = true, true
	s.Update(sp)
	s.InstanceState("VI_1", StateFault)                            // no_email_faults
	s.CheckerChange("vs", rs, config.CheckTCP, true, false, false) // real server did not change
	s.CheckerChange("vs", rs, config.CheckTCP, true, false, true)
	drain()
	want := []string{
		"[R] VRRP Instance VI_1 - Entering BACKUP state",
		"[R] VRRP Instance VI_1 - Entering MASTER state",
		"[R] VRRP Group G - Entering MASTER state",
		"[R] Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN",
		"[R] Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - UP",
	}
	if strings.Join(subjects, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
	if !s.Spec().NoEmailFaults {
		t.Error("Update did not install the spec")
	}
}

// TestSenderInstanceRemoved: an instance a reload removed is mailed by
// its own smtp_alert (the loaded spec no longer lists it), as keepalived's
// vrrp_smtp_notifier: DELETED, or FAULT unless no_email_faults; its last
// state is forgotten, so a new instance of that name is mailed afresh.
func TestSenderInstanceRemoved(t *testing.T) {
	sp := testSpec("127.0.0.1:1")
	sp.Instances = map[string]bool{}
	s := New(sp, nil)
	var subjects []string
	drain := func() { subjects = append(subjects, queuedSubjects(s)...) }
	s.InstanceRemoved("VI_1", StateDeleted, true)
	s.InstanceRemoved("VI_2", StateFault, true)
	s.InstanceRemoved("VI_3", StateDeleted, false) // its smtp_alert was off
	sp.NoEmailFaults = true
	s.Update(sp)
	s.InstanceRemoved("VI_4", StateFault, true) // no_email_faults
	sp.Instances = map[string]bool{"VI_1": true}
	s.Update(sp)
	s.InstanceState("VI_1", StateDeleted) // the same name again, in a new configuration
	drain()
	want := []string{"[R] VRRP Instance VI_1 - Deleted", "[R] VRRP Instance VI_2 - Entering FAULT state", "[R] VRRP Instance VI_1 - Deleted"}
	if strings.Join(subjects, "\n") != strings.Join(want, "\n") {
		t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
}

// TestSenderQueueFullDrops: Enqueue never blocks; past QueueSize mails
// are dropped and counted.
func TestSenderQueueFullDrops(t *testing.T) {
	s := New(testSpec("127.0.0.1:1"), nil)
	start := time.Now()
	for i := 0; i < QueueSize+10; i++ {
		s.Enqueue(Message{Subject: "x"})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("enqueueing took %v", d)
	}
	if st := s.Stats(); st.Dropped != 10 || st.Queued != QueueSize {
		t.Errorf("stats %+v, want 10 dropped, %d queued", st, QueueSize)
	}
	off := New(Spec{}, nil)
	if off.Enqueue(Message{}) || off.Stats().Dropped != 0 {
		t.Error("a sender without a server queued or counted a drop")
	}
}

// TestSenderRetriesAndLogsOnce: a connection refused is tried Attempts
// times then counted failed; the first failure is logged, the next ones
// are not, and a success after them is.
func TestSenderRetriesAndLogsOnce(t *testing.T) {
	oldDelays := RetryDelays
	RetryDelays = []time.Duration{10 * time.Millisecond}
	defer func() { RetryDelays = oldDelays }()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	s := New(testSpec(dead), log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	for i := 0; i < 3; i++ {
		s.Enqueue(Message{Subject: "m"})
	}
	waitFor(t, func() bool { return s.Stats().Failed == 3 })
	if st := s.Stats(); st.Retries != uint64(3*(Attempts-1)) || st.Sent != 0 {
		t.Errorf("stats %+v, want %d retries", st, 3*(Attempts-1))
	}
	f := newFakeSMTP(t, "220 fake\r\n", okReply)
	sp := testSpec(f.ln.Addr().String())
	s.Update(sp)
	s.Enqueue(Message{Subject: "m"})
	waitFor(t, func() bool { return s.Stats().Sent == 1 })
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if n := strings.Count(out, "smtp alert not sent"); n != 1 {
		t.Errorf("%d failure lines logged, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "smtp alerts delivered again") || !strings.Contains(out, "failed_meanwhile=3") {
		t.Errorf("no recovery line:\n%s", out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queuedSubjects takes every mail off s's queue and returns their subjects.
func queuedSubjects(s *Sender) []string {
	var subjects []string
	for len(s.q) > 0 {
		j := <-s.q
		subjects = append(subjects, j.msg.Subject)
	}
	return subjects
}
