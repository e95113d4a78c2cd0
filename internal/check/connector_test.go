package check

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestConnector returns a connector closed with the test.
func newTestConnector(t *testing.T) *connector {
	t.Helper()
	c, err := newConnector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

// collect polls until n results (counting those start answered at once).
func collect(t *testing.T, c *connector, n int, within time.Duration, got []result) []result {
	t.Helper()
	end := time.Now().Add(within)
	for len(got) < n {
		if time.Now().After(end) {
			t.Fatalf("%d of %d results after %s", len(got), n, within)
		}
		got = c.poll(100*time.Millisecond, got)
	}
	return got
}

// unansweredListener is a loopback socket that listens with a full
// accept queue and never accepts: further SYNs are dropped, so connects
// to it hang until their timeout.
func unansweredListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the queue: with backlog 0 the kernel keeps one connection.
	for range 2 {
		conn, err := net.DialTimeout("tcp", addr.String(), 100*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { conn.Close() })
		}
	}
	return addr
}

func TestConnectorOutcomes(t *testing.T) {
	open := netip.MustParseAddrPort(newServer(t, nil).addr)
	closedLn, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := netip.MustParseAddrPort(closedLn.Addr().String())
	closedLn.Close()
	silent := unansweredListener(t)

	cases := []struct {
		name    string
		addr    netip.AddrPort
		timeout time.Duration
		wantErr error // nil: success; else errors.Is target, or errTimeout
		minDur  time.Duration
	}{
		{"listening", open, time.Second, nil, 0},
		{"refused", closed, time.Second, unix.ECONNREFUSED, 0},
		{"no answer", silent, 300 * time.Millisecond, errTimeout, 250 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestConnector(t)
			st := &checkState{}
			var got []result
			if r, done := c.start(st, &tcpDial{addr: tc.addr}, tc.timeout, clock()); done {
				got = append(got, r)
			}
			r := collect(t, c, 1, 3*time.Second, got)[0]
			if r.st != st {
				t.Fatalf("result for %p, want %p", r.st, st)
			}
			switch {
			case tc.wantErr == nil && (!r.ok || r.err != nil):
				t.Fatalf("ok %v err %v, want success", r.ok, r.err)
			case tc.wantErr == errTimeout && (r.ok || r.err == nil || !strings.Contains(r.err.Error(), "timeout")):
				t.Fatalf("ok %v err %v, want a timeout", r.ok, r.err)
			case tc.wantErr != nil && tc.wantErr != errTimeout && !errors.Is(r.err, tc.wantErr):
				t.Fatalf("ok %v err %v, want %v", r.ok, r.err, tc.wantErr)
			}
			// The upper bound is a safety net against a hang, not a
			// benchmark: make test runs beside VM boots on two cores.
			if limit := tc.timeout + time.Second; r.dur < tc.minDur || r.dur > limit {
				t.Errorf("took %s, want between %s and %s", r.dur, tc.minDur, limit)
			}
		})
	}
}

var errTimeout = errors.New("timeout")

// TestConnectorManyAndNoLeak: 3,000 connects at once, to a listener and to
// a silent one; every one is answered once and no descriptor outlives
// the connector.
func TestConnectorManyAndNoLeak(t *testing.T) {
	open := netip.MustParseAddrPort(newServer(t, nil).addr)
	silent := unansweredListener(t)
	before := openFDs(t)
	t.Run("run", func(t *testing.T) {
		c := newTestConnector(t)
		states := make([]checkState, 3000)
		var got []result
		for i := range states {
			d := &tcpDial{addr: open}
			if i%10 == 0 {
				d.addr = silent
			}
			if r, done := c.start(&states[i], d, 500*time.Millisecond, clock()); done {
				got = append(got, r)
			}
		}
		seen := map[*checkState]bool{}
		okCount := 0
		for _, r := range collect(t, c, len(states), 10*time.Second, got) {
			if seen[r.st] {
				t.Fatalf("two results for one start")
			}
			seen[r.st] = true
			if r.ok {
				okCount++
			}
		}
		if okCount != 2700 {
			t.Errorf("%d connects succeeded, want 2700 (the other 300 time out)", okCount)
		}
	})
	if after := openFDs(t); after > before {
		t.Errorf("%d descriptors open after the connector closed, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
