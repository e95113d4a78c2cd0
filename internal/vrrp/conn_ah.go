package vrrp

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
)

// ahConn is a raw IPv4 protocol-51 socket on one interface carrying
// AH-protected VRRPv2 (keepalived's auth_type AH). It writes whole
// datagrams (IP_HDRINCL) because the ICV covers the IP header, ID
// included; Read returns the VRRP message of a verified packet.
type ahConn struct {
	rc      *ipv4.RawConn
	ifi     *net.Interface
	keys    *AHKeys
	ttl     int
	unicast bool
}

// ListenAH opens the AH socket for dev: joined to group unless group is
// invalid (unicast), multicast loopback off. Sent datagrams carry TTL 255,
// or unicastTTL for unicast, as keepalived's.
func ListenAH(dev string, group netip.Addr, unicastTTL int, keys *AHKeys) (Conn, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("vrrp AH socket: interface %s: %w", dev, err)
	}
	c, err := listenRaw("ip4", ipProtoAH, dev, true)
	if err != nil {
		return nil, err
	}
	rc, err := ipv4.NewRawConn(c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("vrrp AH socket on %s: %w", dev, err)
	}
	ttl := 255
	if !group.IsValid() && unicastTTL > 0 {
		ttl = unicastTTL
	}
	opts := []socketOption{
		{"control messages", func() error { return rc.SetControlMessage(ipv4.FlagInterface, true) }},
	}
	if group.IsValid() {
		opts = append(opts, joinOptions(rc, ifi, group)...)
	}
	if err := configure(dev, rc, opts); err != nil {
		return nil, err
	}
	return &ahConn{rc: rc, ifi: ifi, keys: keys, ttl: ttl, unicast: !group.IsValid()}, nil
}

func (c *ahConn) Read(buf []byte) (Received, error) {
	for {
		h, p, cm, err := c.rc.ReadFrom(buf)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return Received{}, err
		}
		if h == nil || h.Protocol != ipProtoAH || h.Len+len(p) > len(buf) {
			continue
		}
		r := Received{TTL: h.TTL}
		r.Src, _ = netip.AddrFromSlice(h.Src.To4())
		r.Dst, _ = netip.AddrFromSlice(h.Dst.To4())
		if cm != nil {
			r.IfIndex = cm.IfIndex
		}
		// buf holds the datagram as received: header, then payload.
		vrrp, why := c.keys.open(buf[:h.Len+len(p)], c.unicast)
		if why != "" {
			// The VRID is read from where the VRRP message would be, so
			// the router can count the refusal against its instance.
			r.Refused = why
			if off := h.Len + ahLen; len(p) >= ahLen+2 {
				r.Payload = buf[off : off+2]
			}
			return r, nil
		}
		r.Payload = vrrp
		return r, nil
	}
}

func (c *ahConn) Write(payload []byte, src, dst netip.Addr) error {
	pkt, ok := c.keys.seal(payload, src, dst, c.ttl, c.unicast)
	if !ok {
		return fmt.Errorf("vrrp AH: no key for VRID %d", payload[1])
	}
	h, err := ipv4.ParseHeader(pkt[:ipv4Len])
	if err != nil {
		return err
	}
	err = c.rc.WriteTo(h, pkt[ipv4Len:], nil)
	return err
}

func (c *ahConn) Close() error { return c.rc.Close() }
