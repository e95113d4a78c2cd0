package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The IPVS generic netlink interface (include/uapi/linux/ip_vs.h).
const (
	ipvsGenlVersion = 1

	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdGetDest    = 8
	ipvsCmdGetService = 4

	ipvsCmdAttrService = 1
	ipvsCmdAttrDest    = 2

	ipvsSvcAttrAF        = 1
	ipvsSvcAttrProtocol  = 2
	ipvsSvcAttrAddr      = 3
	ipvsSvcAttrPort      = 4
	ipvsSvcAttrFWMark    = 5
	ipvsSvcAttrSchedName = 6
	ipvsSvcAttrFlags     = 7
	ipvsSvcAttrTimeout   = 8
	ipvsSvcAttrNetmask   = 9
	ipvsSvcAttrStats     = 10
	ipvsSvcAttrPEName    = 11
	ipvsSvcAttrStats64   = 12

	ipvsDestAttrAddr      = 1
	ipvsDestAttrPort      = 2
	ipvsDestAttrFwdMethod = 3
	ipvsDestAttrWeight    = 4
	ipvsDestAttrUThresh   = 5
	ipvsDestAttrLThresh   = 6
	ipvsDestAttrActive    = 7
	ipvsDestAttrInactive  = 8
	ipvsDestAttrPersist   = 9
	ipvsDestAttrStats     = 10
	ipvsDestAttrAddrFam   = 11
	ipvsDestAttrStats64   = 12
	ipvsDestAttrTunType   = 13
	ipvsDestAttrTunPort   = 14
	ipvsDestAttrTunFlags  = 15
)

// maxBatch bounds the messages per send: their acknowledgements must fit
// the socket's receive buffer.
const maxBatch = 64

// genlConn is one IPVS generic netlink socket, the only way lvsd talks to
// IPVS. Writes: many in one send, with one acknowledgement each; the
// kernel handles each message as if sent alone (an error in one does not
// stop the next), but a cold sync of 50,000 writes pays for 800 round
// trips instead of 50,000. Reads: dumps decoded into the table's own
// types (dump.go). Sync daemons: syncdaemon.go.
type genlConn struct {
	sock   socket
	family uint16
	seq    uint32
	buf    []byte
	rbuf   []byte
	// broken: a send or receive failed, so a reply may be left behind;
	// the socket is not reused.
	broken bool
}

// socket is the datagram socket beneath genlConn: the kernel's, or in
// tests a replay of replies captured from it (fixture_test.go).
type socket interface {
	send(b []byte) error
	recv(b []byte) (int, error)
	close() error
}

// ipvsFamily resolves the IPVS generic netlink family's number.
func ipvsFamily() (uint16, error) {
	gc, err := genetlink.Dial(nil)
	if err != nil {
		return 0, err
	}
	defer gc.Close()
	fam, err := gc.GetFamily("IPVS")
	if err != nil {
		return 0, err
	}
	return fam.ID, nil
}

func newGenlConn(family uint16) (*genlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// Small acknowledgements (no copy of each request), room for a
	// batch of them, and a bound on a wait for one that never comes.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return newConn(fdSocket(fd), family, uint32(time.Now().UnixNano())), nil
}

func newConn(s socket, family uint16, seq uint32) *genlConn {
	return &genlConn{sock: s, family: family, seq: seq, rbuf: make([]byte, 64<<10)}
}

// fdSocket is a netlink socket's descriptor.
type fdSocket int

func (fd fdSocket) send(b []byte) error {
	return unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func (fd fdSocket) recv(b []byte) (int, error) {
	n, _, err := unix.Recvfrom(int(fd), b, 0)
	return n, err
}

func (fd fdSocket) close() error { return unix.Close(int(fd)) }

func (b *genlConn) Close() error { return b.sock.close() }

// send sends one datagram of requests.
func (b *genlConn) send(buf []byte) error {
	if err := b.sock.send(buf); err != nil {
		b.broken = true
		return fmt.Errorf("netlink send: %w", err)
	}
	return nil
}

// write applies ops (at most maxBatch) and returns one error per op, nil
// where the kernel acknowledged it or it had already converged.
func (b *genlConn) write(ops []Op) []error {
	errs := make([]error, len(ops))
	first := b.seq + 1
	b.buf = b.buf[:0]
	for i, op := range ops {
		b.seq++
		msg, err := encodeOp(op)
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", op, err)
			continue
		}
		b.buf = appendMessage(b.buf, b.family, unix.NLM_F_REQUEST|unix.NLM_F_ACK, b.seq, msg)
	}
	if err := b.send(b.buf); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%s: %w", ops[i], err)
			}
		}
		return errs
	}
	acked := make([]bool, len(ops))
	pending := 0
	for i := range errs {
		if errs[i] == nil {
			pending++
		}
	}
	for pending > 0 {
		reply, err := b.receive()
		if err != nil {
			for i := range errs {
				if errs[i] == nil && !acked[i] {
					errs[i] = fmt.Errorf("%s: no acknowledgement: %w", ops[i], err)
				}
			}
			return errs
		}
		parseAcks(reply, first, len(ops), func(i int, code int32) {
			if acked[i] || errs[i] != nil {
				return
			}
			acked[i] = true
			pending--
			if code != 0 {
				if errno := unix.Errno(-code); !converged(ops[i].Kind, errno) {
					errs[i] = fmt.Errorf("%s: %w", ops[i], errno)
				}
			}
		})
	}
	return errs
}

// parseAcks calls ack for every acknowledgement in buf of the n requests
// numbered from first (ack's i is the request's index, code the kernel's
// negative errno or 0). Anything else, or anything malformed, is skipped.
func parseAcks(buf []byte, first uint32, n int, ack func(i int, code int32)) {
	_ = eachMessage(buf, func(h nlHeader, body []byte) bool {
		i := int64(h.seq - first) // wraps with the sequence
		if h.typ == unix.NLMSG_ERROR && len(body) >= 4 && i < int64(n) {
			ack(int(i), int32(binary.NativeEndian.Uint32(body[0:4])))
		}
		return true
	})
}

// nlHeader is the part of a netlink message header the parsers read.
type nlHeader struct {
	typ, flags uint16
	seq        uint32
}

// eachMessage calls fn for every netlink message in buf until fn returns
// false; a malformed length stops the walk with an error.
func eachMessage(buf []byte, fn func(h nlHeader, body []byte) bool) error {
	for len(buf) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(buf[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(buf) {
			return fmt.Errorf("malformed netlink message (length %d of %d)", l, len(buf))
		}
		h := nlHeader{typ: binary.NativeEndian.Uint16(buf[4:6]), flags: binary.NativeEndian.Uint16(buf[6:8]),
			seq: binary.NativeEndian.Uint32(buf[8:12])}
		body := buf[unix.NLMSG_HDRLEN:l]
		buf = buf[min(nlmsgAlign(l), len(buf)):]
		if !fn(h, body) {
			return nil
		}
	}
	return nil
}

// receive reads one datagram of replies into the receive buffer.
func (b *genlConn) receive() ([]byte, error) {
	for {
		n, err := b.sock.recv(b.rbuf)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				b.broken = true
				return nil, err
			}
			return b.rbuf[:n], nil
		}
	}
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// appendMessage frames one generic netlink request.
func appendMessage(buf []byte, family, flags uint16, seq uint32, msg genetlink.Message) []byte {
	body, _ := msg.MarshalBinary()
	total := unix.NLMSG_HDRLEN + len(body)
	var hdr [unix.NLMSG_HDRLEN]byte
	binary.NativeEndian.PutUint32(hdr[0:4], uint32(total))
	binary.NativeEndian.PutUint16(hdr[4:6], family)
	binary.NativeEndian.PutUint16(hdr[6:8], flags)
	binary.NativeEndian.PutUint32(hdr[8:12], seq)
	buf = append(buf, hdr[:]...)
	buf = append(buf, body...)
	for len(buf)%unix.NLMSG_ALIGNTO != 0 {
		buf = append(buf, 0)
	}
	return buf
}

// encodeOp builds the generic netlink message for one op: every
// attribute of the service and destination is sent, so that an update
// never resets one to a zero value.
func encodeOp(op Op) (genetlink.Message, error) {
	withPE := op.Kind == CreateService || op.Kind == UpdateService
	ae := netlink.NewAttributeEncoder()
	ae.Do(ipvsCmdAttrService, func() ([]byte, error) { return encodeService(op.Service, withPE) })
	var cmd uint8
	switch op.Kind {
	case CreateService:
		cmd = ipvsCmdNewService
	case UpdateService:
		cmd = ipvsCmdSetService
	case RemoveService:
		cmd = ipvsCmdDelService
	case CreateDest, UpdateDest, RemoveDest:
		cmd = ipvsCmdNewDest
		if op.Kind == UpdateDest {
			cmd = ipvsCmdSetDest
		} else if op.Kind == RemoveDest {
			cmd = ipvsCmdDelDest
		}
		ae.Do(ipvsCmdAttrDest, func() ([]byte, error) { return encodeDest(op.Dest) })
	default:
		return genetlink.Message{}, fmt.Errorf("unknown op %d", op.Kind)
	}
	data, err := ae.Encode()
	if err != nil {
		return genetlink.Message{}, err
	}
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion}, Data: data}, nil
}

func bePort(p uint16) func() ([]byte, error) {
	return func() ([]byte, error) { return binary.BigEndian.AppendUint16(nil, p), nil }
}

func addrFamily(v6 bool) uint16 {
	if v6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// encodeServiceKey encodes what identifies a service, all the kernel
// reads of a lookup (ip_vs_genl_parse_service without full_entry).
func encodeServiceKey(ae *netlink.AttributeEncoder, k ServiceKey) {
	ae.Uint16(ipvsSvcAttrAF, addrFamily(k.IPv6))
	if k.FWMark != 0 {
		ae.Uint32(ipvsSvcAttrFWMark, k.FWMark)
		return
	}
	ae.Uint16(ipvsSvcAttrProtocol, k.Protocol)
	ae.Bytes(ipvsSvcAttrAddr, k.Addr.AsSlice())
	ae.Do(ipvsSvcAttrPort, bePort(k.Port))
}

func encodeKey(k ServiceKey) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	encodeServiceKey(ae, k)
	return ae.Encode()
}

// encodeService encodes a whole service. With withPE, its persistence
// engine goes as a NUL-terminated IPVS_SVC_ATTR_PE_NAME, as ipvsadm --pe
// (libipvs NLA_PUT_STRING) sends it; none when PEName is "", which on an
// update removes the engine, as the kernel's ip_vs_edit_service does.
func encodeService(svc Service, withPE bool) ([]byte, error) {
	flags := binary.NativeEndian.AppendUint32(nil, svc.Flags)
	flags = append(flags, 0xFF, 0xFF, 0xFF, 0xFF) // mask: every flag is set as given
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(ipvsSvcAttrAF, addrFamily(svc.IPv6))
	ae.String(ipvsSvcAttrSchedName, svc.Scheduler)
	if withPE && svc.PEName != "" {
		ae.String(ipvsSvcAttrPEName, svc.PEName)
	}
	ae.Bytes(ipvsSvcAttrFlags, flags)
	ae.Uint32(ipvsSvcAttrTimeout, svc.Timeout)
	switch {
	case svc.Netmask.Is4():
		ae.Bytes(ipvsSvcAttrNetmask, svc.Netmask.AsSlice())
	case svc.Netmask.Is6():
		ae.Bytes(ipvsSvcAttrNetmask, binary.NativeEndian.AppendUint32(nil, uint32(svc.Netmask.Bits())))
	}
	if svc.FWMark != 0 {
		ae.Uint32(ipvsSvcAttrFWMark, svc.FWMark)
	} else {
		ae.Uint16(ipvsSvcAttrProtocol, svc.Protocol)
		ae.Bytes(ipvsSvcAttrAddr, svc.Addr.AsSlice())
		ae.Do(ipvsSvcAttrPort, bePort(svc.Port))
	}
	return ae.Encode()
}

// Forwarding methods as the kernel numbers them (IP_VS_CONN_F_MASQ,
// _TUNNEL, _DROUTE; the low bits of IPVS_DEST_ATTR_FWD_METHOD).
func fwdMethod(m Method) uint32 {
	switch m {
	case DR:
		return connFDroute
	case TUN:
		return connFTunnel
	}
	return connFMasq
}

func encodeDest(d Dest) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(ipvsDestAttrAddrFam, addrFamily(d.Addr.Is6()))
	ae.Bytes(ipvsDestAttrAddr, d.Addr.AsSlice())
	ae.Do(ipvsDestAttrPort, bePort(d.Port))
	ae.Uint32(ipvsDestAttrFwdMethod, fwdMethod(d.Method))
	ae.Uint32(ipvsDestAttrWeight, d.Weight)
	ae.Uint32(ipvsDestAttrUThresh, d.UThreshold)
	ae.Uint32(ipvsDestAttrLThresh, d.LThreshold)
	ae.Uint8(ipvsDestAttrTunType, d.Tunnel.Type)
	ae.Do(ipvsDestAttrTunPort, bePort(d.Tunnel.Port))
	ae.Uint16(ipvsDestAttrTunFlags, d.Tunnel.Flags)
	return ae.Encode()
}
