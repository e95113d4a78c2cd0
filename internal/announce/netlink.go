package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is the machine's OS: blackhole host routes in Table with
// Protocol. The table is not consulted for forwarding unless a rule
// points at it (none should): the routes only carry the announcement to
// the BGP speaker, which learns this table's routes of this protocol.
type Netlink struct {
	Table    int
	Protocol int
}

var _ OS = Netlink{}

func (n Netlink) route(p netip.Prefix) *netlink.Route {
	fam := unix.AF_INET
	if p.Addr().Is6() {
		fam = unix.AF_INET6
	}
	return &netlink.Route{
		Dst:      &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Table:    n.Table,
		Protocol: netlink.RouteProtocol(n.Protocol),
		Type:     unix.RTN_BLACKHOLE,
		Family:   fam,
	}
}

// List reads both families' routes of the table with the protocol.
func (n Netlink) List() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		filter := &netlink.Route{Table: n.Table, Protocol: netlink.RouteProtocol(n.Protocol)}
		rs, err := netlink.RouteListFiltered(fam, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, err
		}
		for _, r := range rs {
			if r.Dst == nil {
				continue
			}
			a, ok := netip.AddrFromSlice(r.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			out = append(out, netip.PrefixFrom(a.Unmap(), ones))
		}
	}
	return out, nil
}

func (n Netlink) Add(p netip.Prefix) error {
	if err := netlink.RouteReplace(n.route(p)); err != nil {
		return fmt.Errorf("ip route replace blackhole %s table %d proto %d: %w", p, n.Table, n.Protocol, err)
	}
	return nil
}

func (n Netlink) Del(p netip.Prefix) error {
	err := netlink.RouteDel(n.route(p))
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("ip route del %s table %d proto %d: %w", p, n.Table, n.Protocol, err)
	}
	return nil
}
