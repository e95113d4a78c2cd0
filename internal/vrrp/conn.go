package vrrp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Received is one packet off the wire with what the checks need of its
// IP header.
type Received struct {
	Payload []byte
	Src     netip.Addr
	Dst     netip.Addr
	TTL     int
	IfIndex int
	// Refused is set by an AH socket for a packet whose authentication
	// failed: the router counts it against the VRID's instance.
	Refused DropReason
}

// Conn is a VRRP socket on one interface.
type Conn interface {
	// Read blocks for the next packet; it returns an error once closed.
	Read(buf []byte) (Received, error)
	// Write sends payload from src to dst (the group or a unicast peer).
	Write(payload []byte, src, dst netip.Addr) error
	Close() error
}

// ipv4Conn is a raw IPv4 protocol-112 socket bound to one interface.
type ipv4Conn struct {
	pc    *ipv4.PacketConn
	ifi   *net.Interface
	group netip.Addr
}

// ListenIPv4 opens the socket for dev: bound to the device, joined to
// group unless group is invalid (unicast), TTL 255 and TOS 0xC0 as
// keepalived sends, multicast loopback off so it never hears itself.
func ListenIPv4(dev string, group netip.Addr, unicastTTL int) (Conn, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket: interface %s: %w", dev, err)
	}
	c, err := listenRaw("ip4", IPProto, dev, true)
	if err != nil {
		return nil, err
	}
	pc := ipv4.NewPacketConn(c)
	if unicastTTL <= 0 {
		unicastTTL = 255
	}
	opts := []socketOption{
		{"control messages", func() error { return pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true) }},
		{"TOS", func() error { return pc.SetTOS(0xc0) }},
		{"TTL", func() error { return pc.SetTTL(unicastTTL) }},
	}
	if group.IsValid() {
		opts = append(opts, socketOption{"multicast TTL", func() error { return pc.SetMulticastTTL(255) }})
		opts = append(opts, joinOptions(pc, ifi, group)...)
	}
	if err := configure(dev, pc, opts); err != nil {
		return nil, err
	}
	return &ipv4Conn{pc: pc, ifi: ifi, group: group}, nil
}

// socketOption is one setting of a new socket, named for the error.
type socketOption struct {
	name string
	set  func() error
}

// configure applies opts in order and closes the socket on the first failure.
func configure(dev string, c io.Closer, opts []socketOption) error {
	for _, o := range opts {
		if err := o.set(); err != nil {
			_ = c.Close()
			return fmt.Errorf("vrrp socket on %s: %s: %w", dev, o.name, err)
		}
	}
	return nil
}

// multicaster is what ipv4.PacketConn and ipv6.PacketConn share.
type multicaster interface {
	SetMulticastInterface(*net.Interface) error
	SetMulticastLoopback(bool) error
	JoinGroup(*net.Interface, net.Addr) error
}

// joinOptions send multicast out of ifi, never back to ourselves, and
// join group on it.
func joinOptions(m multicaster, ifi *net.Interface, group netip.Addr) []socketOption {
	return []socketOption{
		{"multicast interface", func() error { return m.SetMulticastInterface(ifi) }},
		{"multicast loopback", func() error { return m.SetMulticastLoopback(false) }},
		{"join " + group.String(), func() error { return m.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()}) }},
	}
}

// listenRaw opens a raw protocol-112 socket bound to dev (so that only
// its packets arrive); noDF clears DF on what it sends, as keepalived's
// IPv4 adverts have it.
func listenRaw(family string, proto int, dev string, noDF bool) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.BindToDevice(int(fd), dev); serr == nil && noDF {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	any := "0.0.0.0"
	if family == "ip6" {
		any = "::"
	}
	c, err := lc.ListenPacket(context.Background(), fmt.Sprintf("%s:%d", family, proto), any)
	if err != nil {
		return nil, fmt.Errorf("vrrp socket on %s: %w", dev, err)
	}
	return c, nil
}

func (c *ipv4Conn) Read(buf []byte) (Received, error) {
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
			r.Src = r.Src.Unmap()
		}
		if cm != nil {
			r.TTL, r.IfIndex = cm.TTL, cm.IfIndex
			r.Dst, _ = netip.AddrFromSlice(cm.Dst)
			r.Dst = r.Dst.Unmap()
		}
		return r, nil
	}
}

func (c *ipv4Conn) Write(payload []byte, src, dst netip.Addr) error {
	cm := &ipv4.ControlMessage{IfIndex: c.ifi.Index}
	if src.IsValid() {
		cm.Src = src.AsSlice()
	}
	_, err := c.pc.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

func (c *ipv4Conn) Close() error { return c.pc.Close() }
