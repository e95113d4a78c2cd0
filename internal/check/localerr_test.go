package check

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

// TestLocalResourceErrorIsNoVerdict: a check that could not run for want
// of a local resource (EMFILE, ENFILE, ENOBUFS, ENOMEM from socket() or
// connect(), however wrapped) says nothing about the real server: it
// keeps its state and the attempt is counted apart; a real failure still
// takes it down.
func TestLocalResourceErrorIsNoVerdict(t *testing.T) {
	cfg := labtest.Config(t, `
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 9 {
    weight 16
    TCP_CHECK {
      retry 0
    }
  }
}`)
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	var st *checkState
	for _, s := range m.checks {
		st = s
	}
	httpStyle := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("socket", unix.ENFILE)}}
	for _, err := range []error{
		fmt.Errorf("socket: %w", unix.EMFILE),
		fmt.Errorf("connect 127.0.0.1:9: %w", unix.ENOBUFS),
		fmt.Errorf("epoll_ctl: %w", unix.ENOMEM),
		httpStyle,
	} {
		m.handle(result{st: st, ok: false, weight: -1, err: err, at: time.Now()})
		if got := desiredWeights(cfg, m); got != "127.0.0.1=16" {
			t.Fatalf("after %v the real server is out: %q", err, got)
		}
	}
	s := m.Status()[0]
	if s.Unknown != 4 || s.Failures != 0 || !s.Up {
		t.Errorf("status after 4 local errors: unknown %d failures %d up %v; want 4, 0, true", s.Unknown, s.Failures, s.Up)
	}
	m.handle(result{st: st, ok: false, weight: -1, err: fmt.Errorf("connect 127.0.0.1:9: %w", unix.ECONNREFUSED), at: time.Now()})
	if got := desiredWeights(cfg, m); got != "" {
		t.Errorf("a refused connect (retry 0) left the real server in: %q", got)
	}
	for _, err := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, fmt.Errorf("x: %w", unix.EMFILE)} {
		if !localResourceError(err) {
			t.Errorf("%v is not a local resource error", err)
		}
	}
	for _, err := range []error{nil, unix.ECONNREFUSED, unix.ETIMEDOUT, unix.EHOSTUNREACH, errors.New("too many open files")} {
		if localResourceError(err) {
			t.Errorf("%v is a local resource error", err)
		}
	}
}

// TestTCPCheckOutOfDescriptors: while the process is out of descriptors
// (RLIMIT_NOFILE at its open count), TCP_CHECK's socket() fails with
// EMFILE; the real server stays in, and checks resume afterwards.
func TestTCPCheckOutOfDescriptors(t *testing.T) {
	a := newServer(t, nil)
	cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 %s {
    weight 16
    TCP_CHECK {
      connect_timeout 0.5
      delay_loop 0.05
      retry 0
      delay_before_retry 0.05
    }
  }
}`, a.port()))
	m, changes := startManager(t, cfg)
	labtest.WaitFor(t, "first checks", 2*time.Second, func() bool { return m.Status()[0].Checks >= 2 })
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
			t.Fatal(err)
		}
	}
	// A limit below every descriptor number in use: no new one can be
	// opened (the limit bounds numbers, and freed low numbers would be
	// reused under a limit at the open count).
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 3, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	restore()
	s := m.Status()[0]
	t.Logf("out of descriptors for 0.5 s: %d checks without a verdict, %d failures, last error %q", s.Unknown, s.Failures, s.LastError)
	if s.Unknown == 0 {
		t.Errorf("no check met EMFILE (failures %d, last error %q)", s.Failures, s.LastError)
	}
	if got := desiredWeights(cfg, m); got != "127.0.0.1=16" || changes.Load() != 0 || !s.Up {
		t.Errorf("EMFILE took the real server out: table %q, %d changes, up %v", got, changes.Load(), s.Up)
	}
	checks := s.Checks
	labtest.WaitFor(t, "checks resume", 2*time.Second, func() bool { return m.Status()[0].Checks > checks+2 })
	if s := m.Status()[0]; !s.Up || s.LastError != "" {
		t.Errorf("after the limit is restored: up %v, last error %q", s.Up, s.LastError)
	}
}
