package vrrp

import (
	"context"
	"net/netip"
)

// AddrPlatform tells the router of addresses deleted behind its back, as
// keepalived's netlink reflector does (RTM_DELADDR). A Platform without it
// never reacts to such deletions.
type AddrPlatform interface {
	// WatchAddrDeletions reports each address deleted from an interface,
	// by the interface's name, until done closes.
	WatchAddrDeletions(done <-chan struct{}, deleted func(dev string, addr netip.Addr)) error
	HasAddr(dev string, addr netip.Addr) (bool, error)
}

func (r *Router) watchAddrs(ctx context.Context) {
	ap, ok := r.plat.(AddrPlatform)
	if !ok {
		return
	}
	err := ap.WatchAddrDeletions(ctx.Done(), func(dev string, addr netip.Addr) {
		r.post(ctx, func() { r.addrDeleted(ap, dev, addr) })
	})
	if err != nil {
		r.log.Warn("address watch unavailable; VIPs and static addresses deleted by hand are not restored", "err", err)
	}
}

// addrDeleted is keepalived 2.2.7's netlink_if_address_filter on
// RTM_DELADDR: a MASTER whose VIP (not no_track) was deleted leaves MASTER
// and takes it again (set_vrrp_backup, Machine.AddressLost), with its sync
// group; a static address (not no_track) is added again
// (reinstate_static_address). Only an address of lvsd's is looked up in
// the kernel: one present again by the time the event is read was deleted
// by lvsd itself on the way (a quick BACKUP-MASTER turn) or restored
// already, and nothing is done.
func (r *Router) addrDeleted(ap AddrPlatform, dev string, addr netip.Addr) {
	var master *instance
	for _, in := range r.insts {
		if in.m.State() == StateMaster && tracksVIP(in, dev, addr) {
			master = in
			break
		}
	}
	statics, static := r.staticOf().addrs, -1
	for i, v := range statics {
		if v.Dev == dev && v.Prefix.Addr() == addr && !r.cfg.StaticAddresses[i].NoTrack {
			static = i
			break
		}
	}
	if master == nil && static < 0 {
		return
	}
	if back, err := ap.HasAddr(dev, addr); err == nil && back {
		return
	}
	if master != nil {
		r.log.Warn("vrrp master's VIP deleted behind its back; leaving MASTER to take it again", "instance", master.cfg.Name,
			"interface", dev, "vip", addr)
		r.addressLost(master)
	}
	if static >= 0 {
		r.restoreStaticAddr(statics[static], "deleted")
	}
}

func tracksVIP(in *instance, dev string, addr netip.Addr) bool {
	for _, v := range in.spec.TrackedVIPs {
		if v.Dev == dev && v.Prefix.Addr() == addr {
			return true
		}
	}
	return false
}

// addressLost moves in, and every member of its sync group in MASTER, to
// BACKUP with the short timer (keepalived's set_vrrp_backup). The machines
// move first, so that the group's sync finds every member moved already.
func (r *Router) addressLost(in *instance) {
	now := r.now()
	members := append([]*instance{in}, in.group...)
	acts := make([][]Action, len(members))
	for i, o := range members {
		acts[i] = o.m.AddressLost(now)
	}
	for i, o := range members {
		r.apply(o, now, acts[i])
	}
}
