package config

import (
	"strconv"
	"strings"
	"time"
)

// Active-active directors behind a router's equal-cost multipath (issue
// 18, docs/scale-out.md): lvsd keeps a host route for each announced
// virtual address, and a BGP speaker beside it (BIRD 2, FRR) exports
// those routes. These keywords are lvsd's own; keepalived 2.2.7 logs
// "Unknown keyword" for each line and runs on, so a configuration using
// them still starts under keepalived (without announcements). A
// configuration without them behaves exactly as before.
//
//	global_defs {
//	    lvsd_announce_table 200       # routing table of the routes (default 200)
//	    lvsd_announce_protocol 200    # their route protocol number (default 200)
//	    lvsd_announce_drain_time 5    # seconds between withdraw and IPVS removal at stop
//	}
//	virtual_server 192.0.2.10 80 {
//	    lvs_sched mh
//	    mh-port
//	    lvsd_announce                 # announce 192.0.2.10/32 while quorum is up
//	    ...
//	}
//
// This file sorts after build.go and build_vs.go, so their init functions
// have filled the tables this one adds to.

// Announce is global_defs' lvsd_announce_* settings; nil when none is
// given (the defaults then apply to virtual servers with lvsd_announce).
type Announce struct {
	// Table and Protocol select the routes lvsd owns: a routing table
	// (1-4294967295 except 253-255) and a route protocol number (5-255).
	Table    int `json:"table"`
	Protocol int `json:"protocol"`
	// DrainTime is how long a stop waits between withdrawing the routes
	// and removing the IPVS services, for the router to move the flows.
	DrainTime time.Duration `json:"drain_time"`
}

// Announce defaults (internal/announce has the same).
const (
	DefaultAnnounceTable     = 200
	DefaultAnnounceProtocol  = 200
	DefaultAnnounceDrainTime = 5 * time.Second
)

// Effective returns the settings in force: a's, with the defaults for what
// it leaves out (all of them when a is nil: no lvsd_announce_* keyword).
func (a *Announce) Effective() Announce {
	e := Announce{Table: DefaultAnnounceTable, Protocol: DefaultAnnounceProtocol, DrainTime: DefaultAnnounceDrainTime}
	if a != nil {
		if a.Table != 0 {
			e.Table = a.Table
		}
		if a.Protocol != 0 {
			e.Protocol = a.Protocol
		}
		if a.DrainTime >= 0 {
			e.DrainTime = a.DrainTime
		}
	}
	return e
}

// Announcing reports whether any virtual server asks for announcement.
func (c *Config) Announcing() bool {
	for _, vs := range c.VirtualServers {
		if vs.Announce {
			return true
		}
	}
	return false
}

func announceSettings(g *Global) *Announce {
	if g.Announce == nil {
		g.Announce = &Announce{DrainTime: -1}
	}
	return g.Announce
}

// announceInt reads a whole-number argument; a bad one is a skipped error
// (keepalived 2.2.7 does not know the keyword and runs on without it).
func announceInt(b *builder, n *Node, lo, hi int64) (int64, bool) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "%s needs a value; ignored, the default stays", n.Key)
		return 0, false
	}
	if len(n.Args) > 1 {
		b.d.Warnf(n.Args[1].Pos, "%s takes one value; %q and what follows are ignored", n.Key, n.Args[1].Text)
	}
	t := n.Args[0]
	v, err := strconv.ParseInt(t.Text, 10, 64)
	if err != nil || v < lo || v > hi {
		b.d.Skipf(t.Pos, "%s %q is not a whole number in %d-%d; ignored, the default stays", n.Key, t.Text, lo, hi)
		return 0, false
	}
	return v, true
}

var announceGlobal = table[*Global]{
	"lvsd_announce_table": {handle: func(b *builder, n *Node, g *Global) {
		v, ok := announceInt(b, n, 1, 1<<32-1)
		if !ok {
			return
		}
		if v >= 253 && v <= 255 {
			b.d.Skipf(n.Args[0].Pos, "lvsd_announce_table %d is the kernel's default, main or local table; lvsd's announcement routes need a table of their own (default %d); ignored", v, DefaultAnnounceTable)
			return
		}
		announceSettings(g).Table = int(v)
	}},
	"lvsd_announce_protocol": {handle: func(b *builder, n *Node, g *Global) {
		v, ok := announceInt(b, n, 0, 255)
		if !ok {
			return
		}
		// 0-4 are the kernel's own (unspec, redirect, kernel, boot,
		// static); 12 is BIRD's, 186 FRR's BGP, 196 FRR's static.
		if reserved := map[int64]string{0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 12: "BIRD's own", 186: "bgp (FRR's)", 196: "FRR static"}[v]; reserved != "" || v < 5 {
			b.d.Skipf(n.Args[0].Pos, "lvsd_announce_protocol %d is taken (%s); ignored, the default %d stays", v, reserved, DefaultAnnounceProtocol)
			return
		}
		announceSettings(g).Protocol = int(v)
	}},
	"lvsd_announce_drain_time": {handle: func(b *builder, n *Node, g *Global) {
		v, ok := announceInt(b, n, 0, 3600)
		if !ok {
			return
		}
		announceSettings(g).DrainTime = time.Duration(v) * time.Second
	}},
}

func init() {
	for k, kw := range announceGlobal {
		globalTable[k] = kw
	}
	vsTable["lvsd_announce"] = keyword[*VirtualServer]{handle: func(b *builder, n *Node, vs *VirtualServer) {
		if len(n.Args) > 0 {
			b.d.Warnf(n.Args[0].Pos, "lvsd_announce takes no value; %q is ignored", n.Args[0].Text)
		}
		vs.Announce = true
	}}
	// The per-service advice needs the whole virtual_server block (the
	// scheduler may come after lvsd_announce): it runs once the block is
	// built, wrapping the top-level handler.
	build := topTable["virtual_server"].handle
	topTable["virtual_server"] = keyword[*Config]{handle: func(b *builder, n *Node, c *Config) {
		before := len(c.VirtualServers)
		build(b, n, c)
		if len(c.VirtualServers) > before {
			if vs := c.VirtualServers[len(c.VirtualServers)-1]; vs.Announce {
				announceAdvice(b, n, vs)
			}
		}
	}}
}

// announceAdvice warns about settings of an announced virtual server that
// break ECMP: a flow the router moves to another director (when a
// director joins or leaves) must reach the same real server there.
func announceAdvice(b *builder, n *Node, vs *VirtualServer) {
	pos := n.Pos()
	switch {
	case vs.FWMark != 0:
		b.d.Warnf(pos, "lvsd_announce on virtual_server fwmark %d: a fwmark service has no address lvsd could announce; nothing is announced for it (announce the addresses with a virtual_server_group of addresses instead)", vs.FWMark)
		return
	case vs.Scheduler == "mh":
		if !hasFlag(vs, "mh-port") && vs.Protocol != ProtoSCTP {
			b.d.Warnf(pos, "lvsd_announce: mh without mh-port hashes on the client address only: every flow of one client goes to one real server (add mh-port to spread a client's flows; every director must use the same)")
		}
	case vs.Scheduler == "sh":
		b.d.Warnf(pos, "lvsd_announce with sh: sh picks the same real server on every director only while their real-server lists and weights are identical, and moves most flows when one changes; mh (with mh-port) is what active-active directors should use")
	default:
		sched := vs.Scheduler
		if sched == "" {
			sched = "wlc (the default)"
		}
		b.d.Warnf(pos, "lvsd_announce with lvs_sched %s: each director chooses a real server on its own, so a flow the router moves to another director (when one joins or leaves) lands on a different real server and is reset; use lvs_sched mh with mh-port, the same real servers on every director", sched)
	}
	if vs.Persistent {
		b.d.Warnf(pos, "lvsd_announce with persistence: persistence templates are per director; a client the router sends to another director may be scheduled afresh (mh gives the same answer while the real servers agree)")
	}
}

func hasFlag(vs *VirtualServer, f string) bool {
	for _, x := range vs.SchedFlags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}
