package labtest

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// InNetns runs fn on a locked OS thread of its own, switched into the
// named network namespace (/run/netns/name); sockets made there stay
// there. The caller's thread is never switched.
func InNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = fn()
		// A thread that cannot go back ends with this goroutine.
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// LongConn is one long-lived connection to a Serve real server.
type LongConn struct {
	c      net.Conn
	r      *bufio.Reader
	Src    netip.Addr
	Server string // the id the real server greeted with

	mu     sync.Mutex
	failed time.Time
	why    string
	lines  int
	// stall is the longest wait for an echo since the last MarkEvent.
	stall time.Duration
}

// LongConns are a client's long-lived connections, each sending a line
// and waiting for its echo, as terminals holding a session do.
type LongConns struct {
	Conns    []*LongConn
	deadline time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
}

// DialLong opens n connections to target from namespace ns, spread over
// sources, and reads each greeting. An echo that takes longer than
// deadline fails its connection ("timeout").
func DialLong(ns, target string, sources []netip.Addr, n int, deadline time.Duration) (*LongConns, error) {
	c := &LongConns{deadline: deadline, stop: make(chan struct{})}
	err := InNetns(ns, func() error {
		for i := range n {
			src := sources[i%len(sources)]
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 5 * time.Second}
			conn, err := d.Dial("tcp", target)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			r := bufio.NewReader(conn)
			_ = conn.SetDeadline(time.Now().Add(deadline))
			id, err := r.ReadString('\n')
			if err != nil {
				conn.Close()
				return fmt.Errorf("connection %d greeting: %w", i, err)
			}
			c.Conns = append(c.Conns, &LongConn{c: conn, r: r, Src: src, Server: strings.TrimSpace(id)})
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Run sends a line on each connection every interval (their starts spread
// over one interval) and reads its echo, until Close or a failure.
func (c *LongConns) Run(interval time.Duration) {
	for i, lc := range c.Conns {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			wait := time.Duration(i) * interval / time.Duration(len(c.Conns))
			for {
				select {
				case <-c.stop:
					return
				case <-time.After(wait):
				}
				wait = interval
				sent := time.Now()
				_ = lc.c.SetDeadline(sent.Add(c.deadline))
				_, err := lc.c.Write([]byte("line\n"))
				var echo string
				if err == nil {
					echo, err = lc.r.ReadString('\n')
				}
				if err == nil && echo != "line\n" {
					err = fmt.Errorf("echo %q", echo)
				}
				took := time.Since(sent)
				lc.mu.Lock()
				if err != nil {
					select {
					case <-c.stop: // closed by us
					default:
						lc.failed, lc.why = time.Now(), longErrKind(err)
					}
					lc.mu.Unlock()
					return
				}
				lc.lines++
				lc.stall = max(lc.stall, took)
				lc.mu.Unlock()
			}
		}()
	}
}

func longErrKind(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "reset"):
		return "reset"
	case strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "EOF"):
		return "eof"
	}
	return s
}

// Close stops the senders and closes every connection.
func (c *LongConns) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	for _, lc := range c.Conns {
		_ = lc.c.Close()
	}
	c.wg.Wait()
}

// Failures counts failed connections and their kinds.
func (c *LongConns) Failures() (int, map[string]int) {
	kinds := map[string]int{}
	n := 0
	for _, lc := range c.Conns {
		lc.mu.Lock()
		if !lc.failed.IsZero() {
			n++
			kinds[lc.why]++
		}
		lc.mu.Unlock()
	}
	return n, kinds
}

// MarkEvent starts a new stall window: Stalls reports the longest echo
// wait of each connection from here on.
func (c *LongConns) MarkEvent() {
	for _, lc := range c.Conns {
		lc.mu.Lock()
		lc.stall = 0
		lc.mu.Unlock()
	}
}

// StallFigures are the longest echo waits since MarkEvent over the
// connections still alive: median, 99th percentile and maximum.
type StallFigures struct{ P50, P99, Max time.Duration }

func (s StallFigures) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	return fmt.Sprintf("stall p50 %s, p99 %s, max %s", r(s.P50), r(s.P99), r(s.Max))
}

// Stalls computes StallFigures.
func (c *LongConns) Stalls() StallFigures {
	var all []time.Duration
	for _, lc := range c.Conns {
		lc.mu.Lock()
		if lc.failed.IsZero() {
			all = append(all, lc.stall)
		}
		lc.mu.Unlock()
	}
	if len(all) == 0 {
		return StallFigures{}
	}
	slices.Sort(all)
	at := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	return StallFigures{P50: at(0.50), P99: at(0.99), Max: all[len(all)-1]}
}

// Sticky opens one new connection from each source address of the
// connections, from namespace ns, and counts those that reach another
// real server than that address's existing connections (persistence lost).
func (c *LongConns) Sticky(ns, target string) (moved, checked int) {
	want := map[netip.Addr]string{}
	for _, lc := range c.Conns {
		want[lc.Src] = lc.Server
	}
	_ = InNetns(ns, func() error {
		for src, server := range want {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 5 * time.Second}
			conn, err := d.Dial("tcp", target)
			checked++
			if err != nil {
				moved++
				continue
			}
			_ = conn.SetDeadline(time.Now().Add(c.deadline))
			id, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err != nil || strings.TrimSpace(id) != server {
				moved++
			}
		}
		return nil
	})
	return moved, checked
}
