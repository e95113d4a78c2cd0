// Package announce keeps the routes that announce lvsd's virtual
// addresses to a BGP speaker (BIRD 2, FRR) running beside it, for
// active-active directors behind a router's equal-cost multipath.
//
// lvsd speaks no routing protocol. For each address it announces it keeps
// one host route (/32 or /128, a blackhole: the table it lives in is not
// consulted for forwarding) in a routing table and with a route protocol
// number of its own; the BGP speaker learns the routes of that table and
// protocol from the kernel and exports them (configs/bird-lvsd.conf,
// configs/frr-lvsd.conf). An address is announced while every announcing
// virtual service on it has quorum and is programmed in IPVS (Desired),
// and withdrawn as soon as one of them is not.
//
// The package has two halves, after tailscale's wgengine/router: Desired,
// a pure function from the configuration, the IPVS table lvsd last
// programmed and the checkers' health to the set of prefixes to announce;
// and Announcer.Set, a declarative reconciler that reads the routes of its
// protocol from the kernel (through the narrow OS seam: Netlink on a
// machine, Fake in tests), adds what is missing and deletes what is no
// longer wanted. Reading the kernel each time makes a restart re-adopt
// the routes a previous lvsd left (they stay when lvsd dies, so the
// director keeps attracting and forwarding traffic with its last IPVS
// table) and repairs a route deleted behind lvsd's back.
package announce

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
)

// Defaults of the global_defs lvsd_announce_* settings.
const (
	DefaultTable     = 200
	DefaultProtocol  = 200
	DefaultDrainTime = 5 * time.Second
)

// Desired is the set of host prefixes to announce: the address of each
// virtual service that asks for announcement (lvsd_announce) and is
// programmed in IPVS (present in programmed, the table lvsd last wrote
// successfully, with at least one real server of non-zero weight), while
// its quorum is up. An address shared by several announcing services is
// announced only while all of them qualify: a director announces an
// address only when it can serve every announced port of it. fwmark
// services have no address of their own and are never announced
// (check-config warns). programmed nil means nothing is programmed.
func Desired(cfg *config.Config, programmed ipvs.Table, health ipvs.Health) []netip.Prefix {
	if cfg == nil {
		return nil
	}
	ok := map[netip.Addr]bool{}
	var order []netip.Addr
	for _, vs := range cfg.VirtualServers {
		if !vs.Announce {
			continue
		}
		up := quorumUp(vs, health)
		for _, key := range ipvs.ServiceKeys(cfg, vs) {
			if key.FWMark != 0 || !key.Addr.IsValid() {
				continue
			}
			a := key.Addr.Unmap()
			good := up && programmedOK(programmed, key)
			prev, seen := ok[a]
			if !seen {
				order = append(order, a)
				ok[a] = good
				continue
			}
			ok[a] = prev && good
		}
	}
	var out []netip.Prefix
	for _, a := range order {
		if ok[a] {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	slices.SortFunc(out, comparePrefix)
	return out
}

func programmedOK(t ipvs.Table, key ipvs.ServiceKey) bool {
	svc := t[key]
	if svc == nil {
		return false
	}
	for _, d := range svc.Dests {
		if d.Weight > 0 {
			return true
		}
	}
	return false
}

type quorumer interface {
	QuorumUp(vs *config.VirtualServer) bool
}

// quorumUp: the checkers' quorum with hysteresis when health knows it,
// else keepalived's rule (the weight of live real servers reaches quorum).
func quorumUp(vs *config.VirtualServer, health ipvs.Health) bool {
	if q, ok := health.(quorumer); ok {
		return q.QuorumUp(vs)
	}
	alive := 0
	for _, rs := range vs.RealServers {
		if health == nil || health.RealServerUp(vs, rs) {
			alive += rs.Weight
		}
	}
	return alive >= max(vs.Quorum, 1)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// OS is the narrow seam to the kernel's routing table: the announcement
// routes of one table and protocol.
type OS interface {
	// List returns the prefixes of the routes of the announcer's table and
	// protocol, in both families.
	List() ([]netip.Prefix, error)
	// Add installs (or replaces) the route of p.
	Add(p netip.Prefix) error
	// Del removes the route of p.
	Del(p netip.Prefix) error
}

// Announcer reconciles the announcement routes with a desired set.
type Announcer struct {
	os  OS
	log *slog.Logger

	mu   sync.Mutex
	last []netip.Prefix // what the last Set left in the kernel
}

// New returns an Announcer over os; log may be nil.
func New(os OS, log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Announcer{os: os, log: log}
}

// Change is one route Set added or removed.
type Change struct {
	Prefix netip.Prefix
	Add    bool
}

func (c Change) String() string {
	if c.Add {
		return "announce " + c.Prefix.String()
	}
	return "withdraw " + c.Prefix.String()
}

// Set makes the kernel's routes of the announcer's table and protocol
// exactly desired: it reads them, withdraws (deletes) the unwanted ones
// first, then announces (adds) the missing ones. It returns what it
// changed; on an error it goes on with the other routes and returns the
// first error.
func (a *Announcer) Set(desired []netip.Prefix) ([]Change, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	have, err := a.os.List()
	if err != nil {
		return nil, fmt.Errorf("announce: list routes: %w", err)
	}
	want := map[netip.Prefix]bool{}
	for _, p := range desired {
		want[p.Masked()] = true
	}
	cur := map[netip.Prefix]bool{}
	for _, p := range have {
		cur[p.Masked()] = true
	}
	var changes []Change
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, p := range sortedKeys(cur) {
		if !want[p] {
			if err := a.os.Del(p); err != nil {
				note(fmt.Errorf("announce: withdraw %s: %w", p, err))
				continue
			}
			changes = append(changes, Change{Prefix: p})
		}
	}
	for _, p := range sortedKeys(want) {
		if !cur[p] {
			if err := a.os.Add(p); err != nil {
				note(fmt.Errorf("announce: announce %s: %w", p, err))
				continue
			}
			changes = append(changes, Change{Prefix: p, Add: true})
		}
	}
	for _, c := range changes {
		a.log.Info("bgp announcement", "change", c.String())
	}
	a.last = sortedKeys(want)
	return changes, first
}

// Announced is what the last Set asked for.
func (a *Announcer) Announced() []netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.last)
}

// Adopt reads the routes a previous lvsd left and returns them; they stay
// until the first Set decides about them.
func (a *Announcer) Adopt() ([]netip.Prefix, error) {
	have, err := a.os.List()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(have, comparePrefix)
	a.mu.Lock()
	a.last = slices.Clone(have)
	a.mu.Unlock()
	if len(have) > 0 {
		a.log.Info("bgp announcement: adopting the routes a previous lvsd left", "routes", len(have))
	}
	return have, nil
}

// WithdrawAll removes every announcement route (the first step of a stop).
func (a *Announcer) WithdrawAll() ([]Change, error) { return a.Set(nil) }

func sortedKeys(m map[netip.Prefix]bool) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return out
}
