package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// routeOf builds the netlink route keepalived 2.2.7's netlink_route sends.
func routeOf(r config.Route, del bool) (*netlink.Route, error) {
	nr := &netlink.Route{Dst: ipNet(r.Dst), Table: r.Table, Protocol: netlink.RouteProtocol(r.Protocol), Type: r.Type,
		Priority: r.Metric, MTU: r.MTU, AdvMSS: r.AdvMSS, Hoplimit: r.HopLimit, Family: unix.AF_INET}
	if r.Family == 6 {
		nr.Family = unix.AF_INET6
	}
	// keepalived adds with scope universe and deletes with scope
	// nowhere (any scope), unless scope is given.
	nr.Scope = netlink.SCOPE_UNIVERSE
	if del {
		nr.Scope = netlink.SCOPE_NOWHERE
	}
	if r.Scope >= 0 {
		nr.Scope = netlink.Scope(r.Scope)
	}
	if r.HasTOS {
		nr.Tos = r.TOS
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.OnLink {
		nr.Flags |= int(netlink.FLAG_ONLINK)
	}
	if r.Dev != "" {
		l, err := netlink.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", r.Dev, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	return nr, nil
}

// AddRoute installs r; a route already there is success, as keepalived
// logs it and goes on.
func AddRoute(r config.Route) error {
	nr, err := routeOf(r, false)
	if err != nil {
		return err
	}
	switch r.Mode {
	case "append":
		err = netlink.RouteAppend(nr)
	default:
		// keepalived's default (prepend) sends NLM_F_CREATE alone; "add"
		// sends NLM_F_EXCL too. Either way a route that is there stays.
		err = netlink.RouteAdd(nr)
	}
	if err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add route %s: %w", r.Text, err)
	}
	return nil
}

// DelRoute removes r; a route already gone is success.
func DelRoute(r config.Route) error {
	nr, err := routeOf(r, true)
	if err != nil {
		return err
	}
	if err := netlink.RouteDel(nr); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove route %s: %w", r.Text, err)
	}
	return nil
}

var ruleActions = map[string]uint8{"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}

// ruleOf builds the netlink rule keepalived 2.2.7's netlink_rule sends.
func ruleOf(r config.Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = unix.AF_INET
	if r.Family == 6 {
		nr.Family = unix.AF_INET6
	}
	nr.Priority = r.Priority
	nr.Type = ruleActions[r.Action]
	nr.Table = -1
	if r.Action == "table" {
		nr.Table = r.Table
		if nr.Table == 0 {
			nr.Table = unix.RT_TABLE_MAIN
		}
		nr.SuppressPrefixlen = r.SuppressPrefixLen
	}
	if r.Action == "goto" {
		nr.Goto = r.Goto
	}
	nr.Tos = uint(r.TOS)
	if r.Mark >= 0 {
		nr.Mark = uint32(r.Mark)
	}
	if r.Mask >= 0 {
		m := uint32(r.Mask)
		nr.Mask = &m
	}
	if r.From.IsValid() {
		nr.Src = ipNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = ipNet(r.To)
	}
	nr.IifName, nr.OifName, nr.Invert = r.IIF, r.OIF, r.Invert
	nr.Protocol = uint8(r.Protocol)
	return nr
}

// AddRule installs r; a rule already there is success.
func AddRule(r config.Rule) error {
	if err := netlink.RuleAdd(ruleOf(r)); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add rule %s: %w", r.Text, err)
	}
	return nil
}

// DelRule removes r; a rule already gone is success.
func DelRule(r config.Rule) error {
	if err := netlink.RuleDel(ruleOf(r)); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("remove rule %s: %w", r.Text, err)
	}
	return nil
}
