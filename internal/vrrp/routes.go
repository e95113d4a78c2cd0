package vrrp

import (
	"fmt"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
)

// RoutePlatform is a Platform that can install routes and rules
// (virtual_routes, virtual_rules, static_routes, static_rules).
type RoutePlatform interface {
	AddRoute(config.Route) error
	DelRoute(config.Route) error
	AddRule(config.Rule) error
	DelRule(config.Rule) error
}

func (h *hostPlatform) AddRoute(r config.Route) error { return netif.AddRoute(r) }
func (h *hostPlatform) DelRoute(r config.Route) error { return netif.DelRoute(r) }
func (h *hostPlatform) AddRule(r config.Rule) error   { return netif.AddRule(r) }
func (h *hostPlatform) DelRule(r config.Rule) error   { return netif.DelRule(r) }

// staticSet is what static_ipaddress, static_routes and static_rules
// installed; it goes to the next router on a reload.
type staticSet struct {
	addrs  []netif.VIP
	routes []config.Route
	rules  []config.Rule
}

func routeKey(r config.Route) string { r.Pos = config.Pos{}; return fmt.Sprintf("%+v", r) }
func ruleKey(r config.Rule) string   { r.Pos = config.Pos{}; return fmt.Sprintf("%+v", r) }

func (r *Router) routes() RoutePlatform {
	rp, _ := r.plat.(RoutePlatform)
	return rp
}

// addVirtualRoutes installs in's virtual_routes then virtual_rules, as
// keepalived's vrrp_state_become_master does after the addresses.
func (r *Router) addVirtualRoutes(in *instance) {
	rp := r.routes()
	if rp == nil {
		return
	}
	for _, rt := range in.cfg.VirtualRoutes {
		if err := rp.AddRoute(rt); err != nil {
			r.log.Error("adding virtual route", "instance", in.cfg.Name, "route", rt.Text, "err", err)
		}
	}
	for _, ru := range in.cfg.VirtualRules {
		if err := rp.AddRule(ru); err != nil {
			r.log.Error("adding virtual rule", "instance", in.cfg.Name, "rule", ru.Text, "err", err)
		}
	}
}

// delVirtualRoutes removes in's virtual_rules then virtual_routes, as
// keepalived's vrrp_restore_interface does before the addresses.
func (r *Router) delVirtualRoutes(in *instance, routes []config.Route, rules []config.Rule) {
	rp := r.routes()
	if rp == nil {
		return
	}
	for _, ru := range rules {
		if err := rp.DelRule(ru); err != nil {
			r.log.Error("removing virtual rule", "instance", in.cfg.Name, "rule", ru.Text, "err", err)
		}
	}
	for _, rt := range routes {
		if err := rp.DelRoute(rt); err != nil {
			r.log.Error("removing virtual route", "instance", in.cfg.Name, "route", rt.Text, "err", err)
		}
	}
}

// dropStaleVirtualRoutes removes, for an adopted MASTER, the virtual
// routes and rules its previous configuration had and the new one has not.
func (r *Router) dropStaleVirtualRoutes(in *instance, old *handed) {
	keepRt, keepRu := map[string]bool{}, map[string]bool{}
	for _, rt := range in.cfg.VirtualRoutes {
		keepRt[routeKey(rt)] = true
	}
	for _, ru := range in.cfg.VirtualRules {
		keepRu[ruleKey(ru)] = true
	}
	var rts []config.Route
	var rus []config.Rule
	for _, rt := range old.routes {
		if !keepRt[routeKey(rt)] {
			rts = append(rts, rt)
		}
	}
	for _, ru := range old.rules {
		if !keepRu[ruleKey(ru)] {
			rus = append(rus, ru)
		}
	}
	r.delVirtualRoutes(in, rts, rus)
}

// startStatic installs static_ipaddress, static_routes and static_rules in
// that order (keepalived's start_vrrp), and removes what the previous
// router installed that this configuration no longer has.
func (r *Router) startStatic() {
	rp := r.routes()
	cur := r.staticOf()
	for _, v := range cur.addrs {
		if err := r.plat.AddVIP(v); err != nil {
			r.log.Error("adding static address", "address", v.String(), "err", err)
		}
	}
	if rp != nil {
		for _, rt := range cur.routes {
			if err := rp.AddRoute(rt); err != nil {
				r.log.Error("adding static route", "route", rt.Text, "err", err)
			}
		}
		for _, ru := range cur.rules {
			if err := rp.AddRule(ru); err != nil {
				r.log.Error("adding static rule", "rule", ru.Text, "err", err)
			}
		}
	} else if len(cur.routes)+len(cur.rules) > 0 {
		r.log.Error("static routes and rules cannot be installed on this platform")
	}
	if prev := r.prevStatic; prev != nil {
		stale := staticSet{}
		for _, v := range prev.addrs {
			if !containsVIP(cur.addrs, v) {
				stale.addrs = append(stale.addrs, v)
			}
		}
		keepRt, keepRu := map[string]bool{}, map[string]bool{}
		for _, rt := range cur.routes {
			keepRt[routeKey(rt)] = true
		}
		for _, ru := range cur.rules {
			keepRu[ruleKey(ru)] = true
		}
		for _, rt := range prev.routes {
			if !keepRt[routeKey(rt)] {
				stale.routes = append(stale.routes, rt)
			}
		}
		for _, ru := range prev.rules {
			if !keepRu[ruleKey(ru)] {
				stale.rules = append(stale.rules, ru)
			}
		}
		r.removeStatic(stale)
	}
}

func containsVIP(l []netif.VIP, v netif.VIP) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func (r *Router) staticOf() staticSet {
	s := staticSet{routes: r.cfg.StaticRoutes, rules: r.cfg.StaticRules}
	for _, v := range r.cfg.StaticAddresses {
		s.addrs = append(s.addrs, netif.VIP{Prefix: v.Prefix, Dev: v.Dev, Label: v.Label, Scope: v.Scope,
			Broadcast: vipBroadcast(v), DAD: v.NoDAD})
	}
	return s
}

// removeStatic removes rules, routes, then addresses (keepalived's
// stop_vrrp order).
func (r *Router) removeStatic(s staticSet) {
	if rp := r.routes(); rp != nil {
		for _, ru := range s.rules {
			if err := rp.DelRule(ru); err != nil {
				r.log.Error("removing static rule", "rule", ru.Text, "err", err)
			}
		}
		for _, rt := range s.routes {
			if err := rp.DelRoute(rt); err != nil {
				r.log.Error("removing static route", "route", rt.Text, "err", err)
			}
		}
	}
	for _, v := range s.addrs {
		if err := r.plat.DelVIP(v); err != nil {
			r.log.Error("removing static address", "address", v.String(), "err", err)
		}
	}
}

// reinstateStatic adds again the static addresses and routes on dev (not
// no_track) when dev comes up, as keepalived 2.2.7's interface_up →
// static_track_group_reinstate_config: the kernel flushed the routes
// through dev, and its IPv6 addresses, when it went down. Rules stay in
// the kernel across a link down and are left alone, as keepalived leaves
// them. What is still there is added again harmlessly.
func (r *Router) reinstateStatic(dev string) {
	for i, v := range r.staticOf().addrs {
		if v.Dev == dev && !r.cfg.StaticAddresses[i].NoTrack {
			r.restoreStaticAddr(v, "interface up")
		}
	}
	rp := r.routes()
	if rp == nil {
		return
	}
	for _, rt := range r.cfg.StaticRoutes {
		if rt.Dev != dev || rt.NoTrack {
			continue
		}
		r.log.Info("restoring static route, its interface is up", "route", rt.Text)
		if err := rp.AddRoute(rt); err != nil {
			r.log.Error("restoring static route", "route", rt.Text, "err", err)
		}
	}
}

// restoreStaticAddr adds a static address again; why says what took it
// away, for the log.
func (r *Router) restoreStaticAddr(v netif.VIP, why string) {
	r.log.Info("restoring static address", "address", v.String(), "after", why)
	if err := r.plat.AddVIP(v); err != nil {
		r.log.Error("restoring static address", "address", v.String(), "err", err)
	}
}
