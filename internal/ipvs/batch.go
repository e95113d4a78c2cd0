package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	cf "github.com/cloudflare/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The IPVS generic netlink interface (include/uapi/linux/ip_vs.h). The
// library keeps these internal; the batch writer encodes the same
// attributes the library's per-message calls do.
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
	ipvsSvcAttrPEName    = 11

	ipvsDestAttrAddr      = 1
	ipvsDestAttrPort      = 2
	ipvsDestAttrFwdMethod = 3
	ipvsDestAttrWeight    = 4
	ipvsDestAttrUThresh   = 5
	ipvsDestAttrLThresh   = 6
	ipvsDestAttrAddrFam   = 11
	ipvsDestAttrTunType   = 13
	ipvsDestAttrTunPort   = 14
	ipvsDestAttrTunFlags  = 15
)

// maxBatch bounds the messages per send: their acknowledgements must fit
// the socket's receive buffer.
const maxBatch = 64

// genlConn is a raw IPVS generic netlink socket for the two jobs the
// library does slowly at scale. Writes: many in one send, with one
// acknowledgement each; the kernel handles each message as if sent alone
// (an error in one does not stop the next), but a cold sync of 50,000
// writes pays for 800 round trips instead of 50,000. Reads: dumps decoded
// into the table's own types (dump.go).
type genlConn struct {
	fd     int
	family uint16
	seq    uint32
	buf    []byte
	rbuf   []byte
}

func newGenlConn() (*genlConn, error) {
	gc, err := genetlink.Dial(nil)
	if err != nil {
		return nil, err
	}
	fam, err := gc.GetFamily("IPVS")
	gc.Close()
	if err != nil {
		return nil, err
	}
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
	return &genlConn{fd: fd, family: fam.ID, seq: uint32(time.Now().UnixNano()), rbuf: make([]byte, 64<<10)}, nil
}

func (b *genlConn) Close() error { return unix.Close(b.fd) }

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
	if err := unix.Sendto(b.fd, b.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%s: netlink send: %w", ops[i], err)
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
		n, _, err := unix.Recvfrom(b.fd, b.rbuf, 0)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
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

// encodeOp builds the generic netlink message for one op, with the
// attributes cloudflare/ipvs sends for the same call.
func encodeOp(op Op) (genetlink.Message, error) {
	svc := toLib(op.Service)
	pe := ""
	if op.Kind == CreateService || op.Kind == UpdateService {
		pe = op.Service.PEName
	}
	ae := netlink.NewAttributeEncoder()
	ae.Do(ipvsCmdAttrService, func() ([]byte, error) { return encodeServicePE(svc, pe) })
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
		d := destToLib(op.Dest)
		ae.Do(ipvsCmdAttrDest, func() ([]byte, error) { return encodeDest(d) })
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

func encodeService(svc cf.Service) ([]byte, error) { return encodeServicePE(svc, "") }

// encodeServicePE encodes a service with its persistence engine: a
// NUL-terminated IPVS_SVC_ATTR_PE_NAME, as ipvsadm --pe (libipvs
// NLA_PUT_STRING) sends it; none when pe is "", which on an update
// removes the engine, as the kernel's ip_vs_edit_service does.
func encodeServicePE(svc cf.Service, pe string) ([]byte, error) {
	flags := binary.NativeEndian.AppendUint32(nil, uint32(svc.Flags))
	flags = append(flags, 0xFF, 0xFF, 0xFF, 0xFF) // mask: every flag is set as given
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(ipvsSvcAttrAF, uint16(svc.Family))
	ae.String(ipvsSvcAttrSchedName, svc.Scheduler)
	if pe != "" {
		ae.String(ipvsSvcAttrPEName, pe)
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
		ae.Uint16(ipvsSvcAttrProtocol, uint16(svc.Protocol))
		ae.Bytes(ipvsSvcAttrAddr, svc.Address.AsSlice())
		ae.Do(ipvsSvcAttrPort, bePort(svc.Port))
	}
	return ae.Encode()
}

func encodeDest(d cf.Destination) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(ipvsDestAttrAddrFam, uint16(d.Family))
	ae.Bytes(ipvsDestAttrAddr, d.Address.AsSlice())
	ae.Do(ipvsDestAttrPort, bePort(d.Port))
	ae.Uint32(ipvsDestAttrFwdMethod, uint32(d.FwdMethod))
	ae.Uint32(ipvsDestAttrWeight, d.Weight)
	ae.Uint32(ipvsDestAttrUThresh, d.UpperThreshold)
	ae.Uint32(ipvsDestAttrLThresh, d.LowerThreshold)
	ae.Uint8(ipvsDestAttrTunType, uint8(d.TunnelType))
	ae.Do(ipvsDestAttrTunPort, bePort(d.TunnelPort))
	ae.Uint16(ipvsDestAttrTunFlags, uint16(d.TunnelFlags))
	return ae.Encode()
}
