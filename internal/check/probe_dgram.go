package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// This file has the datagram checkers, as keepalived 2.2.7 runs them:
// DNS_CHECK (check_dns.c) and UDP_CHECK (check_udp.c, layer4.c
// udp_bind_connect/udp_socket_state). Each attempt opens a non-blocking
// socket of its own, connects it, sends one datagram and waits for the
// answer on Go's poller until connect_timeout.

// fillerPayload is what keepalived's set_buf writes where it has no data
// of the user's: "keepalived check - " repeated over n bytes.
func fillerPayload(n int) []byte {
	const s = "keepalived check - "
	b := make([]byte, n)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}

// dgramSocket opens a connected, non-blocking UDP socket to addr with
// the checker's fwmark, bind_if and bindto/bind_port, as keepalived's
// udp_bind_connect and socket_bind_connect do. recvErr asks for ICMP
// errors on the error queue (IP_RECVERR), as UDP_CHECK does.
func dgramSocket(c *config.Checker, addr netip.AddrPort, recvErr bool) (*os.File, error) {
	v6 := addr.Addr().Is6() && !addr.Addr().Is4In6()
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		unix.Close(fd)
		return nil, err
	}
	if recvErr {
		// keepalived logs a failure here and goes on.
		if v6 {
			_ = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
		} else {
			_ = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
		}
	}
	if err := markAndBindDevice(fd, c.FWMark, c.BindIf); err != nil {
		return fail(err)
	}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		ip := c.BindTo
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
			if v6 {
				ip = netip.IPv6Unspecified()
			}
		}
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(ip, c.BindPort))); err != nil {
			return fail(fmt.Errorf("bind %s: %w", ip, err))
		}
	}
	if err := unix.Connect(fd, scopedSockaddr(addr, c.BindIf)); err != nil {
		return fail(fmt.Errorf("connect %s: %w", addr, err))
	}
	return os.NewFile(uintptr(fd), "check"), nil
}

// scopedSockaddr is sockaddr with the bind_if interface as the zone of an
// IPv6 link-local address.
func scopedSockaddr(ap netip.AddrPort, bindIf string) unix.Sockaddr {
	sa := sockaddr(ap)
	if s6, ok := sa.(*unix.SockaddrInet6); ok && ap.Addr().IsLinkLocalUnicast() && bindIf != "" {
		if ifi, err := net.InterfaceByName(bindIf); err == nil {
			s6.ZoneId = uint32(ifi.Index)
		}
	}
	return sa
}

// errNoAnswer is an attempt that had no answer within connect_timeout.
var errNoAnswer = errors.New("timeout")

// exchange sends msg on f and calls read with each datagram that comes
// back (or each error the socket reports) until read says it is done or
// ctx ends (errNoAnswer). read gets the bytes read, or the error of the
// read; errq, if not nil, is tried first for queued ICMP errors.
func exchange(ctx context.Context, f *os.File, msg []byte, bufLen int, errq func(fd int) (done bool, err error), read func(b []byte, err error) (done bool, verdict error)) error {
	defer f.Close()
	defer armDeadline(ctx, f)()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	if err := rc.Write(func(fd uintptr) bool {
		n, err := unix.Write(int(fd), msg)
		if err == unix.EAGAIN {
			return false
		}
		if err == nil && n != len(msg) {
			err = fmt.Errorf("sent %d of %d bytes", n, len(msg))
		}
		sendErr = err
		return true
	}); err != nil {
		return fmt.Errorf("send: %w", timeoutOr(err))
	}
	if sendErr != nil {
		return fmt.Errorf("send: %w", sendErr)
	}
	return readDatagrams(rc, make([]byte, bufLen), errq, read)
}

// armDeadline makes f's reads and writes end at ctx's deadline, or at once
// when ctx is cancelled; the returned func disarms the cancellation.
func armDeadline(ctx context.Context, f *os.File) (disarm func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = f.SetDeadline(time.Unix(1, 0)) })
}

// readDatagrams reads datagrams from the non-blocking rc into buf until
// read is done, and returns read's verdict (errNoAnswer when the deadline
// passes first). errq, if not nil, is tried before each read for queued
// ICMP errors.
func readDatagrams(rc syscall.RawConn, buf []byte, errq func(fd int) (done bool, err error), read func(b []byte, err error) (done bool, verdict error)) error {
	var verdict error
	err := rc.Read(func(fd uintptr) bool {
		for {
			if errq != nil {
				if done, v := errq(int(fd)); done {
					verdict = v
					return true
				}
			}
			n, err := unix.Read(int(fd), buf)
			if err == unix.EAGAIN {
				return false
			}
			if err == unix.EINTR {
				continue
			}
			var b []byte
			if err == nil {
				b = buf[:n]
			}
			if done, v := read(b, err); done {
				verdict = v
				return true
			}
		}
	})
	if err != nil {
		return timeoutOr(err)
	}
	return verdict
}

func timeoutOr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errNoAnswer
	}
	return err
}

// ---- DNS_CHECK ------------------------------------------------------

// dnsQuery is the query keepalived 2.2.7's dns_make_query writes: a
// header with RD set and one question of qtype, class IN, for name
// (labels split at dots; the root for "" or ".").
func dnsQuery(id uint16, qtype uint16, name string) []byte {
	q := make([]byte, 12, 12+len(name)+6)
	binary.BigEndian.PutUint16(q[0:], id)
	binary.BigEndian.PutUint16(q[2:], 1<<8) // RD
	binary.BigEndian.PutUint16(q[4:], 1)    // QDCOUNT
	for s := name; s != ""; {
		label, rest, found := strings.Cut(s, ".")
		q = append(q, byte(len(label)))
		q = append(q, label...)
		s = rest
		if !found {
			break
		}
	}
	if name != "." {
		q = append(q, 0)
	}
	q = binary.BigEndian.AppendUint16(q, qtype)
	return binary.BigEndian.AppendUint16(q, 1) // IN
}

// dnsVerdict is keepalived 2.2.7's dns_recv_thread on one datagram: one
// shorter than 8 bytes (keepalived compares with the size of a pointer),
// of another ID, or that is not a response is not the answer (done
// false); an answer passes when its RCODE is 0, whatever it holds.
func dnsVerdict(id uint16, b []byte) (done bool, err error) {
	if len(b) < 8 {
		return false, nil
	}
	if binary.BigEndian.Uint16(b) != id {
		return false, nil
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags>>15 == 0 {
		return false, nil
	}
	if rc := flags & 0xf; rc != 0 {
		return true, fmt.Errorf("read error occurred. (rcode = %d)", rc)
	}
	return true, nil
}

func dnsProbe(c *config.Checker, rs *config.RealServer) Probe {
	addr := target(c, rs)
	qtype := config.DNSTypeCode(c.Extra().DNSType)
	if qtype == 0 {
		qtype = 6 // SOA, keepalived's default
	}
	return func(ctx context.Context) (int, error) {
		f, err := dgramSocket(c, addr, false)
		if err != nil {
			return -1, err
		}
		id := uint16(rand.Uint32())
		err = exchange(ctx, f, dnsQuery(id, qtype, c.Extra().DNSName), 768, nil, func(b []byte, err error) (bool, error) {
			if err != nil {
				return true, fmt.Errorf("failed to read socket: %w", err)
			}
			return dnsVerdict(id, b)
		})
		if errors.Is(err, errNoAnswer) {
			err = fmt.Errorf("read timeout from socket %s", addr)
		}
		return -1, err
	}
}

// ---- UDP_CHECK ------------------------------------------------------

// udpReplyVerdict is keepalived 2.2.7's check on a UDP_CHECK reply: with
// reply data, the reply's length must be within min/max_reply_length and
// its first bytes (as many as both have) must match the data outside the
// wildcard nibbles. Without reply data any reply passes.
func udpReplyVerdict(c *config.Checker, b []byte) error {
	x := c.Extra()
	if x.ReplyData == nil {
		return nil
	}
	if len(b) < x.MinReplyLen || len(b) > x.MaxReplyLen {
		return fmt.Errorf("reply of %d bytes, outside %d-%d", len(b), x.MinReplyLen, x.MaxReplyLen)
	}
	for i := 0; i < len(b) && i < len(x.ReplyData); i++ {
		mask := byte(0xff)
		if x.ReplyMask != nil {
			mask = ^x.ReplyMask[i]
		}
		if (b[i]^x.ReplyData[i])&mask != 0 {
			return fmt.Errorf("reply data mismatch at byte %d", i)
		}
	}
	return nil
}

// icmpUnreachable reads one queued socket error: done with an error for
// an ICMP (or ICMPv6) destination unreachable, done without one for any
// other error, as keepalived's udp_socket_error decides; not done when
// none is queued.
func icmpUnreachable(fd int) (bool, error) {
	var b [64]byte
	oob := make([]byte, 512)
	_, oobn, _, _, err := unix.Recvmsg(fd, b[:], oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return false, nil
	}
	return true, sockErrVerdict(oob[:oobn])
}

// sockErrVerdict decides on the control messages of an error-queue read.
func sockErrVerdict(oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if len(m.Data) < 8 {
			continue
		}
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		switch {
		case m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR &&
			origin == unix.SO_EE_ORIGIN_ICMP && typ == 3:
			return fmt.Errorf("ICMP destination unreachable (code %d)", code)
		case m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR &&
			origin == unix.SO_EE_ORIGIN_ICMP6 && typ == 1:
			return fmt.Errorf("ICMPv6 destination unreachable (code %d)", code)
		}
	}
	return nil
}

func udpProbe(c *config.Checker, rs *config.RealServer) Probe {
	addr := target(c, rs)
	x := c.Extra()
	payload := x.Payload
	if payload == nil {
		payload = fillerPayload(32) // layer4.c UDP_BUFSIZE
	}
	bufLen := 1
	if x.RequireReply {
		bufLen = x.MaxReplyLen + 1
	}
	return func(ctx context.Context) (int, error) {
		f, err := dgramSocket(c, addr, true)
		if err != nil {
			return -1, err
		}
		err = exchange(ctx, f, payload, bufLen, icmpUnreachable, func(b []byte, err error) (bool, error) {
			if err != nil {
				return true, fmt.Errorf("UDP connection to %s failed: %w", addr, err)
			}
			return true, udpReplyVerdict(c, b)
		})
		if errors.Is(err, errNoAnswer) {
			// keepalived: no reply is a pass unless one is required.
			if !x.RequireReply {
				return -1, nil
			}
			err = fmt.Errorf("no reply from %s", addr)
		}
		return -1, err
	}
}
