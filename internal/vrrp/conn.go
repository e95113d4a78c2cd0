package vrrp

import (
	"context"
	"fmt"
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
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.BindToDevice(int(fd), dev); serr == nil {
				// keepalived's adverts leave DF clear; so do ours.
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", IPProto), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("vrrp socket on %s: %w", dev, err)
	}
	pc := ipv4.NewPacketConn(c)
	fail := func(what string, err error) (Conn, error) {
		_ = pc.Close()
		return nil, fmt.Errorf("vrrp socket on %s: %s: %w", dev, what, err)
	}
	if err := pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return fail("control messages", err)
	}
	if err := pc.SetTOS(0xc0); err != nil {
		return fail("TOS", err)
	}
	if unicastTTL <= 0 {
		unicastTTL = 255
	}
	if err := pc.SetTTL(unicastTTL); err != nil {
		return fail("TTL", err)
	}
	if group.IsValid() {
		if err := pc.SetMulticastTTL(255); err != nil {
			return fail("multicast TTL", err)
		}
		if err := pc.SetMulticastInterface(ifi); err != nil {
			return fail("multicast interface", err)
		}
		if err := pc.SetMulticastLoopback(false); err != nil {
			return fail("multicast loopback", err)
		}
		if err := pc.JoinGroup(ifi, &net.IPAddr{IP: group.AsSlice()}); err != nil {
			return fail("join "+group.String(), err)
		}
	}
	return &ipv4Conn{pc: pc, ifi: ifi, group: group}, nil
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
