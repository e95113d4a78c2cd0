package check

import (
	"container/heap"
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// tcpDial is where and how a TCP_CHECK connects.
type tcpDial struct {
	addr   netip.AddrPort
	bind   netip.AddrPort // bindto/bind_port; invalid address and port 0 if neither
	mark   uint32
	bindIf string
}

func newTCPDial(c *config.Checker, rs *config.RealServer) *tcpDial {
	d := &tcpDial{addr: target(c, rs), mark: c.FWMark, bindIf: c.BindIf}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		ip := c.BindTo
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
			if d.addr.Addr().Is6() {
				ip = netip.IPv6Unspecified()
			}
		}
		d.bind = netip.AddrPortFrom(ip, c.BindPort)
	}
	return d
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// connect opens a non-blocking socket and starts connecting. done is true
// when the kernel answered at once (err says how).
func (d *tcpDial) connect() (fd int, done bool, err error) {
	family := unix.AF_INET
	if d.addr.Addr().Is6() && !d.addr.Addr().Is4In6() {
		family = unix.AF_INET6
	}
	fd, err = rawSocket(family)
	if err != nil {
		return -1, true, fmt.Errorf("socket: %w", err)
	}
	fail := func(err error) (int, bool, error) {
		rawClose(fd)
		return -1, true, err
	}
	if err := markAndBindDevice(fd, d.mark, d.bindIf); err != nil {
		return fail(err)
	}
	if d.bind.IsValid() {
		if err := unix.Bind(fd, sockaddr(d.bind)); err != nil {
			return fail(fmt.Errorf("bind %s: %w", d.bind, err))
		}
	}
	switch errno := rawConnect(fd, d.addr); errno {
	case 0:
		rawClose(fd)
		return -1, true, nil
	case unix.EINPROGRESS, unix.EINTR:
		// EINTR: the connect goes on in the background, like EINPROGRESS.
		return fd, false, nil
	default:
		return fail(fmt.Errorf("connect %s: %w", d.addr, errno))
	}
}

// connector runs every TCP_CHECK connect on one epoll instance owned by
// the manager's loop, as keepalived's event loop does: a check costs a
// socket, a connect, an epoll registration and a close (and a getsockopt
// when it failed), with no goroutine, timer, channel or thread hand-off of
// its own, so 10,000 checkers a second stay cheap. Only wake may be called
// from elsewhere.
type connector struct {
	epfd, wakefd int
	byFD         []*attempt // indexed by descriptor: descriptors are small and reused lowest first
	byTime       attemptHeap
	events       []unix.EpollEvent
}

type attempt struct {
	fd       int32
	addr     netip.AddrPort
	st       *checkState
	start    time.Duration // monotonic, see clock
	deadline time.Duration
	index    int
}

// clockBase and clock give monotonic time with one clock read: time.Now
// reads two clocks, and where the clock is not in the vDSO (some VMs)
// every read is a system call.
var clockBase = time.Now()

func clock() time.Duration { return time.Since(clockBase) }

func (a *attempt) result(err error, now time.Duration) result {
	return result{st: a.st, ok: err == nil, weight: -1, err: err, at: clockBase.Add(a.start), dur: now - a.start}
}

func newConnector() (*connector, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	return &connector{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, 256)}, nil
}

// start begins one check at now. If the kernel answers at once the result
// is returned (done true); otherwise poll returns it when the connect
// completes, fails or times out.
func (c *connector) start(st *checkState, d *tcpDial, timeout, now time.Duration) (r result, done bool) {
	// A checker has one connect at a time, so its attempt lives in its
	// state: no allocation per check.
	a := &st.attempt
	*a = attempt{addr: d.addr, st: st, start: now, deadline: now + timeout}
	fd, answered, err := d.connect()
	if answered {
		return a.result(err, clock()), true
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
	if err := rawEpollAdd(c.epfd, fd, &ev); err != nil {
		rawClose(fd)
		return a.result(fmt.Errorf("epoll_ctl: %w", err), now), true
	}
	a.fd = int32(fd)
	if fd >= len(c.byFD) {
		c.byFD = append(c.byFD, make([]*attempt, fd+1-len(c.byFD))...)
	}
	c.byFD[fd] = a
	heap.Push(&c.byTime, a)
	return result{}, false
}

// nextDeadline is when poll must run at the latest (ok false: no connect
// in flight).
func (c *connector) nextDeadline() (time.Duration, bool) {
	if len(c.byTime) == 0 {
		return 0, false
	}
	return c.byTime[0].deadline, true
}

// wake makes a poll in progress return; safe from any goroutine.
func (c *connector) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(c.wakefd, one[:])
}

// poll waits up to wait (negative: until an event or wake) and appends the
// connects that ended to out.
func (c *connector) poll(wait time.Duration, out []result) []result {
	ms := -1
	if wait >= 0 {
		// Round up: waking a millisecond early would only spin.
		ms = int((wait + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := unix.EpollWait(c.epfd, c.events, ms)
	if err != nil {
		n = 0 // EINTR; anything else cannot happen on a valid epoll fd
	}
	now := clock()
	var drain [8]byte
	for _, ev := range c.events[:n] {
		if int(ev.Fd) == c.wakefd {
			_, _ = unix.Read(c.wakefd, drain[:])
			continue
		}
		if a := c.lookup(ev.Fd); a != nil {
			// A connect that failed always raises EPOLLERR (the socket
			// has an error) or EPOLLHUP (it is closed); EPOLLOUT alone
			// is an established connection, so SO_ERROR is read only
			// when there is an error to name.
			var err error
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				err = a.soError() // nil, as for keepalived, if it has none
			}
			out = append(out, c.finish(a, err, now))
		}
	}
	for len(c.byTime) > 0 && c.byTime[0].deadline <= now {
		a := c.byTime[0]
		// The loop may itself have been late: a connect that succeeded
		// in time is not failed for that.
		err := a.soError()
		if err == nil && !a.writable() {
			err = fmt.Errorf("connect %s: timeout after %s", a.addr, a.deadline-a.start)
		}
		out = append(out, c.finish(a, err, now))
	}
	return out
}

// soError is how a's connect ended (nil: connected) once epoll reported it.
func (a *attempt) soError() error {
	soerr, err := rawSoError(int(a.fd))
	switch {
	case err != nil:
		return fmt.Errorf("SO_ERROR: %w", err)
	case soerr != 0:
		return fmt.Errorf("connect %s: %w", a.addr, unix.Errno(soerr))
	}
	return nil
}

// writable says whether a's connect has completed.
func (a *attempt) writable() bool {
	pfd := []unix.PollFd{{Fd: a.fd, Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 1 && pfd[0].Revents&unix.POLLOUT != 0
}

// lookup is the attempt connecting on fd, nil if none.
func (c *connector) lookup(fd int32) *attempt {
	if fd < 0 || int(fd) >= len(c.byFD) {
		return nil
	}
	return c.byFD[fd]
}

// finish closes a's socket (which also drops it from epoll) and forgets it.
func (c *connector) finish(a *attempt, err error, now time.Duration) result {
	c.byFD[a.fd] = nil
	heap.Remove(&c.byTime, a.index)
	rawClose(int(a.fd))
	return a.result(err, now)
}

// close releases every socket and the epoll instance.
func (c *connector) close() {
	for fd, a := range c.byFD {
		if a != nil {
			unix.Close(fd)
		}
	}
	c.byFD, c.byTime = nil, nil
	unix.Close(c.epfd)
	unix.Close(c.wakefd)
}

type attemptHeap []*attempt

func (h attemptHeap) Len() int           { return len(h) }
func (h attemptHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h attemptHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *attemptHeap) Push(x any) {
	a := x.(*attempt)
	a.index = len(*h)
	*h = append(*h, a)
}
func (h *attemptHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.index = -1
	return a
}
