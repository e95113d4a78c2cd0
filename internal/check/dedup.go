package check

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// Shared probes (issue 15; keepalived issues #2111, #2358).
//
// keepalived runs every checker on its own timer, so a real server that 40
// virtual servers share, with the same TCP_CHECK and delay_loop 1, gets 40
// connects a second. lvsd runs one probe for all the checkers that would
// send the same probe at the same moment, and hands its result to each of
// them:
//
//   - The checkers of one target whose probes are identical form a probe
//     group (probeKey: the checker's type and every parameter that shapes
//     the probe or its verdict, with the real server's address, port and
//     virtualhost the probe uses).
//   - Every checker keeps its own tracker, schedule, counters and
//     real-server state, exactly as without sharing: retry,
//     delay_before_retry, delay_loop, alpha, fast_recovery and
//     log_all_failures are the checker's, not the probe's.
//   - When a checker is due while a probe of its group that started at or
//     after its due time is in flight (in practice: taken off the schedule
//     in the same loop round), it takes that probe's result instead of
//     running its own. A probe that started before the checker was due is
//     never used for it, so each checker sees results of probes that
//     started no earlier than keepalived's timer would have started them,
//     and a real server changes at the same check as in keepalived.
//   - Checkers new to the manager draw their first run once per group
//     (warmup: a draw within the smallest warmup of the group, which is a
//     valid draw for each of them), so that they start in step.
//   - A checker in steady state (its next check is delay_loop away: no
//     retry or slow recovery pending) whose next check would fall after
//     another group member's scheduled one, with the same delay_loop,
//     moves to it: it is checked once earlier, by less than delay_loop,
//     and from then on shares. This brings checkers that a reload, an
//     ha_suspend pause or a retry took out of step back into step.
//
// FILE_CHECK and BFD_CHECK send no probe; they are never grouped.
type probeGroup struct {
	members []*checkState
	// lead is the member whose probe is in flight and may still be joined,
	// taken off the schedule at leadAt (monotonic, see clock).
	lead   *checkState
	leadAt time.Duration
}

// targetKey sorts checkers by type and target first: only checkers that
// share both can share probes, and probeKey is built for them alone.
type targetKey struct {
	typ    config.CheckerType
	target netip.AddrPort
}

type sharable struct {
	st *checkState
	vs *config.VirtualServer
}

// groupProbes puts the checkers of each target whose probes are the same
// into probe groups (a checker alone keeps no group). m.mu is held.
func (m *Manager) groupProbes(byTarget map[targetKey][]sharable) {
	for _, list := range byTarget {
		if len(list) < 2 {
			continue
		}
		groups := map[string]*probeGroup{}
		for _, s := range list {
			key, ok := probeKey(s.st.cfg, s.vs, s.st.rs)
			if !ok {
				continue
			}
			g := groups[key]
			if g == nil {
				g = &probeGroup{}
				groups[key] = g
			}
			g.members = append(g.members, s.st)
		}
		for key, g := range groups {
			if len(g.members) < 2 {
				continue
			}
			m.groups[key] = g
			for _, st := range g.members {
				st.group = g
			}
		}
	}
}

// sendsProbe says whether c's check sends something to its target that
// could be shared. FILE_CHECK reads a file and BFD_CHECK a session's
// state (whose silent form answers by alpha): nothing to save, never
// shared.
func sendsProbe(c *config.Checker) bool {
	switch c.Type {
	case config.CheckFile, config.CheckBFD:
		return false
	}
	return true
}

// probeKey names the probe a checker of rs in vs sends: checkers with the
// same key send byte-identical probes to the same place and reach the same
// verdict on the same answer. ok is false for checkers that are never
// shared (FILE_CHECK has no probe).
//
// The key is the checker's whole configuration less the fields that only
// the checker's own tracker and logging read (see observe), so that any
// field added to config.Checker later keeps checkers apart until it is
// known to be irrelevant to the probe. A probe that reads one of the
// fields left out here (retry, delays, warmup, alpha, log_all_failures,
// fast_recovery) must be kept out by sendsProbe.
func probeKey(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer) (string, bool) {
	if !sendsProbe(c) {
		return "", false
	}
	// Spec holds every field of config.Checker (TestSpecHoldsEveryField)
	// with where the probe goes (Target: connect_ip set to the real
	// server's own address is the same probe) and the Host header it
	// sends. MISC_CHECK's script is not told the target, but keeping the
	// target in its key shares a script only among the checkers of one
	// real server (or connect_ip/connect_port), as issue 15 asks.
	b, err := json.Marshal(SpecOf(c, vs, rs).probeKey())
	if err != nil {
		return "", false
	}
	return string(b), true
}

// firstRunBound is how far after Update a new checker's first check may
// be drawn: within warmup, else spread over up to a second (lvsd's own
// spreading when keepalived would start them all at once).
func firstRunBound(c *config.Checker) time.Duration {
	if c.Warmup > 0 {
		return c.Warmup
	}
	return min(max(c.DelayLoop, time.Millisecond), time.Second)
}

// scheduleFresh sets the first check of the checkers new in this Update
// (fresh, of the manager's current states): one draw per probe group, or
// the group's next scheduled check when that is within every fresh
// member's bound. m.mu is held.
func scheduleFresh(fresh []*checkState, now time.Time) {
	type plan struct {
		bound time.Duration
		at    time.Time
	}
	plans := map[*probeGroup]*plan{}
	for _, st := range fresh {
		if st.group == nil {
			continue
		}
		p := plans[st.group]
		if p == nil {
			p = &plan{bound: firstRunBound(st.cfg)}
			plans[st.group] = p
		}
		p.bound = min(p.bound, firstRunBound(st.cfg))
	}
	for g, p := range plans {
		// The earliest coming check of a member carried over from before.
		var next time.Time
		for _, o := range g.members {
			if o.fresh || !o.next.After(now) {
				continue
			}
			if next.IsZero() || o.next.Before(next) {
				next = o.next
			}
		}
		if !next.IsZero() && next.Sub(now) < p.bound {
			p.at = next
		} else {
			p.at = now.Add(rand.N(p.bound))
		}
	}
	for _, st := range fresh {
		if p := plans[st.group]; p != nil {
			st.next = p.at
		} else {
			st.next = now.Add(rand.N(firstRunBound(st.cfg)))
		}
		st.fresh = false
	}
}

// steady says whether st's next check is a plain delay_loop one, which
// may be moved earlier to fall in step with its group.
func (st *checkState) steady(nextDelay time.Duration) bool {
	return nextDelay == st.cfg.DelayLoop && st.tr.failures == 0 && !st.tr.recovering && st.tr.hasRun
}

// align moves the steady checkers among handled (just rescheduled, not
// yet on the schedule) to the latest scheduled check of another member of
// their group with the same delay_loop that comes after now and no later
// than their own. m.mu is held.
func (m *Manager) align(g *probeGroup, handled []*checkState, now time.Time) {
	if g == nil || len(g.members) <= len(handled) {
		return // the whole group is in step
	}
	m.epoch++
	for _, h := range handled {
		h.mark = m.epoch
	}
	var lastNext time.Time
	var lastLoop, lastTo time.Duration = -1, 0
	var lastFound bool
	for _, h := range handled {
		if !h.alignable {
			continue
		}
		if h.cfg.DelayLoop == lastLoop && h.next.Equal(lastNext) {
			if lastFound {
				h.next = clockBase.Add(lastTo)
			}
			continue
		}
		lastLoop, lastNext, lastFound = h.cfg.DelayLoop, h.next, false
		var best time.Time
		for _, o := range g.members {
			if o.mark == m.epoch || o.running || o.gen != h.gen || o.cfg.DelayLoop != h.cfg.DelayLoop {
				continue
			}
			if !o.next.After(now) || o.next.After(h.next) {
				continue
			}
			if o.next.After(best) {
				best = o.next
			}
		}
		if !best.IsZero() && best.Before(h.next) {
			lastFound, lastTo = true, best.Sub(clockBase)
			h.next = best
			m.aligned++
		}
	}
}

// SetProbeSharing turns probe sharing on (the default) or off from the
// next Update on: off, every checker sends its own probes on its own
// timer, as keepalived 2.2.7 does.
func (m *Manager) SetProbeSharing(on bool) {
	m.mu.Lock()
	m.noShare = !on
	m.mu.Unlock()
}

// ProbeStats counts the probes the manager ran and the checks that took
// another checker's probe instead of running their own, since it was
// made; Groups is the number of probe groups of more than one checker now
// and Grouped the checkers in them.
type ProbeStats struct {
	Probes  uint64 // probes run (FILE_CHECK reads included)
	Shared  uint64 // checks answered by a probe another checker ran
	Aligned uint64 // times a checker was moved into step with its group
	Groups  int
	Grouped int
}

// ProbeStats returns the manager's probe counters.
func (m *Manager) ProbeStats() ProbeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := ProbeStats{Probes: m.probes, Shared: m.shared, Aligned: m.aligned}
	for _, g := range m.groups {
		if len(g.members) > 1 {
			s.Groups++
			s.Grouped += len(g.members)
		}
	}
	return s
}
