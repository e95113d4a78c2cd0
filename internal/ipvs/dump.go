package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	cf "github.com/cloudflare/ipvs"
	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reading the table through the library decodes some twenty statistics
// counters per service and per destination into fresh structures, which the
// table throws away: at 10,000 destinations, re-read every repair
// interval, that decoding was a sixth of lvsd's CPU beside 10,000 health
// checks a second. These dumps decode only what the table keeps, straight
// into its own types.

// TableReader is a Kernel that reads the whole table itself.
type TableReader interface {
	ReadTable(ctx context.Context) (Table, error)
}

func (k *netlinkKernel) ReadTable(ctx context.Context) (Table, error) { return k.conn.readTable(ctx) }

var errDumpInterrupted = errors.New("the table changed during the dump (NLM_F_DUMP_INTR)")

// readTable dumps every service, then each service's destinations.
func (c *genlConn) readTable(ctx context.Context) (Table, error) {
	var svcs []*Service
	err := c.dump(ipvsCmdGetService, nil, func(attrs []byte) error {
		s, err := decodeServiceMsg(attrs)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list IPVS services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ae := netlink.NewAttributeEncoder()
		ae.Do(ipvsCmdAttrService, func() ([]byte, error) { return encodeService(toLib(*s)) })
		req, err := ae.Encode()
		if err != nil {
			return nil, err
		}
		err = c.dump(ipvsCmdGetDest, req, func(attrs []byte) error {
			d, err := decodeDestMsg(attrs, s.IPv6)
			if err != nil {
				return err
			}
			s.Dests[d.DestKey] = d
			return nil
		})
		// A service removed since the first dump has no destinations, as
		// through the library.
		if err != nil && !isNotExist(err) {
			return nil, fmt.Errorf("list destinations of %s: %w", s.ServiceKey, err)
		}
		t[s.ServiceKey] = s
	}
	return t, nil
}

// dump sends one dump request and calls each with the attributes of every
// message of the reply. It reads the reply to its end even after an error:
// the kernel keeps an unfinished dump on the socket and would refuse the
// next one.
func (c *genlConn) dump(cmd uint8, attrs []byte, each func(attrs []byte) error) error {
	c.seq++
	seq := c.seq
	msg := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion}, Data: attrs}
	c.buf = appendMessage(c.buf[:0], c.family, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq, msg)
	if err := unix.Sendto(c.fd, c.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	var firstErr error
	for {
		reply, err := c.receive()
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		done, err := parseDump(reply, seq, each)
		if firstErr == nil {
			firstErr = err
		}
		if done {
			return firstErr
		}
	}
}

// parseDump calls each for the attributes of every message of dump seq in
// buf (messages of other sequence numbers are skipped) and reports whether
// the dump ended. The first error (a malformed message, each's error, the
// kernel's error) is returned; parsing goes on to find the end.
func parseDump(buf []byte, seq uint32, each func(attrs []byte) error) (done bool, err error) {
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	walkErr := eachMessage(buf, func(h nlHeader, body []byte) bool {
		if h.seq != seq {
			return true
		}
		switch {
		case h.typ == unix.NLMSG_DONE || h.typ == unix.NLMSG_ERROR:
			if len(body) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(body[0:4])); code < 0 {
					keep(unix.Errno(-code))
				}
			}
			done = true
			return false
		case h.typ < unix.NLMSG_MIN_TYPE:
			return true // NOOP, OVERRUN
		}
		if h.flags&unix.NLM_F_DUMP_INTR != 0 {
			keep(errDumpInterrupted)
		}
		if len(body) < 4 { // the generic netlink header
			keep(errors.New("generic netlink message without header"))
			return true
		}
		keep(each(body[4:]))
		return true
	})
	if walkErr != nil {
		keep(walkErr)
		return true, err
	}
	return done, err
}

// eachAttr calls fn for every netlink attribute in b.
func eachAttr(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofNlAttr {
			return fmt.Errorf("truncated attribute (%d bytes)", len(b))
		}
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.SizeofNlAttr || l > len(b) {
			return fmt.Errorf("attribute %d: length %d of %d", typ, l, len(b))
		}
		if err := fn(typ, b[unix.SizeofNlAttr:l]); err != nil {
			return err
		}
		b = b[min(nlmsgAlign(l), len(b)):]
	}
	return nil
}

// nested returns the value of the first attribute typ in b (nil if none).
func nested(b []byte, typ uint16) ([]byte, error) {
	var v []byte
	err := eachAttr(b, func(t uint16, val []byte) error {
		if t == typ && v == nil {
			v = val
		}
		return nil
	})
	return v, err
}

func attrU16(typ uint16, v []byte) (uint16, error) {
	if len(v) < 2 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want 2", typ, len(v))
	}
	return binary.NativeEndian.Uint16(v), nil
}

func attrU32(typ uint16, v []byte) (uint32, error) {
	if len(v) < 4 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want 4", typ, len(v))
	}
	return binary.NativeEndian.Uint32(v), nil
}

func attrPort(typ uint16, v []byte) (uint16, error) {
	if len(v) < 2 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want 2", typ, len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

// attrAddr reads an address attribute: the kernel sends 16 bytes, of
// which an IPv4 address uses the first 4.
func attrAddr(v []byte, ipv4 bool) (netip.Addr, error) {
	switch {
	case ipv4 && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), nil
	case !ipv4 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address attribute of %d bytes", len(v))
}

// decodeServiceMsg decodes one message of a service dump into a Service
// normalised as fromLib normalises the library's.
func decodeServiceMsg(attrs []byte) (*Service, error) {
	b, err := nested(attrs, ipvsCmdAttrService)
	if err != nil || b == nil {
		return nil, fmt.Errorf("service message: %w", errors.Join(err, errors.New("no service attribute")))
	}
	var family, proto, port uint16
	var fwmark, timeout uint32
	var addr, flags, mask []byte
	var sched, pe string
	err = eachAttr(b, func(t uint16, v []byte) (err error) {
		switch t {
		case ipvsSvcAttrAF:
			family, err = attrU16(t, v)
		case ipvsSvcAttrProtocol:
			proto, err = attrU16(t, v)
		case ipvsSvcAttrAddr:
			addr = v
		case ipvsSvcAttrPort:
			port, err = attrPort(t, v)
		case ipvsSvcAttrFWMark:
			fwmark, err = attrU32(t, v)
		case ipvsSvcAttrSchedName:
			sched = cString(v)
		case ipvsSvcAttrFlags:
			flags = v
		case ipvsSvcAttrTimeout:
			timeout, err = attrU32(t, v)
		case ipvsSvcAttrNetmask:
			mask = v
		case ipvsSvcAttrPEName:
			pe = cString(v)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if len(flags) != 8 {
		return nil, fmt.Errorf("service: flags attribute of %d bytes, want 8", len(flags))
	}
	s := &Service{
		ServiceKey: ServiceKey{IPv6: family == unix.AF_INET6},
		Scheduler:  sched,
		Flags:      binary.NativeEndian.Uint32(flags) &^ flagHashed,
		Timeout:    timeout,
		PEName:     pe,
		Dests:      map[DestKey]Dest{},
	}
	if s.Flags&FlagPersistent == 0 {
		s.Timeout = 0
	}
	if len(mask) >= 4 {
		if s.IPv6 {
			s.Netmask = netmask.MaskFrom(int(binary.NativeEndian.Uint32(mask)), 128)
		} else if m, ok := netmask.MaskFromSlice(mask[:4]); ok {
			s.Netmask = m
		}
	}
	if fwmark != 0 {
		s.FWMark = fwmark
		return s, nil
	}
	s.Protocol, s.Port = proto, port
	if s.Addr, err = attrAddr(addr, !s.IPv6); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// decodeDestMsg decodes one message of a destination dump of a service
// of the given family, normalised as destFromLib normalises the library's.
func decodeDestMsg(attrs []byte, svcIPv6 bool) (Dest, error) {
	b, err := nested(attrs, ipvsCmdAttrDest)
	if err != nil || b == nil {
		return Dest{}, fmt.Errorf("destination message: %w", errors.Join(err, errors.New("no destination attribute")))
	}
	var d Dest
	var addr []byte
	var fwd uint32
	family := uint16(unix.AF_INET)
	if svcIPv6 {
		family = unix.AF_INET6 // kernels before 3.18 send no family: the service's
	}
	err = eachAttr(b, func(t uint16, v []byte) (err error) {
		switch t {
		case ipvsDestAttrAddr:
			addr = v
		case ipvsDestAttrPort:
			d.Port, err = attrPort(t, v)
		case ipvsDestAttrFwdMethod:
			fwd, err = attrU32(t, v)
		case ipvsDestAttrWeight:
			d.Weight, err = attrU32(t, v)
		case ipvsDestAttrUThresh:
			d.UThreshold, err = attrU32(t, v)
		case ipvsDestAttrLThresh:
			d.LThreshold, err = attrU32(t, v)
		case ipvsDestAttrAddrFam:
			family, err = attrU16(t, v)
		case ipvsDestAttrTunType:
			if len(v) < 1 {
				return fmt.Errorf("attribute %d: empty, want 1 byte", t)
			}
			d.Tunnel.Type = v[0]
		case ipvsDestAttrTunPort:
			d.Tunnel.Port, err = attrPort(t, v)
		case ipvsDestAttrTunFlags:
			d.Tunnel.Flags, err = attrU16(t, v)
		}
		return err
	})
	if err != nil {
		return Dest{}, fmt.Errorf("destination: %w", err)
	}
	if d.Addr, err = attrAddr(addr, family != unix.AF_INET6); err != nil {
		return Dest{}, fmt.Errorf("destination: %w", err)
	}
	d.Addr = d.Addr.Unmap()
	switch cf.ForwardType(fwd) & 0x7 {
	case cf.DirectRoute:
		d.Method = DR
	case cf.Tunnel:
		d.Method = TUN
	}
	return d, nil
}

// cString is v up to its first NUL.
func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}
