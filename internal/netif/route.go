package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
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

// RouteID is what the kernel tells routes apart by: family, table,
// destination, TOS and metric. A route deleted behind lvsd's back is
// matched to the configuration by it.
type RouteID struct {
	Family int // 4 or 6
	Table  int
	Dst    netip.Prefix
	TOS    int
	Metric int
}

// RouteIDOf is r's RouteID as the kernel fills it in: no table is the
// main table, and an IPv6 route without a metric gets 1024.
func RouteIDOf(r config.Route) RouteID {
	id := RouteID{Family: 4, Table: r.Table, Dst: r.Dst.Masked(), Metric: r.Metric}
	if r.Family == 6 {
		id.Family = 6
		if id.Metric == 0 {
			id.Metric = 1024
		}
	}
	if id.Table == 0 {
		id.Table = unix.RT_TABLE_MAIN
	}
	if r.HasTOS {
		id.TOS = r.TOS
	}
	return id
}

func routeIDOfKernel(r netlink.Route) RouteID {
	id := RouteID{Family: 4, Table: r.Table, TOS: r.Tos, Metric: r.Priority}
	if r.Family == unix.AF_INET6 {
		id.Family = 6
	}
	if r.Dst != nil {
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			ones, _ := r.Dst.Mask.Size()
			id.Dst = netip.PrefixFrom(a.Unmap(), ones).Masked()
		}
	} else if id.Family == 6 {
		id.Dst = netip.MustParsePrefix("::/0")
	} else {
		id.Dst = netip.MustParsePrefix("0.0.0.0/0")
	}
	return id
}

// RouteDeletion is a route of protocol keepalived (18) deleted, by its
// RouteID, or a rule deleted (Rule, with its Family, 4 or 6): rule
// deletions carry no identity lvsd reads, the rule tables being short
// enough to look through again.
type RouteDeletion struct {
	Rule   bool
	Family int
	Route  RouteID
}

// WatchRouteDeletions reports, until done closes, each route of protocol
// keepalived deleted (keepalived's netlink_route_filter looks at no
// other) and each rule deleted.
func WatchRouteDeletions(done <-chan struct{}, deleted func(RouteDeletion), onErr func(error)) error {
	ch := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(ch, done, netlink.RouteSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("subscribe to route updates: %w", err)
	}
	go func() {
		for u := range ch {
			if u.Type == unix.RTM_DELROUTE && u.Protocol == rtprotKeepalived {
				id := routeIDOfKernel(u.Route)
				deleted(RouteDeletion{Family: id.Family, Route: id})
			}
		}
	}()
	s, err := nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE)
	if err != nil {
		return fmt.Errorf("subscribe to rule updates: %w", err)
	}
	go func() {
		<-done
		s.Close()
	}()
	go func() {
		for {
			msgs, _, err := s.Receive()
			if err != nil {
				select {
				case <-done:
				default:
					if onErr != nil {
						onErr(fmt.Errorf("rule updates: %w", err))
					}
				}
				return
			}
			for _, m := range msgs {
				// struct fib_rule_hdr starts with the family.
				if m.Header.Type != unix.RTM_DELRULE || len(m.Data) == 0 {
					continue
				}
				family := 4
				if m.Data[0] == unix.AF_INET6 {
					family = 6
				}
				deleted(RouteDeletion{Rule: true, Family: family})
			}
		}
	}()
	return nil
}

// rtprotKeepalived is RTPROT_KEEPALIVED, the protocol keepalived (and
// lvsd) gives the routes and rules it tracks.
const rtprotKeepalived = 18

// HasRoute tells whether r is in the kernel: a route of its table,
// destination, TOS and metric.
func HasRoute(r config.Route) (bool, error) {
	want := RouteIDOf(r)
	family := unix.AF_INET
	if want.Family == 6 {
		family = unix.AF_INET6
	}
	filter := &netlink.Route{Table: want.Table, Dst: ipNet(want.Dst)}
	routes, err := netlink.RouteListFiltered(family, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if err != nil {
		return false, fmt.Errorf("list routes: %w", err)
	}
	for _, k := range routes {
		if routeIDOfKernel(k) == want {
			return true, nil
		}
	}
	return false, nil
}

// HasRule tells whether r is in the kernel.
func HasRule(r config.Rule) (bool, error) {
	want := ruleOf(r)
	rules, err := netlink.RuleList(want.Family)
	if err != nil {
		return false, fmt.Errorf("list rules: %w", err)
	}
	for _, k := range rules {
		// netlink.RuleList does not report the rule's action (Type).
		if k.Priority == want.Priority && (want.Table < 0 || k.Table == want.Table) &&
			k.Src.String() == want.Src.String() && k.Dst.String() == want.Dst.String() && k.Tos == want.Tos &&
			k.IifName == want.IifName && k.OifName == want.OifName && k.Invert == want.Invert &&
			(r.Mark < 0 || k.Mark == want.Mark) && k.Goto == want.Goto {
			return true, nil
		}
	}
	return false, nil
}
