// Package netif is the kernel side of VRRP: virtual addresses through
// rtnetlink, gratuitous ARP through a packet socket, and link state.
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// VIP is one virtual address as keepalived's virtual_ipaddress line
// describes it.
type VIP struct {
	Prefix    netip.Prefix
	Dev       string
	Label     string
	Broadcast netip.Addr // unset: none
	Scope     string     // "", host, link, site, global or a number
	// DAD: the -nodad option was given. keepalived 2.2.7 adds IPv6
	// addresses with IFA_F_NODAD unless it is (vrrp_ipaddress.c).
	DAD bool
}

func (v VIP) String() string { return v.Prefix.String() + " dev " + v.Dev }

var scopes = map[string]int{"global": unix.RT_SCOPE_UNIVERSE, "site": unix.RT_SCOPE_SITE, "link": unix.RT_SCOPE_LINK, "host": unix.RT_SCOPE_HOST, "nowhere": unix.RT_SCOPE_NOWHERE}

func (v VIP) addr() (*netlink.Addr, netlink.Link, error) {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", v.Dev, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: v.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(v.Prefix.Bits(), v.Prefix.Addr().BitLen())}, Label: v.Label}
	if v.Broadcast.IsValid() {
		a.Broadcast = v.Broadcast.AsSlice()
	}
	if s, ok := scopes[v.Scope]; ok {
		a.Scope = s
	}
	if v.Prefix.Addr().Is6() && !v.DAD {
		// A VIP must answer at once after a takeover, not after DAD.
		a.Flags |= unix.IFA_F_NODAD
	}
	return a, link, nil
}

// AddVIP adds the address; present already is success.
func AddVIP(v VIP) error {
	a, link, err := v.addr()
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add %s: %w", v, err)
	}
	return nil
}

// DelVIP removes the address; absent already is success.
func DelVIP(v VIP) error {
	a, link, err := v.addr()
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(link, a); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove %s: %w", v, err)
	}
	return nil
}

// HasAddr reports whether ip is configured on dev.
func HasAddr(dev string, ip netip.Addr) (bool, error) {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return false, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if x, ok := netip.AddrFromSlice(a.IP); ok && x.Unmap() == ip {
			return true, nil
		}
	}
	return false, nil
}

// PrimaryAddr is the interface's first address of the family, the one
// keepalived sends adverts from when no source is configured.
func PrimaryAddr(dev string, v6 bool) (netip.Addr, error) {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: %w", dev, err)
	}
	fam := netlink.FAMILY_V4
	if v6 {
		fam = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(link, fam)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", dev, err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		// Skip secondaries (VIPs) and, for IPv6, anything but link-local.
		if a.Flags&unix.IFA_F_SECONDARY != 0 || v6 && !ip.IsLinkLocalUnicast() {
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no usable %s address", dev, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
}

// LinkUp reports whether dev is administratively and operationally up.
func LinkUp(dev string) (bool, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return false, err
	}
	return ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0, nil
}

// LinkIndex is dev's interface index. An interface deleted and created
// again under the same name has a new one.
func LinkIndex(dev string) (int, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

// WatchLinks calls fn with an interface name whenever a link changes,
// until done is closed. The caller re-reads state with LinkUp.
func WatchLinks(done <-chan struct{}, fn func(name string), onErr func(error)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("subscribe to link updates: %w", err)
	}
	go func() {
		for u := range ch {
			fn(u.Attrs().Name)
		}
	}()
	return nil
}

// WatchAddrDeletions reports each address deleted from an interface, by
// the interface's name, until done closes. A deletion from an interface
// already gone is not reported (its addresses went with it).
func WatchAddrDeletions(done <-chan struct{}, deleted func(dev string, addr netip.Addr), onErr func(error)) error {
	ch := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("subscribe to address updates: %w", err)
	}
	go func() {
		for u := range ch {
			if u.NewAddr {
				continue
			}
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			ifi, err := net.InterfaceByIndex(u.LinkIndex)
			if err != nil {
				continue
			}
			deleted(ifi.Name, a.Unmap())
		}
	}()
	return nil
}

// Announcer sends gratuitous ARPs and unsolicited neighbour
// advertisements, keeping one socket per interface.
type Announcer struct {
	mu      sync.Mutex
	clients map[string]*arp.Client
	icmp6   *ipv6.PacketConn
}

func NewAnnouncer() *Announcer { return &Announcer{clients: map[string]*arp.Client{}} }

// GARP announces ip on dev: for IPv4 keepalived's gratuitous ARP (an ARP
// request whose sender and target IP are the VIP, target hardware
// broadcast); for IPv6 an unsolicited neighbour advertisement to all
// nodes with the override flag, as RFC 4861 section 7.2.6 describes.
func (a *Announcer) GARP(dev string, ip netip.Addr) error {
	if ip.Is6() {
		return a.unsolicitedNA(dev, ip)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// A packet socket bound to an interface keeps a pending ENETDOWN from
	// the interface's last down and returns it from the next write only
	// (packet_notifier), so the first GARP after a link comes back up would
	// be lost; the interface may also have been recreated. Either way a
	// failed write is retried once on a fresh socket. (keepalived sends
	// through one unbound socket and never sees the pending error.)
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = a.sendGARP(dev, ip); err == nil {
			return nil
		}
	}
	return err
}

// sendGARP writes one gratuitous ARP through dev's socket, opening it if
// needed; a socket whose write fails is closed and forgotten.
func (a *Announcer) sendGARP(dev string, ip netip.Addr) error {
	c, ok := a.clients[dev]
	if !ok {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return fmt.Errorf("garp on %s: %w", dev, err)
		}
		if c, err = arp.Dial(ifi); err != nil {
			return fmt.Errorf("garp socket on %s: %w", dev, err)
		}
		a.clients[dev] = c
	}
	p, err := arp.NewPacket(arp.OperationRequest, c.HardwareAddr(), ip, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
		_ = c.Close()
		delete(a.clients, dev)
		return fmt.Errorf("garp %s on %s: %w", ip, dev, err)
	}
	return nil
}

func (a *Announcer) unsolicitedNA(dev string, ip netip.Addr) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return fmt.Errorf("unsolicited NA on %s: %w", dev, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.icmp6 == nil {
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return fmt.Errorf("ICMPv6 socket: %w", err)
		}
		a.icmp6 = ipv6.NewPacketConn(c)
		if err := a.icmp6.SetMulticastHopLimit(255); err != nil {
			return err
		}
	}
	// Neighbour advertisement: flags (override), target, and the
	// target link-layer address option (type 2, length 1 = 8 bytes).
	body := make([]byte, 4+16+8)
	body[0] = 0x20
	t := ip.As16()
	copy(body[4:], t[:])
	body[20], body[21] = 2, 1
	copy(body[22:], ifi.HardwareAddr)
	msg := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	b, err := msg.Marshal(nil) // the kernel fills in the ICMPv6 checksum
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{IfIndex: ifi.Index, HopLimit: 255}
	if _, err := a.icmp6.WriteTo(b, cm, &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: dev}); err != nil {
		return fmt.Errorf("unsolicited NA for %s on %s: %w", ip, dev, err)
	}
	return nil
}

// Close releases the sockets.
func (a *Announcer) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.icmp6 != nil {
		_ = a.icmp6.Close()
		a.icmp6 = nil
	}
	for k, c := range a.clients {
		_ = c.Close()
		delete(a.clients, k)
	}
}
