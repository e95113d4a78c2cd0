package bfd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ControlPort is RFC 5881's single-hop control port.
const ControlPort = 3784

// Source ports (RFC 5881 section 4).
const (
	MinSourcePort = 49152
	MaxSourcePort = 65535
)

// Instance is one bfd_instance: a session and where it runs.
type Instance struct {
	SessionConfig
	Neighbor netip.Addr
	Source   netip.Addr // optional
	// TTL is the TTL (hop limit) sent; 0 is keepalived's default (255 for
	// IPv4, 64 for IPv6).
	TTL uint8
	// MaxHops: a received packet's TTL must be at least TTL-MaxHops (0:
	// RFC 5881's GTSM, TTL 255 only); 255 (max_hops -1) checks nothing.
	MaxHops uint8
}

func (in *Instance) ttl() int {
	if in.TTL != 0 {
		return int(in.TTL)
	}
	if in.Neighbor.Is4() {
		return DefaultTTL
	}
	return DefaultHopLimit
}

// received is one datagram off the listening socket.
type received struct {
	src, dst netip.Addr
	ttl      int // 0: unknown
	b        []byte
}

// transport sends an instance's packets; the real one is UDP sockets,
// tests use channels.
type transport interface {
	open(in *instance) error
	send(in *instance, b []byte) error
	closeOne(in *instance)
	close()
}

type instance struct {
	cfg     Instance
	sess    *Session
	open    bool
	retryAt time.Time
	out     *net.UDPConn // udpTransport's sending socket
}

// Runner runs bfd_instances: one listening socket on port 3784 for all of
// them (as keepalived's bfd process), one sending socket each.
type Runner struct {
	log   *slog.Logger
	inst  []*instance
	tr    transport
	rx    chan received
	rnd   *rand.Rand
	discs map[uint32]bool
	done  chan struct{}
	upd   chan []Instance

	mu      sync.Mutex
	states  map[string]State
	watches []func(name string, s State)
	// Listen is the listening address; tests change it.
	listen netip.AddrPort
	// Publish: the states go to Publish too (the daemon's runner).
	Publish bool
}

// NewRunner prepares the instances (names must be unique).
func NewRunner(insts []Instance, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{log: log, rx: make(chan received, 64), rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		discs: map[uint32]bool{}, done: make(chan struct{}), upd: make(chan []Instance), states: map[string]State{},
		listen: netip.AddrPortFrom(netip.IPv6Unspecified(), ControlPort)}
	for _, in := range insts {
		r.inst = append(r.inst, &instance{cfg: in})
		r.states[in.Name] = Down
	}
	r.tr = &udpTransport{r: r}
	return r
}

// Watch registers fn to be called (from the runner's goroutine) with every
// state an instance reports: Down for each at start, as keepalived's bfd
// process sends its status when it starts, then Up and Down as sessions
// come up and fail (RFC 5880's Down after Up; not a peer's AdminDown).
// Call before Run.
func (r *Runner) Watch(fn func(name string, s State)) { r.watches = append(r.watches, fn) }

// State is the last state an instance reported.
func (r *Runner) State(name string) State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[name]
}

func (r *Runner) notify(name string, s State) {
	r.mu.Lock()
	r.states[name] = s
	r.mu.Unlock()
	if r.Publish {
		Publish(name, s)
	}
	for _, fn := range r.watches {
		fn(name, s)
	}
}

func (r *Runner) newDisc() uint32 {
	for {
		d := r.rnd.Uint32()
		if d != 0 && !r.discs[d] {
			r.discs[d] = true
			return d
		}
	}
}

func (r *Runner) rand(lo, hi uint32) uint32 {
	if hi <= lo {
		return lo
	}
	return lo + r.rnd.Uint32N(hi-lo+1)
}

// Run runs the sessions until ctx ends. It fails only when the listening
// socket cannot be opened (keepalived's bfd process exits then too).
func (r *Runner) Run(ctx context.Context) error {
	if u, ok := r.tr.(*udpTransport); ok {
		if err := u.listen(ctx); err != nil {
			r.log.Error("Unable to open listening socket", "err", err)
			return err
		}
	}
	defer r.tr.close()
	defer close(r.done)
	now := time.Now()
	for _, in := range r.inst {
		in.sess = NewSession(in.cfg.SessionConfig, r.log, r.newDisc, r.rand)
		r.notify(in.cfg.Name, Down)
		r.openInstance(in, now)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Time{}
		for _, in := range r.inst {
			for _, d := range []time.Time{in.sess.NextDeadline(), in.retryAt} {
				if !d.IsZero() && (next.IsZero() || d.Before(next)) {
					next = d
				}
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case m := <-r.rx:
			r.receive(m, time.Now())
		case insts := <-r.upd:
			r.update(insts, time.Now())
		case <-timer.C:
			now := time.Now()
			for _, in := range r.inst {
				if due(in.retryAt, now) {
					in.retryAt = time.Time{}
					r.openInstance(in, now)
				}
				if in.open {
					r.apply(in, in.sess.Advance(now))
				}
			}
		}
	}
}

func (r *Runner) openInstance(in *instance, now time.Time) {
	if err := r.tr.open(in); err != nil {
		if in.retryAt.IsZero() {
			r.log.Error(fmt.Sprintf("(%s) Unable to open output socket, disabling instance", in.cfg.Name), "err", err)
		}
		in.retryAt = now.Add(60 * time.Second)
		return
	}
	in.open = true
	r.apply(in, in.sess.Start(now))
}

func (r *Runner) apply(in *instance, out Output) {
	for _, p := range out.Send {
		if err := r.tr.send(in, p.Marshal()); err != nil {
			r.log.Debug(fmt.Sprintf("(%s) Error sending packet", in.cfg.Name), "err", err)
		}
	}
	for _, c := range out.Changes {
		r.notify(in.cfg.Name, c.State)
	}
}

func (r *Runner) receive(m received, now time.Time) {
	p, err := Decode(m.b)
	if err != nil {
		r.log.Debug("Discarding bogus packet", "from", m.src, "err", err)
		return
	}
	var in *instance
	for _, c := range r.inst {
		if !c.open {
			continue
		}
		if p.YourDisc == 0 {
			if c.cfg.Neighbor == m.src && (!c.cfg.Source.IsValid() || !m.dst.IsValid() || c.cfg.Source == m.dst) {
				in = c
				break
			}
		} else if c.sess.LocalDisc() == p.YourDisc {
			in = c
			break
		}
	}
	if in == nil {
		r.log.Debug(fmt.Sprintf("Discarding packet from %s (session is not found - your discriminator field is 0x%8.8x)", m.src, p.YourDisc))
		return
	}
	// GTSM (RFC 5881 section 5), extended by keepalived's max_hops.
	if in.cfg.MaxHops != 255 && m.ttl != 0 && int(in.cfg.MaxHops)+m.ttl < in.cfg.ttl() {
		r.log.Debug(fmt.Sprintf("Packet ttl(%d) < %d - discarding", m.ttl, in.cfg.ttl()-int(in.cfg.MaxHops)))
		return
	}
	r.apply(in, in.sess.Receive(p, now))
}

// Update replaces the running instances by insts, as keepalived's bfd
// process reloads: an instance of the same name keeps its session's state
// (a change of min_rx, min_tx, idle_tx or multiplier starts a poll
// sequence; of the addresses or TTL, a new sending socket); new ones
// start Down; removed ones stop. Call while Run runs.
func (r *Runner) Update(ctx context.Context, insts []Instance) {
	select {
	case r.upd <- insts:
	case <-r.done:
	case <-ctx.Done():
	}
}

func (r *Runner) update(insts []Instance, now time.Time) {
	old := map[string]*instance{}
	for _, in := range r.inst {
		old[in.cfg.Name] = in
	}
	var next []*instance
	for _, cfg := range insts {
		in, kept := old[cfg.Name]
		if !kept {
			in = &instance{cfg: cfg}
			in.sess = NewSession(cfg.SessionConfig, r.log, r.newDisc, r.rand)
			next = append(next, in)
			r.mu.Lock()
			r.states[cfg.Name] = Down
			r.mu.Unlock()
			r.notify(cfg.Name, Down)
			r.openInstance(in, now)
			continue
		}
		delete(old, cfg.Name)
		reopen := in.cfg.Neighbor != cfg.Neighbor || in.cfg.Source != cfg.Source || in.cfg.TTL != cfg.TTL
		in.cfg = cfg
		in.sess.Reconfigure(cfg.SessionConfig)
		if reopen {
			r.tr.closeOne(in)
			in.open = false
			if err := r.tr.open(in); err != nil {
				r.log.Error(fmt.Sprintf("(%s) Unable to open output socket, disabling instance", cfg.Name), "err", err)
				in.retryAt = now.Add(60 * time.Second)
			} else {
				in.open = true
			}
		}
		next = append(next, in)
	}
	for name, in := range old {
		r.tr.closeOne(in)
		delete(r.discs, in.sess.LocalDisc())
		r.mu.Lock()
		delete(r.states, name)
		r.mu.Unlock()
		if r.Publish {
			Unpublish(name)
		}
	}
	r.inst = next
}

// udpTransport is the real one.
type udpTransport struct {
	r  *Runner
	in *net.UDPConn
}

func (u *udpTransport) listen(ctx context.Context) error {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			set := func(level, opt int) {
				if e := unix.SetsockoptInt(int(fd), level, opt, 1); e != nil && serr == nil {
					serr = fmt.Errorf("setsockopt(%d, %d): %w", level, opt, e)
				}
			}
			set(unix.IPPROTO_IP, unix.IP_RECVTTL)
			set(unix.IPPROTO_IP, unix.IP_PKTINFO)
			if network == "udp6" {
				set(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT)
				set(unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp", u.r.listen.String())
	if err != nil && u.r.listen.Addr() == netip.IPv6Unspecified() {
		// IPv6 disabled: IPv4 only, as keepalived falls back.
		pc, err = lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", u.r.listen.Port()))
	}
	if err != nil {
		return err
	}
	u.in = pc.(*net.UDPConn)
	go u.read()
	return nil
}

func (u *udpTransport) read() {
	buf := make([]byte, 1500)
	oob := make([]byte, 256)
	for {
		n, oobn, flags, src, err := u.in.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if flags&unix.MSG_TRUNC != 0 {
			continue
		}
		m := received{src: src.Addr().Unmap(), b: append([]byte(nil), buf[:n]...)}
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				switch {
				case cm.Header.Level == unix.IPPROTO_IP && cm.Header.Type == unix.IP_TTL && len(cm.Data) >= 1,
					cm.Header.Level == unix.IPPROTO_IPV6 && cm.Header.Type == unix.IPV6_HOPLIMIT && len(cm.Data) >= 1:
					m.ttl = int(cm.Data[0])
					if len(cm.Data) >= 4 {
						m.ttl = int(binary.NativeEndian.Uint32(cm.Data)) // an int
					}
				case cm.Header.Level == unix.IPPROTO_IPV6 && cm.Header.Type == unix.IPV6_PKTINFO && len(cm.Data) >= 16:
					m.dst = netip.AddrFrom16([16]byte(cm.Data[:16])).Unmap()
				case cm.Header.Level == unix.IPPROTO_IP && cm.Header.Type == unix.IP_PKTINFO && len(cm.Data) >= 12:
					m.dst = netip.AddrFrom4([4]byte(cm.Data[8:12]))
				}
			}
		}
		select {
		case u.r.rx <- m:
		case <-u.r.done:
			return
		}
	}
}

func (u *udpTransport) open(inst *instance) error {
	in := &inst.cfg
	network := "udp4"
	if in.Neighbor.Is6() {
		network = "udp6"
	}
	src := in.Source
	if !src.IsValid() {
		if in.Neighbor.Is4() {
			src = netip.IPv4Unspecified()
		} else {
			src = netip.IPv6Unspecified()
		}
	}
	lo, hi := localPortRange()
	start := lo + int(u.r.rnd.Uint32N(uint32(hi-lo+1)))
	port := start
	for {
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(port))))
		if err == nil {
			if in.Neighbor.Is4() {
				err = ipv4.NewConn(c).SetTTL(in.ttl())
			} else {
				err = ipv6.NewConn(c).SetHopLimit(in.ttl())
			}
			if err != nil {
				c.Close()
				return err
			}
			inst.out = c
			go drain(c)
			return nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			return err
		}
		if port++; port > hi {
			port = lo
		}
		if port == start {
			return err
		}
	}
}

// drain reads and drops what reaches a sending socket, so that its
// receive queue never fills.
func drain(c *net.UDPConn) {
	buf := make([]byte, 64)
	for {
		if _, _, err := c.ReadFromUDPAddrPort(buf); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (u *udpTransport) send(in *instance, b []byte) error {
	if in.out == nil {
		return errors.New("no socket")
	}
	_, err := in.out.WriteToUDPAddrPort(b, netip.AddrPortFrom(in.cfg.Neighbor, ControlPort))
	return err
}

func (u *udpTransport) closeOne(in *instance) {
	if in.out != nil {
		in.out.Close()
		in.out = nil
	}
}

func (u *udpTransport) close() {
	if u.in != nil {
		u.in.Close()
	}
	for _, in := range u.r.inst {
		u.closeOne(in)
	}
}

// localPortRange is keepalived's: ip_local_port_range clipped to
// [49152, 65535], or the whole of that when under 1024 ports remain.
func localPortRange() (int, int) {
	lo, hi := 49152, 60999
	if b, err := readFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var a, z int
		if n, _ := fmt.Sscanf(string(b), "%d %d", &a, &z); n == 2 && a > 0 && z > 0 {
			lo, hi = a, z
		}
	}
	lo, hi = max(lo, MinSourcePort), min(hi, MaxSourcePort)
	if lo+1023 > hi {
		lo, hi = MinSourcePort, MaxSourcePort
	}
	return lo, hi
}
