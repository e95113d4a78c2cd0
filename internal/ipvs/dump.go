package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The dumps decode only what the caller keeps, straight into the table's
// own types: at 10,000 destinations, re-read every repair interval,
// decoding some twenty counters per object into structures thrown away
// was a sixth of lvsd's CPU beside 10,000 health checks a second. The
// counters are decoded only for ReadStats.

var errDumpInterrupted = errors.New("the table changed during the dump (NLM_F_DUMP_INTR)")

// readTable reads the services opts selects (a dump of all, or a lookup
// of each listed one), then each one's destinations.
func (c *genlConn) readTable(ctx context.Context, opts ReadOptions) (Table, error) {
	var svcs []*Service
	if opts.Services == nil {
		err := c.dump(ipvsCmdGetService, nil, func(attrs []byte) error {
			s, err := decodeServiceMsg(attrs, nil)
			if err != nil {
				return err
			}
			svcs = append(svcs, s)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list IPVS services: %w", err)
		}
	}
	for _, k := range opts.Services {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := c.getService(k)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read IPVS service %s: %w", k, err)
		}
		svcs = append(svcs, s)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !opts.NoDests {
			err := c.dests(s.ServiceKey, func(d Dest, _ *DestStats) { s.Dests[d.DestKey] = d }, false)
			if err != nil {
				return nil, err
			}
		}
		t[s.ServiceKey] = s
	}
	return t, nil
}

// getService looks one service up (IPVS_CMD_GET_SERVICE without
// NLM_F_DUMP): ESRCH when the kernel has none.
func (c *genlConn) getService(k ServiceKey) (*Service, error) {
	key, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	req, err := encodeAttr(ipvsCmdAttrService, key)
	if err != nil {
		return nil, err
	}
	var s *Service
	err = c.get(ipvsCmdGetService, req, func(attrs []byte) (err error) {
		s, err = decodeServiceMsg(attrs, nil)
		return err
	})
	return s, err
}

func encodeAttr(typ uint16, v []byte) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(typ, v)
	return ae.Encode()
}

// dests dumps a service's destinations into each (with their counters
// when stats). A service removed meanwhile has none.
func (c *genlConn) dests(k ServiceKey, each func(Dest, *DestStats), stats bool) error {
	key, err := encodeKey(k)
	if err != nil {
		return err
	}
	req, err := encodeAttr(ipvsCmdAttrService, key)
	if err != nil {
		return err
	}
	err = c.dump(ipvsCmdGetDest, req, func(attrs []byte) error {
		var ds *DestStats
		if stats {
			ds = &DestStats{}
		}
		d, err := decodeDestMsg(attrs, k.IPv6, ds)
		if err != nil {
			return err
		}
		each(d, ds)
		return nil
	})
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("list destinations of %s: %w", k, err)
	}
	return nil
}

// readStats dumps every service's and destination's counters.
func (c *genlConn) readStats(ctx context.Context) ([]ServiceStats, error) {
	var out []ServiceStats
	err := c.dump(ipvsCmdGetService, nil, func(attrs []byte) error {
		var ss ServiceStats
		s, err := decodeServiceMsg(attrs, &ss.Stats)
		if err != nil {
			return err
		}
		ss.Key = s.ServiceKey
		out = append(out, ss)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list IPVS services: %w", err)
	}
	for i := range out {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ss := &out[i]
		err := c.dests(ss.Key, func(d Dest, ds *DestStats) {
			ds.DestKey, ds.Weight = d.DestKey, d.Weight
			ss.Dests = append(ss.Dests, *ds)
		}, true)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// get sends one request for one object and calls each with the attributes
// of the reply: the kernel's error (ESRCH for no such service) otherwise.
func (c *genlConn) get(cmd uint8, attrs []byte, each func(attrs []byte) error) error {
	c.seq++
	seq := c.seq
	msg := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion}, Data: attrs}
	c.buf = appendMessage(c.buf[:0], c.family, unix.NLM_F_REQUEST, seq, msg)
	if err := c.send(c.buf); err != nil {
		return err
	}
	for {
		reply, err := c.receive()
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		done, err := parseGet(reply, seq, each)
		if done {
			return err
		}
	}
}

// parseGet reads the reply to request seq in buf: the object's message
// (passed to each) or the kernel's error; done once one of them is found.
func parseGet(buf []byte, seq uint32, each func(attrs []byte) error) (done bool, err error) {
	walkErr := eachMessage(buf, func(h nlHeader, body []byte) bool {
		switch {
		case h.seq != seq || h.typ == unix.NLMSG_NOOP || h.typ == unix.NLMSG_OVERRUN:
			return true
		case h.typ == unix.NLMSG_ERROR || h.typ == unix.NLMSG_DONE:
			done = true
			if len(body) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(body[0:4])); code < 0 {
					err = unix.Errno(-code)
				}
			}
			return false
		case len(body) < 4:
			done, err = true, errors.New("generic netlink message without header")
			return false
		}
		done, err = true, each(body[4:])
		return false
	})
	if walkErr != nil {
		return true, walkErr
	}
	return done, err
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
	if err := c.send(c.buf); err != nil {
		return err
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
// normalised as the syncer compares it: without the hashed flag, without a
// timeout when not persistent, without the address and port the kernel
// reports for a fwmark service. With stats, the counters too.
func decodeServiceMsg(attrs []byte, stats *Counters) (*Service, error) {
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
		case ipvsSvcAttrStats, ipvsSvcAttrStats64:
			if stats != nil {
				err = decodeCounters(v, t == ipvsSvcAttrStats64, stats)
			}
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
			s.Netmask = NetmaskFrom(int(binary.NativeEndian.Uint32(mask)), 128)
		} else {
			s.Netmask = NetmaskFrom4([4]byte(mask[:4]))
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
// of the given family (an IPv4 destination of an IPv6 service unmapped).
// With stats, its connections and counters too.
func decodeDestMsg(attrs []byte, svcIPv6 bool, stats *DestStats) (Dest, error) {
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
		if stats == nil {
			return err
		}
		switch t {
		case ipvsDestAttrActive:
			stats.Active, err = attrU32(t, v)
		case ipvsDestAttrInactive:
			stats.Inactive, err = attrU32(t, v)
		case ipvsDestAttrPersist:
			stats.Persistent, err = attrU32(t, v)
		case ipvsDestAttrStats, ipvsDestAttrStats64:
			err = decodeCounters(v, t == ipvsDestAttrStats64, &stats.Stats)
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
	switch fwd & 0x7 {
	case connFDroute:
		d.Method = DR
	case connFTunnel:
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

// The counters' attributes (IPVS_STATS_ATTR_*). In IPVS_*_ATTR_STATS64
// every one is 64 bits; in the older IPVS_*_ATTR_STATS the byte counts
// are and the rest are 32. A kernel sends both: STATS64 comes later and
// wins.
const (
	ipvsStatsConns    = 1
	ipvsStatsInPkts   = 2
	ipvsStatsOutPkts  = 3
	ipvsStatsInBytes  = 4
	ipvsStatsOutBytes = 5
	ipvsStatsCPS      = 6
	ipvsStatsInPPS    = 7
	ipvsStatsOutPPS   = 8
	ipvsStatsInBPS    = 9
	ipvsStatsOutBPS   = 10
)

func decodeCounters(b []byte, wide bool, c *Counters) error {
	fields := map[uint16]*uint64{
		ipvsStatsConns: &c.Connections, ipvsStatsInPkts: &c.IncomingPackets, ipvsStatsOutPkts: &c.OutgoingPackets,
		ipvsStatsInBytes: &c.IncomingBytes, ipvsStatsOutBytes: &c.OutgoingBytes, ipvsStatsCPS: &c.ConnectionRate,
		ipvsStatsInPPS: &c.IncomingPacketRate, ipvsStatsOutPPS: &c.OutgoingPacketRate,
		ipvsStatsInBPS: &c.IncomingByteRate, ipvsStatsOutBPS: &c.OutgoingByteRate,
	}
	return eachAttr(b, func(t uint16, v []byte) error {
		f := fields[t]
		if f == nil {
			return nil // padding, or a counter added later
		}
		if wide || t == ipvsStatsInBytes || t == ipvsStatsOutBytes {
			if len(v) < 8 {
				return fmt.Errorf("counter %d: %d bytes, want 8", t, len(v))
			}
			*f = binary.NativeEndian.Uint64(v)
			return nil
		}
		u, err := attrU32(t, v)
		*f = uint64(u)
		return err
	})
}
