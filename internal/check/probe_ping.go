package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// PING_CHECK, as keepalived 2.2.7's check_ping.c runs it: one ICMP (or
// ICMPv6) echo request of an 8-byte header and 128 bytes of filler to
// connect_ip (the real server by default), and the check passes when an
// echo reply comes back within connect_timeout.
//
// keepalived sends it on an unprivileged ICMP datagram socket, which it
// makes usable by root by widening net.ipv4.ping_group_range to 0-max for
// as long as it runs. lvsd does not rewrite that sysctl: it uses the
// datagram socket where the range already allows it, and otherwise a raw
// ICMP socket (root) that matches the reply by identifier and sequence.
// The echo on the wire is the same.

const icmpPayloadLen = 128 // check_ping.c ICMP_BUFSIZE

var pingSeq atomic.Uint32

// pingSocket opens the socket for one echo: datagram if allowed, else raw
// (raw true).
func pingSocket(v6 bool) (fd int, raw bool, err error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err == nil {
		return fd, false, nil
	}
	if err != unix.EACCES && err != unix.EPERM && err != unix.EPROTONOSUPPORT {
		return -1, false, fmt.Errorf("socket: %w", err)
	}
	fd, rerr := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if rerr != nil {
		return -1, false, fmt.Errorf("ICMP socket: datagram %v, raw %w", err, rerr)
	}
	if v6 {
		// Only echo replies (type 129) reach the socket.
		var filter unix.ICMPv6Filter
		for i := range filter.Data {
			filter.Data[i] = 0xffffffff
		}
		filter.Data[129>>5] &^= 1 << (129 & 31)
		_ = unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &filter)
	}
	return fd, true, nil
}

// echoRequest is the echo keepalived sends: type 8 (ICMPv6: 128), code
// 0, the identifier and sequence, then the filler. The checksum is set
// for IPv4 (the kernel sets ICMPv6's, and a datagram socket's).
func echoRequest(v6 bool, id, seq uint16) []byte {
	b := make([]byte, 8, 8+icmpPayloadLen)
	b[0] = 8
	if v6 {
		b[0] = 128
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	b = append(b, fillerPayload(icmpPayloadLen)...)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
	}
	return b
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// echoVerdict decides on one datagram read from the ICMP socket. On a
// datagram socket the kernel delivers only this socket's echo replies, and
// keepalived's recv_it fails anything shorter than a header or not an echo
// reply. On a raw socket the packets of every ICMP user arrive (IPv4 with
// its IP header): only an echo reply with this identifier and sequence is
// the answer, the rest is not (done false).
func echoVerdict(b []byte, v6, raw bool, id, seq uint16) (done bool, err error) {
	reply := byte(0)
	if v6 {
		reply = 129
	}
	if raw && !v6 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return false, nil
		}
		ihl := int(b[0]&0xf) * 4
		if ihl < 20 || len(b) < ihl {
			return false, nil
		}
		b = b[ihl:]
	}
	if len(b) < 8 {
		if raw {
			return false, nil
		}
		return true, fmt.Errorf("got short ICMP packet, %d bytes", len(b))
	}
	if raw {
		if b[0] != reply || binary.BigEndian.Uint16(b[4:]) != id || binary.BigEndian.Uint16(b[6:]) != seq {
			return false, nil
		}
		return true, nil
	}
	if b[0] != reply {
		return true, fmt.Errorf("got ICMP packet with type 0x%x", b[0])
	}
	return true, nil
}

func pingProbe(c *config.Checker, rs *config.RealServer) Probe {
	dst := rs.Addr
	if c.ConnectIP.IsValid() {
		dst = c.ConnectIP
	}
	v6 := dst.Is6() && !dst.Is4In6()
	return func(ctx context.Context) (int, error) {
		fd, raw, err := pingSocket(v6)
		if err != nil {
			return -1, err
		}
		// check_ping.c sets a 128 KiB receive buffer and goes on if it
		// cannot.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 128*1024)
		seq := uint16(pingSeq.Add(1))
		id := uint16(os.Getpid()) ^ seq<<3 // a datagram socket's kernel sets its own, and matches it
		msg := echoRequest(v6, id, seq)
		if err := unix.Sendto(fd, msg, 0, scopedSockaddr(netip.AddrPortFrom(dst.Unmap(), 0), c.BindIf)); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("send ICMP packet to %s: %w", dst, err)
		}
		f := os.NewFile(uintptr(fd), "ping")
		err = readICMP(ctx, f, func(b []byte, rerr error) (bool, error) {
			if rerr != nil {
				return true, fmt.Errorf("recv ICMP packet error: %w", rerr)
			}
			return echoVerdict(b, v6, raw, id, seq)
		})
		if errors.Is(err, errNoAnswer) {
			err = fmt.Errorf("ICMP connection to %s timeout", dst)
		}
		return -1, err
	}
}

// readICMP reads datagrams from f until read is done or ctx ends.
func readICMP(ctx context.Context, f *os.File, read func(b []byte, err error) (bool, error)) error {
	defer f.Close()
	defer armDeadline(ctx, f)()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return readDatagrams(rc, make([]byte, 20+60+8+icmpPayloadLen), nil, read)
}
