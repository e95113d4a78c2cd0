package check

import (
	"net/netip"
	"sync/atomic"

	"github.com/lvsd/lvsd/internal/config"
)

// ha_suspend, as keepalived 2.2.7 does it (check_data.c, ipwrapper.c
// update_checker_activity): the checkers of a virtual server with
// ha_suspend run only while one of its addresses is configured on this
// host, i.e. while the VRRP instance holding that VIP is MASTER. A
// suspended checker is not run; its real server keeps its state.
//
// The manager cannot see the host's addresses; the daemon tells it with
// SetLocalAddresses, at start and whenever addresses come or go (a VRRP
// transition). Until the first call nothing is suspended, so a daemon that
// never calls it runs every checker, as lvsd did before.
type haSuspendState struct {
	// vsAddrs: per ha_suspend virtual server key, its addresses (an
	// address virtual server's own, a group's address ranges).
	vsAddrs map[string][][2]netip.Addr
	// local is the last SetLocalAddresses set (nil: never called).
	local atomic.Pointer[map[netip.Addr]bool]
	// off caches, per key, whether it is suspended; rebuilt on change.
	off map[string]bool
}

// update records the ha_suspend virtual servers of cfg; m.mu is held.
func (h *haSuspendState) update(cfg *config.Config) {
	groups := map[string]*config.VSGroup{}
	for _, g := range cfg.VSGroups {
		groups[g.Name] = g
	}
	h.vsAddrs = map[string][][2]netip.Addr{}
	for _, vs := range cfg.VirtualServers {
		if !vs.HASuspend {
			continue
		}
		var r [][2]netip.Addr
		if vs.Addr.IsValid() {
			r = append(r, [2]netip.Addr{vs.Addr, vs.Addr})
		}
		if g := groups[vs.Group]; g != nil {
			for _, e := range g.Entries {
				if e.FWMark == 0 {
					r = append(r, [2]netip.Addr{e.First, e.Last})
				}
			}
		}
		h.vsAddrs[vs.Key()] = r
	}
	h.recompute()
}

func (h *haSuspendState) recompute() {
	h.off = map[string]bool{}
	local := h.local.Load()
	if local == nil {
		return
	}
	for key, ranges := range h.vsAddrs {
		present := false
		for a := range *local {
			for _, r := range ranges {
				if a.Compare(r[0]) >= 0 && a.Compare(r[1]) <= 0 {
					present = true
				}
			}
		}
		h.off[key] = !present
	}
}

// suspended reports whether the checkers of virtual server key are
// suspended; m.mu is held.
func (h *haSuspendState) suspended(key string) bool { return h.off[key] }

// SetLocalAddresses tells the manager which addresses are configured on
// this host now. The checkers of a virtual server with ha_suspend run only
// while one of its addresses is among them; checks resume at their next
// due time.
func (m *Manager) SetLocalAddresses(addrs []netip.Addr) {
	set := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		set[a.Unmap()] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.haSuspend.local.Store(&set)
	m.haSuspend.recompute()
	m.poke()
}

// Suspended lists the virtual servers whose checkers ha_suspend holds
// now (for status and tests).
func (m *Manager) Suspended() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k, off := range m.haSuspend.off {
		if off {
			out = append(out, k)
		}
	}
	return out
}
