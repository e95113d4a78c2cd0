package vrrp

import (
	"context"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
)

// RouteWatchPlatform tells the router of routes and rules deleted behind
// its back, as keepalived's netlink reflector does (RTM_DELROUTE of
// protocol keepalived, RTM_DELRULE). A Platform without it never reacts to
// such deletions.
type RouteWatchPlatform interface {
	// WatchRouteDeletions reports each route of protocol keepalived
	// deleted and each rule deleted, until done closes.
	WatchRouteDeletions(done <-chan struct{}, deleted func(netif.RouteDeletion)) error
	HasRoute(config.Route) (bool, error)
	HasRule(config.Rule) (bool, error)
}

func (h *hostPlatform) WatchRouteDeletions(done <-chan struct{}, fn func(netif.RouteDeletion)) error {
	return netif.WatchRouteDeletions(done, fn, nil)
}
func (h *hostPlatform) HasRoute(r config.Route) (bool, error) { return netif.HasRoute(r) }
func (h *hostPlatform) HasRule(r config.Rule) (bool, error)   { return netif.HasRule(r) }

// watchRoutes watches what keepalived 2.2.7 watches: routes of a family
// when an instance has a virtual route of it (not no_track) or a static
// route of it has a track_group, rules likewise (vrrp_complete_instance,
// process_static_entries). A static route deleted by hand is thus put
// back only when one of these holds for its family, as in keepalived.
func (r *Router) watchRoutes(ctx context.Context) {
	wp, ok := r.plat.(RouteWatchPlatform)
	if !ok || r.routes() == nil {
		return
	}
	var routes, rules [7]bool // by family, 4 or 6
	for _, in := range r.insts {
		for _, rt := range in.cfg.VirtualRoutes {
			routes[rt.Family] = routes[rt.Family] || !rt.NoTrack
		}
		for _, ru := range in.cfg.VirtualRules {
			rules[ru.Family] = rules[ru.Family] || !ru.NoTrack
		}
	}
	for _, rt := range r.cfg.StaticRoutes {
		routes[rt.Family] = routes[rt.Family] || rt.TrackGroup != ""
	}
	for _, ru := range r.cfg.StaticRules {
		rules[ru.Family] = rules[ru.Family] || ru.TrackGroup != ""
	}
	if !routes[4] && !routes[6] && !rules[4] && !rules[6] {
		return
	}
	err := wp.WatchRouteDeletions(ctx.Done(), func(d netif.RouteDeletion) {
		switch {
		case d.Rule && rules[d.Family]:
			r.post(ctx, func() { r.ruleDeleted(wp, d.Family) })
		case !d.Rule && routes[d.Family]:
			r.post(ctx, func() { r.routeDeleted(wp, d.Route) })
		}
	})
	if err != nil {
		r.log.Warn("route watch unavailable; routes and rules deleted by hand are not restored", "err", err)
	}
}

// routeDeleted is keepalived 2.2.7's netlink_route_filter on RTM_DELROUTE:
// a MASTER's virtual route (not no_track) makes it leave MASTER and take it
// again (set_vrrp_backup); a static route (not no_track) is added again
// (reinstate_static_route). A route present again is not acted on (lvsd
// deleted it itself on a quick BACKUP-MASTER turn).
func (r *Router) routeDeleted(wp RouteWatchPlatform, id netif.RouteID) {
	gone := func(rt config.Route) bool {
		if rt.NoTrack || rt.Family != id.Family || netif.RouteIDOf(rt) != id {
			return false
		}
		there, err := wp.HasRoute(rt)
		return err == nil && !there
	}
	for _, in := range r.insts {
		if in.m.State() != StateMaster {
			continue
		}
		for _, rt := range in.cfg.VirtualRoutes {
			if gone(rt) {
				r.log.Warn("vrrp master's virtual route deleted behind its back; leaving MASTER to add it again",
					"instance", in.cfg.Name, "route", rt.Text)
				r.addressLost(in)
				return
			}
		}
	}
	for _, rt := range r.cfg.StaticRoutes {
		if gone(rt) {
			r.log.Info("restoring deleted static route", "route", rt.Text)
			if err := r.routes().AddRoute(rt); err != nil {
				r.log.Error("restoring static route", "route", rt.Text, "err", err)
			}
			return
		}
	}
}

// ruleDeleted is netlink_rule_filter on RTM_DELRULE, for every rule lvsd
// tracks: rule deletions carry no identity lvsd reads, so each tracked
// rule is looked for (rule tables are short).
func (r *Router) ruleDeleted(wp RouteWatchPlatform, family int) {
	gone := func(ru config.Rule) bool {
		if ru.NoTrack || ru.Family != family {
			return false
		}
		there, err := wp.HasRule(ru)
		return err == nil && !there
	}
	for _, in := range r.insts {
		if in.m.State() != StateMaster {
			continue
		}
		for _, ru := range in.cfg.VirtualRules {
			if gone(ru) {
				r.log.Warn("vrrp master's virtual rule deleted behind its back; leaving MASTER to add it again",
					"instance", in.cfg.Name, "rule", ru.Text)
				r.addressLost(in)
				break
			}
		}
	}
	for _, ru := range r.cfg.StaticRules {
		if gone(ru) {
			r.log.Info("restoring deleted static rule", "rule", ru.Text)
			if err := r.routes().AddRule(ru); err != nil {
				r.log.Error("restoring static rule", "rule", ru.Text, "err", err)
			}
		}
	}
}
