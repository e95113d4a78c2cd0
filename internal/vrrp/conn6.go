package vrrp

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv6"
)

// ipv6Conn is a raw IPv6 protocol-112 socket bound to one interface.
// IPv6 raw sockets never carry the IP header; hop limit and destination
// come as control messages, and the VRRPv3 checksum (pseudo-header
// included) is computed by the codec.
type ipv6Conn struct {
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

// ListenIPv6 opens the socket for dev: joined to group (ff02::12) unless
// unicast, multicast hop limit 255, unicast hop limit unicast_ttl or the
// kernel's default, traffic class 0xC0, no multicast loopback.
func ListenIPv6(dev string, group netip.Addr, unicastHops int) (Conn, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket: interface %s: %w", dev, err)
	}
	c, err := listenRaw("ip6", IPProto, dev, false)
	if err != nil {
		return nil, err
	}
	pc := ipv6.NewPacketConn(c)
	opts := []socketOption{
		{"control messages", func() error {
			return pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
		{"traffic class", func() error { return pc.SetTrafficClass(0xc0) }},
	}
	// keepalived 2.2.7 leaves IPv6 unicast adverts at the kernel's
	// default hop limit unless unicast_ttl is set (vrrp.c: "For IPv6 the
	// default is to let the kernel set the default value").
	if unicastHops > 0 {
		opts = append(opts, socketOption{"hop limit", func() error { return pc.SetHopLimit(unicastHops) }})
	}
	if group.IsValid() {
		opts = append(opts, socketOption{"multicast hop limit", func() error { return pc.SetMulticastHopLimit(255) }})
		opts = append(opts, joinOptions(pc, ifi, group)...)
	}
	if err := configure(dev, pc, opts); err != nil {
		return nil, err
	}
	return &ipv6Conn{pc: pc, ifi: ifi}, nil
}

func (c *ipv6Conn) Read(buf []byte) (Received, error) {
	for {
		n, cm, src, err := c.pc.ReadFrom(buf)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return Received{}, err
		}
		r := Received{Payload: buf[:n]}
		if a, ok := src.(*net.IPAddr); ok {
			r.Src, _ = netip.AddrFromSlice(a.IP)
		}
		if cm != nil {
			r.TTL, r.IfIndex = cm.HopLimit, cm.IfIndex
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
		return r, nil
	}
}

func (c *ipv6Conn) Write(payload []byte, src, dst netip.Addr) error {
	cm := &ipv6.ControlMessage{IfIndex: c.ifi.Index}
	if src.IsValid() {
		cm.Src = src.AsSlice()
	}
	_, err := c.pc.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: c.ifi.Name})
	return err
}

func (c *ipv6Conn) Close() error { return c.pc.Close() }
