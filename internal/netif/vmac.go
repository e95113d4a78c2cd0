package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VMAC is one macvlan interface as keepalived 2.2.7's
// netlink_link_add_vmac makes it (vrrp_vmac.c): mode private on Parent,
// with MAC, up, no automatic IPv6 link-local address.
type VMAC struct {
	Name   string
	Parent string
	MAC    net.HardwareAddr
	// IPv6 is the family of the instance (or of the address) the VMAC is
	// for: an IPv4 VMAC gets keepalived's sysctls (SetVMACSysctls).
	IPv6 bool
	// EnableIPv6 leaves IPv6 on (keepalived sets disable_ipv6 on an IPv4
	// VMAC with no address of the other family).
	EnableIPv6 bool
	// LinkLocal: an IPv6 VMAC that adverts go out of gets a link-local
	// address (/64): LinkLocalAddr if valid, else the parent's
	// link-local, else one built from the parent's MAC (EUI-64).
	LinkLocal     bool
	LinkLocalAddr netip.Addr
}

func (v VMAC) String() string { return v.Name + " (macvlan on " + v.Parent + ")" }

// vmacState is what AddVMAC changed on the machine and DelVMAC puts
// back, kept as keepalived keeps it: per parent, the arp_ignore and
// arp_filter found before the first VMAC (restored with the last), and
// all/rp_filter (cleared with the first IPv4 VMAC, restored with the
// last).
var vmacState = struct {
	sync.Mutex
	parents map[string]*parentSysctls
	ours    map[string]bool // VMACs created by this process
	counted map[string]bool // IPv4 VMACs counted in their parent's refs
	rp      *rpFilterState
}{parents: map[string]*parentSysctls{}, ours: map[string]bool{}, counted: map[string]bool{}}

type parentSysctls struct {
	refs                 int
	arpIgnore, arpFilter int
	set                  bool
}

type rpFilterState struct {
	all, dflt int            // dflt -1: default/rp_filter was not changed
	ifaces    map[string]int // interfaces raised to all's value, with their old value
}

const sysctlRoot = "/proc/sys/net"

// Sysctl reads /proc/sys/net/FAMILY/conf/DEV/NAME (family "ipv4" or "ipv6").
func Sysctl(family, dev, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(sysctlRoot, family, "conf", dev, name))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// SetSysctl writes /proc/sys/net/FAMILY/conf/DEV/NAME.
func SetSysctl(family, dev, name string, v int) error {
	return os.WriteFile(filepath.Join(sysctlRoot, family, "conf", dev, name), []byte(strconv.Itoa(v)), 0o644)
}

// AddVMAC creates v, or takes over a macvlan of that name on the same
// parent (updated if its MAC or mode differ, by creating it again), sets
// keepalived's sysctls, turns off automatic IPv6 addresses, brings it up
// and adds the IPv6 link-local address. created reports a new interface.
func AddVMAC(v VMAC) (created bool, err error) {
	parent, err := netlink.LinkByName(v.Parent)
	if err != nil {
		return false, fmt.Errorf("vmac %s: interface %s: %w", v.Name, v.Parent, err)
	}
	create := true
	if old, err := netlink.LinkByName(v.Name); err == nil {
		mv, ok := old.(*netlink.Macvlan)
		if !ok {
			return false, fmt.Errorf("vmac %s conflicts with an existing %s interface", v.Name, old.Type())
		}
		if mv.Attrs().ParentIndex != parent.Attrs().Index || mv.Mode != netlink.MACVLAN_MODE_PRIVATE ||
			!strings.EqualFold(mv.Attrs().HardwareAddr.String(), v.MAC.String()) {
			if err := netlink.LinkDel(old); err != nil {
				return false, fmt.Errorf("remove old vmac %s: %w", v.Name, err)
			}
		} else {
			create = false
		}
	}
	if create {
		la := netlink.NewLinkAttrs()
		la.Name, la.ParentIndex, la.HardwareAddr = v.Name, parent.Attrs().Index, v.MAC
		if parent.Attrs().MasterIndex != 0 {
			if m, err := netlink.LinkByIndex(parent.Attrs().MasterIndex); err == nil && m.Type() == "vrf" {
				la.MasterIndex = m.Attrs().Index
			}
		}
		if err := netlink.LinkAdd(&netlink.Macvlan{LinkAttrs: la, Mode: netlink.MACVLAN_MODE_PRIVATE}); err != nil {
			return false, fmt.Errorf("create vmac %s: %w", v, err)
		}
	}
	vmacState.Lock()
	vmacState.ours[v.Name] = true
	vmacState.Unlock()
	link, err := netlink.LinkByName(v.Name)
	if err != nil {
		return create, fmt.Errorf("vmac %s: %w", v.Name, err)
	}
	if !v.IPv6 && create {
		if err := setVMACSysctls(v); err != nil {
			return create, err
		}
	}
	disable := 1
	if v.EnableIPv6 {
		disable = 0
	}
	_ = SetSysctl("ipv6", v.Name, "disable_ipv6", disable) // absent without IPv6
	// No EUI-64 link-local address (RFC 5798 section 7.4): set before up.
	_ = netlink.LinkSetIP6AddrGenMode(link, 1) // IN6_ADDR_GEN_MODE_NONE
	if err := netlink.LinkSetUp(link); err != nil {
		return create, fmt.Errorf("vmac %s up: %w", v.Name, err)
	}
	if v.IPv6 && v.LinkLocal {
		ll := v.LinkLocalAddr
		if !ll.IsValid() {
			if a, err := PrimaryAddr(v.Parent, true); err == nil {
				ll = a
			} else {
				ll = EUI64LinkLocal(parent.Attrs().HardwareAddr)
			}
		}
		// keepalived adds it with a zeroed ip_address_t: preferred_lft 0
		// (deprecated, never picked as a source), valid forever, nodad.
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD,
			PreferedLft: 0, ValidLft: 0xffffffff}
		if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, syscall.EEXIST) {
			return create, fmt.Errorf("vmac %s: link-local %s: %w", v.Name, ll, err)
		}
	}
	return create, nil
}

// OwnsVMAC reports whether name is a VMAC this process made or took over
// (AddVMAC succeeded, DelVMAC not called since).
func OwnsVMAC(name string) bool {
	vmacState.Lock()
	defer vmacState.Unlock()
	return vmacState.ours[name]
}

// EUI64LinkLocal is keepalived's make_link_local_address: fe80::/64
// with the interface identifier built from mac.
func EUI64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	if len(mac) == 6 {
		a[8], a[9], a[10], a[11], a[12] = mac[0]^2, mac[1], mac[2], 0xff, 0xfe
		a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(a)
}

// setVMACSysctls is keepalived's set_interface_parameters for an IPv4
// VMAC: all/rp_filter cleared (clear_rp_filter), on the VMAC
// arp_ignore=1, accept_local=1, rp_filter=0, promote_secondaries=1, and
// on its parent arp_ignore=1 and arp_filter=1 (their values kept for
// DelVMAC).
func setVMACSysctls(v VMAC) error {
	vmacState.Lock()
	defer vmacState.Unlock()
	if vmacState.rp == nil {
		vmacState.rp = clearRPFilter()
	}
	for _, s := range []struct {
		name string
		val  int
	}{{"arp_ignore", 1}, {"accept_local", 1}, {"rp_filter", 0}, {"promote_secondaries", 1}} {
		if err := SetSysctl("ipv4", v.Name, s.name, s.val); err != nil {
			return fmt.Errorf("vmac %s: %s: %w", v.Name, s.name, err)
		}
	}
	if vmacState.counted[v.Name] {
		return nil // made again after it was deleted under us
	}
	vmacState.counted[v.Name] = true
	p := vmacState.parents[v.Parent]
	if p != nil {
		p.refs++
		return nil
	}
	p = &parentSysctls{refs: 1}
	vmacState.parents[v.Parent] = p
	var err1, err2 error
	p.arpIgnore, err1 = Sysctl("ipv4", v.Parent, "arp_ignore")
	p.arpFilter, err2 = Sysctl("ipv4", v.Parent, "arp_filter")
	if err1 == nil && err2 == nil && (p.arpIgnore != 1 || p.arpFilter != 1) {
		p.set = true
		if err := SetSysctl("ipv4", v.Parent, "arp_ignore", 1); err != nil {
			return fmt.Errorf("vmac %s: parent %s arp_ignore: %w", v.Name, v.Parent, err)
		}
		if err := SetSysctl("ipv4", v.Parent, "arp_filter", 1); err != nil {
			return fmt.Errorf("vmac %s: parent %s arp_filter: %w", v.Name, v.Parent, err)
		}
	}
	return nil
}

// clearRPFilter is keepalived's clear_rp_filter: with all/rp_filter N >
// 0, default/rp_filter and every interface's rp_filter are raised to at
// least N, then all/rp_filter is set to 0, so that only the VMACs (0)
// lose reverse path filtering.
func clearRPFilter() *rpFilterState {
	all, err := Sysctl("ipv4", "all", "rp_filter")
	if err != nil || all == 0 {
		return &rpFilterState{all: -1, dflt: -1}
	}
	st := &rpFilterState{all: all, dflt: -1, ifaces: map[string]int{}}
	if d, err := Sysctl("ipv4", "default", "rp_filter"); err == nil && d < all {
		if SetSysctl("ipv4", "default", "rp_filter", all) == nil {
			st.dflt = d
		}
	}
	ents, _ := os.ReadDir(filepath.Join(sysctlRoot, "ipv4", "conf"))
	for _, e := range ents {
		n := e.Name()
		if n == "all" || n == "default" {
			continue
		}
		if v, err := Sysctl("ipv4", n, "rp_filter"); err == nil && v < all {
			if SetSysctl("ipv4", n, "rp_filter", all) == nil {
				st.ifaces[n] = v
			}
		}
	}
	_ = SetSysctl("ipv4", "all", "rp_filter", 0)
	return st
}

// restoreRPFilter is keepalived's restore_rp_filter: each value put back
// if it is still what clearRPFilter left.
func restoreRPFilter(st *rpFilterState) {
	if st == nil || st.all < 0 {
		return
	}
	if v, err := Sysctl("ipv4", "all", "rp_filter"); err == nil && v == 0 {
		_ = SetSysctl("ipv4", "all", "rp_filter", st.all)
	}
	if st.dflt >= 0 {
		if v, err := Sysctl("ipv4", "default", "rp_filter"); err == nil && v == st.all {
			_ = SetSysctl("ipv4", "default", "rp_filter", st.dflt)
		}
	}
	for n, old := range st.ifaces {
		if v, err := Sysctl("ipv4", n, "rp_filter"); err == nil && v == st.all {
			_ = SetSysctl("ipv4", n, "rp_filter", old)
		}
	}
}

// DelVMAC is keepalived's netlink_link_del_vmac: the parent's arp_ignore
// and arp_filter put back when its last IPv4 VMAC goes, then the VMAC
// deleted (absent already is success). all/rp_filter is restored with
// the last VMAC this process made. An interface of that name that is not
// this VMAC (another kind, or a macvlan on another parent or with another
// MAC, as a reload that moved the name makes it) is left alone.
func DelVMAC(v VMAC) error {
	link, err := netlink.LinkByName(v.Name)
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("vmac %s: %w", v.Name, err)
	}
	mine, other := err == nil, ""
	if mine {
		mv, ok := link.(*netlink.Macvlan)
		switch {
		case !ok:
			mine, other = false, "not a macvlan"
		case !strings.EqualFold(mv.Attrs().HardwareAddr.String(), v.MAC.String()):
			mine, other = false, "another MAC"
		default:
			if p, err := netlink.LinkByName(v.Parent); err == nil && p.Attrs().Index != mv.Attrs().ParentIndex {
				mine, other = false, "another parent"
			}
		}
	}
	vmacState.Lock()
	if !v.IPv6 && vmacState.counted[v.Name] {
		delete(vmacState.counted, v.Name)
		if p := vmacState.parents[v.Parent]; p != nil {
			if p.refs--; p.refs == 0 {
				delete(vmacState.parents, v.Parent)
				if p.set {
					_ = SetSysctl("ipv4", v.Parent, "arp_ignore", p.arpIgnore)
					_ = SetSysctl("ipv4", v.Parent, "arp_filter", p.arpFilter)
				}
			}
		}
	}
	if other == "" {
		delete(vmacState.ours, v.Name)
	}
	if len(vmacState.ours) == 0 && len(vmacState.parents) == 0 {
		restoreRPFilter(vmacState.rp)
		vmacState.rp = nil
	}
	vmacState.Unlock()
	if other != "" {
		return fmt.Errorf("vmac %s: %s, left alone", v.Name, other)
	}
	if mine {
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, syscall.ENODEV) {
			return fmt.Errorf("remove vmac %s: %w", v.Name, err)
		}
	}
	return nil
}
