package vrrp

import (
	"net"
	"net/netip"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
)

// vmacPlatform is the part of a Platform that makes VMAC interfaces
// (use_vmac); the host implements it, a Platform without it runs the
// instances on their interfaces.
type vmacPlatform interface {
	AddVMAC(netif.VMAC) error
	DelVMAC(netif.VMAC) error
	// OwnsVMAC: name is a VMAC made (or taken over) by AddVMAC, not an
	// interface of that name that AddVMAC refused.
	OwnsVMAC(name string) bool
}

// promotePlatform sets promote_secondaries (the host implements it; a
// Platform without it leaves the interfaces' settings alone).
type promotePlatform interface {
	PromoteSecondaries(dev string) error
	RestorePromoteSecondaries() error
}

func (h *hostPlatform) PromoteSecondaries(dev string) error { return netif.PromoteSecondaries(dev) }
func (h *hostPlatform) RestorePromoteSecondaries() error    { return netif.RestorePromoteSecondaries() }

func (h *hostPlatform) AddVMAC(v netif.VMAC) error { _, err := netif.AddVMAC(v); return err }
func (h *hostPlatform) DelVMAC(v netif.VMAC) error { return netif.DelVMAC(v) }
func (h *hostPlatform) OwnsVMAC(name string) bool  { return netif.OwnsVMAC(name) }

// vmacsOf are the instance's VMACs as the kernel side makes them; src is
// the instance's configured source address (IPv6: the VMAC's link-local).
func vmacsOf(ic *config.Instance, src netip.Addr) []netif.VMAC {
	var out []netif.VMAC
	for _, l := range ic.VMACs {
		mac, err := net.ParseMAC(l.MAC)
		if err != nil {
			continue // config.completeVMAC writes only valid ones
		}
		v := netif.VMAC{Name: l.Name, Parent: l.Parent, MAC: mac, IPv6: l.IPv6, EnableIPv6: l.EnableIPv6,
			LinkLocal: l.IPv6 && !l.XmitBase}
		if l.Instance && l.IPv6 && src.Is6() {
			v.LinkLocalAddr = src
		}
		out = append(out, v)
	}
	return out
}

// setupVMACs makes the instance's VMACs, as keepalived 2.2.7 does when it
// starts (netlink_link_add_vmac: created up, and left up in every
// state), and returns the interface its VRRP socket binds to: its own
// VMAC, or its interface with vmac_xmit_base. A VMAC that cannot be made
// is logged and the instance runs on its interface.
func (r *Router) setupVMACs(ic *config.Instance, src netip.Addr) string {
	dev := ic.Interface
	vp, ok := r.plat.(vmacPlatform)
	if !ok || len(ic.VMACs) == 0 {
		return dev
	}
	for i, v := range vmacsOf(ic, src) {
		if err := vp.AddVMAC(v); err != nil {
			r.log.Error("VMAC interface", "instance", ic.Name, "vmac", v.Name, "interface", v.Parent, "err", err)
			continue
		}
		r.log.Info("VMAC interface up", "instance", ic.Name, "vmac", v.Name, "interface", v.Parent, "mac", v.MAC.String())
		if i == 0 && ic.VMACs[0].Instance && !ic.VMACs[0].XmitBase {
			dev = v.Name
		}
	}
	return dev
}

// removeVMACs deletes the VMACs of the instances that stop (not those
// handed to the next router, nor ones they share), after their addresses
// are gone, as keepalived does at shutdown.
func (r *Router) removeVMACs() {
	vp, ok := r.plat.(vmacPlatform)
	if !ok {
		return
	}
	kept := map[string]bool{}
	for _, in := range r.insts {
		if r.keep[keyOf(in.cfg)] {
			for _, l := range in.cfg.VMACs {
				kept[l.Name] = true
			}
		}
	}
	done := map[string]bool{}
	for _, in := range r.insts {
		if r.keep[keyOf(in.cfg)] {
			continue
		}
		for _, v := range vmacsOf(in.cfg, netip.Addr{}) {
			if kept[v.Name] || done[v.Name] {
				continue
			}
			done[v.Name] = true
			if err := vp.DelVMAC(v); err != nil {
				r.log.Warn("removing VMAC interface", "instance", in.cfg.Name, "vmac", v.Name, "err", err)
			}
		}
	}
}

// ownVMAC is the instance's own VMAC, which keepalived tracks as it
// tracks the interface: down or gone, the instance is in FAULT.
func ownVMAC(ic *config.Instance) []string {
	if len(ic.VMACs) > 0 && ic.VMACs[0].Instance {
		return []string{ic.VMACs[0].Name}
	}
	return nil
}

func (r *Router) ownVMACUp(in *instance) bool {
	vp, ok := r.plat.(vmacPlatform)
	if !ok {
		return true
	}
	for _, n := range ownVMAC(in.cfg) {
		if !r.links[n].up || !vp.OwnsVMAC(n) {
			return false
		}
	}
	return true
}

// recreateVMAC makes dev again if it is one of the instances' VMACs, as
// keepalived does when a VMAC it made is deleted (recreate_vmac_thread)
// or its parent comes back (setup_interface): link checks call it while
// dev is missing, so it is retried until the parent exists.
func (r *Router) recreateVMAC(dev string) bool {
	vp, ok := r.plat.(vmacPlatform)
	if !ok {
		return false
	}
	for _, in := range r.insts {
		for _, v := range vmacsOf(in.cfg, in.spec.Src) {
			if v.Name != dev {
				continue
			}
			if err := vp.AddVMAC(v); err != nil {
				r.log.Debug("VMAC interface cannot be made again yet", "instance", in.cfg.Name, "vmac", v.Name, "err", err)
				return false
			}
			r.log.Info("VMAC interface made again", "instance", in.cfg.Name, "vmac", v.Name, "interface", v.Parent)
			return true
		}
	}
	return false
}
