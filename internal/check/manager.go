// Package check runs keepalived's real-server health checkers (TCP_CHECK,
// HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, UDP_CHECK, PING_CHECK) and keeps the up/down state that the
// IPVS desired table is built from.
package check

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/script"
	"github.com/lvsd/lvsd/internal/track"
)

// Key names one checker in status and metrics: its virtual server, real
// server and position. A reload does not match checkers by Key but by
// their Spec's Identity (startStates), as keepalived does.
type Key struct {
	VS    string
	RS    netip.AddrPort
	Index int
	Type  config.CheckerType
}

func (k Key) rs() rsKey { return rsKey{k.VS, k.RS} }

type rsKey struct {
	VS string
	RS netip.AddrPort
}

// slowRecovery: HTTP_GET and SSL_GET without fast_recovery need a second
// passing check, delay_loop later, to bring a failed server back.
func slowRecovery(c *config.Checker) bool {
	return (c.Type == config.CheckHTTP || c.Type == config.CheckSSL) && !c.FastRecovery
}

// tracker is keepalived's per-checker state: retry N means N+1 failures in
// a row take the real server down; one success brings it back. failures
// is keepalived's retry_it: a checker that starts with it at retry (see
// Manager.Update) is taken down by its first failure.
type tracker struct {
	up       bool
	failures int
	weight   int  // misc_dynamic weight, -1 if none
	delta    int  // FILE_CHECK: what it adds to the real server's weight
	hasRun   bool // keepalived's has_run: a verdict has been reached
	// recovering: an HTTP_GET/SSL_GET without fast_recovery passed once
	// while down; keepalived checks again after delay_loop before it
	// brings the server up (check_http.c epilog: the failed url passing
	// restarts the url list, on the delay_loop timer unless
	// fast_recovery).
	recovering bool
}

// observe applies one result and says when to check next.
func (t *tracker) observe(ok bool, weight int, c *config.Checker) (changed bool, next time.Duration) {
	if c.Type == config.CheckFile {
		// keepalived acts on each value at once: no retry, no recovery
		// check; weight carries the value's weight.
		if !ok {
			weight = 0
		}
		changed = t.up != ok || t.delta != weight || !t.hasRun
		t.up, t.delta, t.failures, t.hasRun = ok, weight, 0, true
		return changed, c.DelayLoop
	}
	if !ok && !t.up && t.hasRun && retriesOnlyWhileUp(c) {
		// keepalived 2.2.7's DNS_CHECK, UDP_CHECK and PING_CHECK
		// (dns_final, udp_epilog, icmp_epilog) retry only while the
		// checker is up: once down, a failure waits delay_loop.
		t.failures = 0
		return false, c.DelayLoop
	}
	if ok || t.failures >= c.Retry {
		t.hasRun = true
	}
	if ok && !t.up && t.hasRun && !t.recovering && slowRecovery(c) {
		t.recovering, t.failures = true, 0
		return false, c.DelayLoop
	}
	t.recovering = false
	if ok {
		changed = !t.up || weight != t.weight
		t.up, t.failures, t.weight = true, 0, weight
		return changed, c.DelayLoop
	}
	t.failures++
	if t.failures <= c.Retry {
		return false, c.DelayBeforeRetry
	}
	t.failures = 0
	changed = t.up
	t.up = false
	return changed, c.DelayLoop
}

// retriesOnlyWhileUp: the checkers whose failures while down are not
// retried (TCP_CHECK retries them, check_tcp.c tcp_epilog).
func retriesOnlyWhileUp(c *config.Checker) bool {
	switch c.Type {
	case config.CheckDNS, config.CheckUDP, config.CheckPing:
		return true
	}
	return false
}

type checkState struct {
	key      Key
	cfg      *config.Checker
	spec     Spec // cfg resolved (spec.go): its reload identity and probe target
	rs       *config.RealServer
	probe    Probe    // HTTP_GET, SSL_GET, MISC_CHECK: run by a worker
	dial     *tcpDial // TCP_CHECK: run by the connector
	attempt  attempt  // TCP_CHECK: the connect in flight, if running
	tr       tracker
	next     time.Time
	running  bool
	gen      int // the manager's gen when made: a reload makes new states, and results of old ones are ignored
	last     time.Time
	lastDur  time.Duration
	lastErr  string
	checks   uint64
	failures uint64
	unknown  uint64 // attempts without a verdict (localResourceError)
	// Probe sharing (dedup.go): the checker's group, the members that
	// took this checker's probe in flight, and how many of its checks
	// another member's probe answered.
	group     *probeGroup
	subs      []*checkState
	shared    uint64
	fresh     bool   // new in this Update, first check not yet drawn
	alignable bool   // rescheduled by a plain delay_loop (see align)
	mark      uint64 // align's scratch
}

// Status is one checker's state for `lvsd status` and the metrics.
type Status struct {
	Key          Key
	Up           bool
	LastCheck    time.Time
	LastDuration time.Duration
	LastError    string
	Checks       uint64
	Failures     uint64
	// Unknown counts attempts that could not run for want of a local
	// resource (EMFILE, ENOBUFS...): neither checks nor failures.
	Unknown uint64
	// Shared counts the checks (of Checks) answered by a probe that
	// another checker of the same target ran at the same moment.
	Shared uint64
	// GroupSize is how many checkers share this checker's probes (1: it
	// shares with none).
	GroupSize int
}

// Manager schedules every checker from one goroutine, runs probes on a
// fixed pool of workers, and answers ipvs.Health.
type Manager struct {
	log      *slog.Logger
	run      ScriptRunner
	notifier *script.Notifier // notify_up/down, quorum_up/down
	workers  int
	changed  func() // called (from the scheduler goroutine) after state changes

	mu     sync.Mutex
	checks map[Key]*checkState
	queue  checkHeap
	rsUp   map[rsKey]bool
	weight map[rsKey]int
	rsCfg  map[rsKey]*config.RealServer
	// rsSpare: an empty map for the next Update's rsCfg (Update).
	rsSpare map[rsKey]*config.RealServer
	// notifyDown: a real server of rsCfg has a notify_down.
	notifyDown bool
	quorum     map[string]bool
	vsCfg      map[string]*config.VirtualServer
	byRS       map[rsKey][]*checkState
	// distinct: the last Update's virtual servers have distinct keys and
	// each its distinct real servers (recompute).
	distinct bool
	gen      int
	loop     *connector // the running loop's, to wake it; nil when not running
	// A burst of attempts without a verdict is logged once, at its start,
	// and summed up at the first verdict after localQuiet without one.
	localBurst uint64
	localLast  time.Time
	// flushOnStop is global_defs lvs_flush_onstop: with it keepalived
	// runs only quorum_down (omega) at shutdown, not notify_down.
	flushOnStop string
	// logAllFailures is checker_log_all_failures (log_all_failures for
	// every checker); rsInitNotifies is rs_init_notifies.
	logAllFailures, rsInitNotifies bool
	// rsNotifies wait for TakeRSNotifies (at most one per checker).
	rsNotifies []RSNotify
	// haSuspend: see SetLocalAddresses (vs_hasuspend.go).
	haSuspend haSuspendState
	// Probe sharing (dedup.go).
	groups                  map[string]*probeGroup
	probes, shared, aligned uint64
	epoch                   uint64
	noShare                 bool // SetProbeSharing(false)
}

const localQuiet = 5 * time.Second

type result struct {
	st     *checkState
	ok     bool
	weight int
	err    error
	at     time.Time
	dur    time.Duration
}

// NewManager returns a manager; changed is called whenever a real server's
// state or a quorum changes, so the caller can reconcile IPVS.
func NewManager(log *slog.Logger, run ScriptRunner, workers int, changed func()) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if workers <= 0 {
		workers = 64
	}
	if changed == nil {
		changed = func() {}
	}
	return &Manager{log: log, run: run, notifier: script.NewNotifier(log), workers: workers, changed: changed, checks: map[Key]*checkState{},
		rsUp: map[rsKey]bool{}, weight: map[rsKey]int{}, rsCfg: map[rsKey]*config.RealServer{},
		quorum: map[string]bool{}, vsCfg: map[string]*config.VirtualServer{}}
}

// Update installs the checkers of cfg. Checkers that exist in both keep
// their state and schedule; new ones start up (or down with alpha) and
// run their first check after a random part of their warmup.
func (m *Manager) Update(cfg *config.Config, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	start := m.gen == 1
	old := m.checks
	oldRS := m.rsCfg
	nRS := 0
	for _, vs := range cfg.VirtualServers {
		nRS += len(vs.RealServers)
	}
	m.checks = make(map[Key]*checkState, len(old))
	m.queue = m.queue[:0]
	// The maps of the Update before last, emptied when it ended, hold
	// the new configuration: no new 40,000-entry map per reload (its
	// memory is the process's already, not pages to fault in again).
	if m.rsSpare != nil && len(m.rsSpare) == 0 {
		m.rsCfg, m.rsSpare = m.rsSpare, nil
	} else {
		m.rsCfg = make(map[rsKey]*config.RealServer, nRS)
	}
	m.vsCfg = make(map[string]*config.VirtualServer, len(cfg.VirtualServers))
	m.groups = map[string]*probeGroup{}
	var errs []error
	var all, fresh []*checkState
	notifyDown := false // a real server has a notify_down
	byTarget := map[targetKey][]sharable{}
	ssl, err := LoadSSLClient(cfg)
	if err != nil {
		// The daemon refuses such a configuration before it gets here
		// (keepalived's checker exits on it); SSL_GET then presents no
		// certificate.
		errs = append(errs, err)
	}
	if hasFileCheck(cfg) {
		// init_file, for FILE_CHECKs read below; idempotent with the VRRP
		// side's call (lvsd run -C has none).
		for _, err := range track.InitFiles(cfg) {
			m.log.Warn("track_file", "err", err)
		}
	}
	// The checkers each real server had, in their order: a reload matches
	// the new ones to them by identity (startStates).
	oldByRS := make(map[rsKey][]*checkState, len(m.byRS))
	for _, st := range old {
		oldByRS[st.key.rs()] = append(oldByRS[st.key.rs()], st)
	}
	for _, l := range oldByRS {
		sort.Slice(l, func(i, j int) bool { return l[i].key.Index < l[j].key.Index })
	}
	for _, vs := range cfg.VirtualServers {
		vsKey := vs.Key() // once per virtual server: it builds a string
		m.vsCfg[vsKey] = vs
		for _, rs := range vs.RealServers {
			rk := rsKey{vsKey, netip.AddrPortFrom(rs.Addr, rs.Port)}
			m.rsCfg[rk] = rs
			if rs.NotifyDown != nil {
				notifyDown = true
			}
			if len(rs.Checkers) == 0 {
				// Nothing to start (startStates of no checkers does
				// nothing); recompute gives it its state.
				continue
			}
			var sts []*checkState
			for i, c := range rs.Checkers {
				k := Key{VS: rk.VS, RS: rk.RS, Index: i, Type: c.Type}
				st := &checkState{key: k, cfg: c, rs: rs, gen: m.gen, spec: SpecOf(c, vs, rs)}
				if c.Type == config.CheckTCP {
					st.dial = newTCPDial(c, rs)
				} else {
					probe, err := newProbe(c, vs, rs, m.run, ssl)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s %s: %w", k.VS, k.RS, err))
						continue
					}
					st.probe = probe
				}
				if sendsProbe(c) {
					// Grouped below, once every checker of the target is
					// known.
					tk := targetKey{st.spec.Kind, st.spec.Target}
					byTarget[tk] = append(byTarget[tk], sharable{st, vs})
				}
				sts = append(sts, st)
			}
			_, existed := oldRS[rk]
			fresh = append(fresh, m.startStates(rk, rs, sts, oldByRS[rk], start, existed, now)...)
			for _, st := range sts {
				m.checks[st.key] = st
				all = append(all, st)
			}
		}
	}
	if !m.noShare {
		m.groupProbes(byTarget)
	}
	scheduleFresh(fresh, now)
	for _, st := range all {
		m.queue.push(st)
	}
	m.flushOnStop = cfg.Global.LVSFlushOnStop
	m.logAllFailures, m.rsInitNotifies = cfg.Global.CheckerLogAllFailures, cfg.Global.RSInitNotifies
	m.haSuspend.update(cfg)
	// Each virtual server's key once, and each real server once in it:
	// recompute can go through m.vsCfg alone.
	m.distinct = len(m.vsCfg) == len(cfg.VirtualServers) && len(m.rsCfg) == nRS
	// keepalived (clear_service_rs on reload): a real server that leaves
	// the configuration while up runs its notify_down, before the states
	// are recomputed.
	// (Gone through only when one of them has a notify_down; looked up
	// only for those.)
	for rk, rs := range oldRS {
		if !m.notifyDown {
			break
		}
		if rs.NotifyDown == nil {
			continue
		}
		if _, kept := m.rsCfg[rk]; !kept && m.rsUp[rk] {
			m.script(rk.VS+" "+rk.RS.String(), rs.NotifyDown)
		}
	}
	m.notifyDown = notifyDown
	// The state of a real server that left goes: the real servers with a
	// state are those of the last Update (rsUp's keys are oldRS's), so
	// when recompute found every one of them among the new ones, none
	// left and the old ones need not be looked up.
	if _, known := m.recomputeCounting(); known != len(oldRS) {
		for rk := range oldRS {
			if _, kept := m.rsCfg[rk]; !kept {
				delete(m.rsUp, rk)
				delete(m.weight, rk)
			}
		}
	}
	// Emptied (it must not keep the old configuration alive), kept for
	// the next Update.
	clear(oldRS)
	m.rsSpare = oldRS
	m.poke()
	if len(errs) > 0 {
		return fmt.Errorf("checkers not started: %v", errs)
	}
	return nil
}

func hasFileCheck(cfg *config.Config) bool {
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checkers {
				if c.Type == config.CheckFile {
					return true
				}
			}
		}
	}
	return false
}

// startStates gives the checkers of one real server (sts, in their
// order) their state in this Update, as keepalived 2.2.7 does (check_data.c
// validate_check_config at start, ipwrapper.c migrate_checkers at
// reload), and returns those that start fresh (first check drawn within
// warmup, scheduleFresh).
//
// At reload each checker takes the state of the first checker the real
// server had with the same identity (Spec.Identity: the type and what
// keepalived's compare function for it compares; the first match, even one
// an earlier new checker matched too, as keepalived's loop does): its
// verdict if it had reached one (has_run), has_run, its counters and
// schedule, and its spent retries clamped to the new retry (old retry_it
// and new retry both set: min(retry_it, retry-1)). Any other checker is
// new; FILE_CHECK always is, and reads its file at once.
//
// Then keepalived's rules for the checkers that have not reached a verdict
// (new ones, and those that took over one that had not):
//   - at start-up every checker is taken down by its first failure
//     (retry_it = retry), and an alpha checker starts down;
//   - at reload, when a checker of the real server (after the takeover)
//     has failed, or the real server is down and none has run, likewise
//     (alpha: down);
//   - otherwise (a new real server's, or one of a healthy real server) it
//     starts up, alpha or not, and needs retry+1 failures.
//
// m.mu is held.
func (m *Manager) startStates(rk rsKey, rs *config.RealServer, sts, olds []*checkState, start, existed bool, now time.Time) (fresh []*checkState) {
	for _, st := range sts {
		c := st.cfg
		if c.Type == config.CheckFile {
			// keepalived knows a file's state at once, at start and
			// reload alike (set_track_file_checkers_down): the first
			// verdict is taken now, before IPVS is built.
			st.tr = tracker{up: true, weight: -1}
			w, err := st.probe(context.Background())
			st.tr.observe(err == nil, w, c)
			st.next = now.Add(c.DelayLoop)
			continue
		}
		var prev *checkState
		if id, ok := st.spec.Identity(); ok {
			for _, o := range olds {
				if oid, ok := o.spec.Identity(); ok && oid == id {
					prev = o
					break
				}
			}
		}
		if prev == nil {
			st.tr = tracker{up: true, weight: -1}
			st.fresh = true
			fresh = append(fresh, st)
			continue
		}
		st.tr = migrateTracker(prev.tr, c.Retry)
		st.last, st.lastDur, st.lastErr, st.checks, st.failures = prev.last, prev.lastDur, prev.lastErr, prev.checks, prev.failures
		st.shared = prev.shared
		st.next = prev.next
		if prev.running || st.next.IsZero() {
			st.next = now.Add(c.DelayLoop)
		}
	}
	failed, anyRun := false, false
	for _, st := range sts {
		if st.tr.hasRun {
			anyRun = true
			failed = failed || !st.tr.up
		}
	}
	for _, st := range sts {
		if st.tr.hasRun {
			continue
		}
		// The checker's alpha, which config.Load resolves (its own, else
		// its real server's, else its virtual server's): keepalived's
		// checker->alpha.
		alpha := st.cfg.Alpha
		switch {
		case start:
			st.tr.up, st.tr.failures = !alpha, st.cfg.Retry
		case !existed:
			// A new real server's checker: up, retry+1 failures.
		case failed || !m.rsUp[rk] && !anyRun:
			if alpha {
				st.tr.up = false
			}
			st.tr.failures = st.cfg.Retry
		}
	}
	return fresh
}

// migrateTracker is the tracker a checker takes over from prev, the
// state of the checker it replaces at reload (ipwrapper.c
// migrate_checkers): the verdict if prev reached one, else up (a new
// checker's is_up); has_run; spent retries clamped to the new retry; a
// MISC_CHECK's dynamic weight (migrate_misc_check) and a FILE_CHECK's
// delta. An HTTP_GET's pending slow recovery is not carried: keepalived
// has no migrate function for it.
func migrateTracker(prev tracker, retry int) tracker {
	t := tracker{up: true, weight: prev.weight, delta: prev.delta, hasRun: prev.hasRun}
	if prev.hasRun {
		t.up = prev.up
	}
	if prev.failures > 0 && retry > 0 {
		t.failures = min(prev.failures, retry-1)
	}
	return t
}

// omega runs, at shutdown, what keepalived 2.2.7 runs for a virtual
// server with omega (ipwrapper.c clear_service_rs, update_vs_notifies
// with stopping): notify_down of every real server in service (unless
// lvs_flush_onstop, which skips the real servers), then quorum_down.
// Without omega nothing runs at shutdown, as in keepalived.
func (m *Manager) omega() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, vs := range m.vsCfg {
		if !vs.Omega {
			continue
		}
		if m.flushOnStop == "" {
			for _, rs := range vs.RealServers {
				rk := rsKey{key, netip.AddrPortFrom(rs.Addr, rs.Port)}
				if m.rsUp[rk] && rs.NotifyDown != nil {
					m.script(key+" "+rk.RS.String(), rs.NotifyDown)
				}
			}
		}
		if vs.QuorumDown != nil {
			m.script(key, vs.QuorumDown)
		}
	}
}

// poke makes the loop look at the schedule again; m.mu is held.
func (m *Manager) poke() {
	if m.loop != nil {
		m.loop.wake()
	}
}

// recompute derives every real server's and quorum's state from the
// checkers (after Update); it reports whether anything changed. m.mu is
// held.
func (m *Manager) recompute() bool {
	changed, _ := m.recomputeCounting()
	return changed
}

// recomputeCounting is recompute, and counts the configured real servers
// that had a state before (-1 when it cannot tell). It leaves the state
// of real servers no longer configured alone: Update drops it (apply
// recomputes configured real servers only).
func (m *Manager) recomputeCounting() (changed bool, known int) {
	m.byRS = make(map[rsKey][]*checkState, len(m.byRS))
	for _, st := range m.checks {
		rk := st.key.rs()
		m.byRS[rk] = append(m.byRS[rk], st)
	}
	for key := range m.quorum {
		if _, ok := m.vsCfg[key]; !ok {
			delete(m.quorum, key)
		}
	}
	// One pass per virtual server: its real servers' states, then its
	// quorum from them (as recomputeQuorumVS counts, without reading
	// the states back).
	visited := 0
	for key, vs := range m.vsCfg {
		alive := 0
		for _, rs := range vs.RealServers {
			visited++
			c, had, up, w, hasWeight := m.recomputeRSState(rsKey{key, netip.AddrPortFrom(rs.Addr, rs.Port)})
			if c {
				changed = true
			}
			if had {
				known++
			}
			if up {
				if !hasWeight {
					w = rs.Weight
				}
				alive += w
			}
		}
		if m.quorumFrom(key, vs, alive) {
			changed = true
		}
	}
	if !m.distinct || visited != len(m.rsCfg) {
		// Two virtual servers of the same key (or a real server twice):
		// every configured real server gets its state (again: a state
		// depends on its checkers only, so this changes nothing above).
		for rk := range m.rsCfg {
			if m.recomputeRS(rk) {
				changed = true
			}
		}
		known = -1
	}
	return changed, known
}

// recomputeRS derives one real server's state from its checkers: up when
// all pass; misc_dynamic sets its weight. It runs notify_up/notify_down
// on a change. m.mu is held.
func (m *Manager) recomputeRS(rk rsKey) bool {
	changed, _, _, _, _ := m.recomputeRSState(rk)
	return changed
}

// recomputeRSState is recomputeRS, and says whether the real server had
// a state before and its new state: up, and its dynamic weight if it has
// one.
func (m *Manager) recomputeRSState(rk rsKey) (changed, known, up bool, weight int, hasWeight bool) {
	up, weight, hasWeight = true, 0, false
	delta, hasDelta := 0, false
	for _, st := range m.byRS[rk] {
		if !st.tr.up {
			up = false
		}
		if st.tr.weight >= 0 {
			weight, hasWeight = st.tr.weight, true
		}
		if st.tr.delta != 0 {
			delta, hasDelta = delta+st.tr.delta, true
		}
	}
	if hasDelta {
		// FILE_CHECK: keepalived adds each file's weight to the real
		// server's effective weight, which real_weight() keeps within
		// 0..INT32_MAX for the kernel.
		if !hasWeight {
			if rs := m.rsCfg[rk]; rs != nil {
				weight = rs.Weight
			}
		}
		weight, hasWeight = int(min(max(int64(weight)+int64(delta), 0), math.MaxInt32)), true
	}
	prev, known := m.rsUp[rk]
	changed = !known || prev != up
	if changed {
		m.rsUp[rk] = up
	}
	if !known && up && m.rsInitNotifies {
		// rs_init_notifies: keepalived's init_service_rs runs notify_up
		// for a real server it adds with no failed checker (at start, or
		// new at a reload; one kept across a reload has a state).
		if rs := m.rsCfg[rk]; rs != nil && rs.NotifyUp != nil {
			m.script(rk.VS+" "+rk.RS.String(), rs.NotifyUp)
		}
	}
	if known && prev != up {
		m.log.Info("real server", "virtual_server", rk.VS, "real_server", rk.RS.String(), "up", up)
		if rs := m.rsCfg[rk]; rs != nil {
			if s := map[bool]*config.Script{true: rs.NotifyUp, false: rs.NotifyDown}[up]; s != nil {
				m.script(rk.VS+" "+rk.RS.String(), s)
			}
		}
	}
	if hasWeight {
		if old, ok := m.weight[rk]; !ok || old != weight {
			changed = true
		}
		m.weight[rk] = weight
	} else if len(m.weight) > 0 {
		if _, ok := m.weight[rk]; ok {
			delete(m.weight, rk)
			changed = true
		}
	}
	return changed, known, up, weight, hasWeight
}

// recomputeQuorum applies quorum with hysteresis to one virtual server:
// lost below quorum-hysteresis, regained at quorum+hysteresis, as
// keepalived counts it. m.mu is held.
func (m *Manager) recomputeQuorum(key string) bool {
	vs := m.vsCfg[key]
	if vs == nil {
		return false
	}
	return m.recomputeQuorumVS(key, vs)
}

// recomputeQuorumVS is recomputeQuorum of vs, whose key is key.
func (m *Manager) recomputeQuorumVS(key string, vs *config.VirtualServer) bool {
	alive := 0
	for _, rs := range vs.RealServers {
		rk := rsKey{key, netip.AddrPortFrom(rs.Addr, rs.Port)}
		if m.rsUp[rk] {
			w := rs.Weight
			if len(m.weight) > 0 {
				if dw, ok := m.weight[rk]; ok {
					w = dw
				}
			}
			alive += w
		}
	}
	return m.quorumFrom(key, vs, alive)
}

// quorumFrom is recomputeQuorumVS given the weight of vs's live real
// servers.
func (m *Manager) quorumFrom(key string, vs *config.VirtualServer, alive int) bool {
	prev, known := m.quorum[key]
	now := prev
	switch {
	case !known:
		// keepalived starts a virtual server with its quorum down and
		// gains it, with the quorum_up script ("Starting with quorum up"),
		// once its live real servers weigh quorum+hysteresis
		// (init_service_vs: update_quorum_state(vs, true)); starting down
		// runs quorum_down only when a sorry server goes in.
		now = alive >= vs.Quorum+vs.Hysteresis
		m.quorum[key] = now
		if now || vs.SorryServer != nil {
			if s := map[bool]*config.Script{true: vs.QuorumUp, false: vs.QuorumDown}[now]; s != nil {
				m.script(key, s)
			}
		}
		return false
	case prev && alive < vs.Quorum-vs.Hysteresis:
		now = false
	case !prev && alive >= vs.Quorum+vs.Hysteresis:
		now = true
	}
	if now != prev {
		m.quorum[key] = now
	}
	if known && now != prev {
		m.log.Info("quorum", "virtual_server", key, "up", now, "alive_weight", alive)
		if s := map[bool]*config.Script{true: vs.QuorumUp, false: vs.QuorumDown}[now]; s != nil {
			m.script(key, s)
		}
		return true
	}
	return false
}

// script queues a notify_up/down or quorum_up/down script for key (the
// real or virtual server) on the notifier: never waited for here, bounded
// in number, and killed with its process group when Run ends.
func (m *Manager) script(key string, s *config.Script) {
	if m.run == nil {
		return
	}
	m.notifier.Submit(key, script.RunFunc(m.run), s)
}

// Status returns every checker's state, sorted.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.checks))
	for _, st := range m.checks {
		size := 1
		if st.group != nil {
			size = len(st.group.members)
		}
		out = append(out, Status{Key: st.key, Up: st.tr.up, LastCheck: st.last, LastDuration: st.lastDur, LastError: st.lastErr, Checks: st.checks, Failures: st.failures, Unknown: st.unknown, Shared: st.shared, GroupSize: size})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if a.VS != b.VS {
			return a.VS < b.VS
		}
		if a.RS != b.RS {
			return a.RS.String() < b.RS.String()
		}
		return a.Index < b.Index
	})
	return out
}

// Run schedules checks until ctx ends. One loop, like keepalived's,
// runs the schedule and every TCP_CHECK connect on an epoll instance;
// HTTP_GET, SSL_GET and MISC_CHECK probes run on a pool of workers that
// grows while slow probes hold workers (up to maxWorkers) and shrinks when
// they are done. Every probe is bounded by its timeout, so a slow real
// server delays only its own next check.
func (m *Manager) Run(ctx context.Context) {
	conn, err := newConnector()
	if err != nil {
		m.log.Error("health checks cannot run", "err", err)
		<-ctx.Done()
		return
	}
	m.mu.Lock()
	m.loop = conn
	m.mu.Unlock()
	stopWaking := context.AfterFunc(ctx, conn.wake)
	workers := newWorkerPool(ctx, m, conn.wake)
	defer func() {
		m.omega()
		m.notifier.Close(script.StopDrain, script.StopKill)
		stopWaking()
		m.mu.Lock()
		m.loop = nil
		m.mu.Unlock()
		workers.wait()
		conn.close()
	}()

	var due []dueConnect
	var results []result
	var yielded time.Duration
	yieldIfDue := func(now time.Duration) {
		if now-yielded > yieldEvery {
			runtime.Gosched()
			yielded = now
		}
	}
	for ctx.Err() == nil {
		now := time.Now()
		mono := now.Sub(clockBase) // no second clock read
		yieldIfDue(mono)
		due = m.takeDue(mono, due, workers)

		// A bounded batch per round: completions are taken between
		// batches, and a loop that fell behind does not fire thousands of
		// SYNs at once. Each connect's timeout runs from its own start.
		results = results[:0]
		batch := min(len(due), maxConnectBatch)
		for i, c := range due[:batch] {
			started := clock()
			yieldIfDue(started) // a batch takes tens of ms under emulation
			if r, answered := conn.start(c.st, c.dial, c.timeout, started); answered {
				results = append(results, r)
			}
			due[i] = dueConnect{}
		}
		due = append(due[:0], due[batch:]...)
		workers.dispatch()
		for _, r := range results {
			m.handle(r)
		}

		wait := time.Duration(0) // more connects are due
		if len(due) == 0 {
			wait = m.idleWait(conn, mono+time.Since(now)) // the connects above took time
		}
		results = conn.poll(wait, results[:0])
		results = workers.collect(results)
		for i, r := range results {
			m.handle(r)
			results[i] = result{}
		}
	}
}

// dueConnect is a TCP_CHECK waiting for its turn in a connect batch.
type dueConnect struct {
	st      *checkState
	dial    *tcpDial
	timeout time.Duration
}

// takeDue moves the checks due at mono off the schedule: TCP_CHECKs onto
// due for the connector, the others to the workers.
func (m *Manager) takeDue(mono time.Duration, due []dueConnect, workers *workerPool) []dueConnect {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.queue) > 0 && m.queue[0].at <= mono {
		st := m.queue.pop()
		if m.haSuspend.suspended(st.key.VS) {
			// keepalived: a disabled checker's thread only re-arms
			// its timer; the real server keeps its state.
			st.next = clockBase.Add(mono + max(st.cfg.DelayLoop, time.Second))
			m.queue.push(st)
			continue
		}
		st.running = true
		if g := st.group; g != nil {
			if l := g.lead; l != nil && l.running && st.next.Sub(clockBase) <= g.leadAt {
				// A probe of the same target, started no earlier than
				// st was due, is in flight: its result is st's too.
				l.subs = append(l.subs, st)
				m.shared++
				continue
			}
			g.lead, g.leadAt = st, mono
		}
		m.probes++
		if st.dial != nil {
			due = append(due, dueConnect{st, st.dial, probeTimeout(st.cfg)})
		} else {
			workers.pending = append(workers.pending, st)
		}
	}
	return due
}

// idleWait is how long the loop may wait at mono for events: until the
// next check is due or the next connect times out (negative: no limit).
func (m *Manager) idleWait(conn *connector, mono time.Duration) time.Duration {
	wait := time.Duration(-1)
	m.mu.Lock()
	if len(m.queue) > 0 {
		wait = max(m.queue[0].at-mono, 0)
	}
	m.mu.Unlock()
	if deadline, ok := conn.nextDeadline(); ok && (wait < 0 || deadline-mono < wait) {
		wait = max(deadline-mono, 0)
	}
	return wait
}

func (m *Manager) handle(r result) {
	m.mu.Lock()
	st := r.st
	if st.gen != m.gen {
		m.mu.Unlock()
		return // replaced by a reload while running (Update made a new state)
	}
	if g := st.group; g != nil && g.lead == st {
		g.lead = nil
	}
	changed := m.apply(r)
	handled := []*checkState{st}
	if subs := st.subs; len(subs) > 0 {
		// The members that took this probe: the same result, checker by
		// checker, each with its own tracker, real server and counters.
		st.subs = nil
		verdict := r.err == nil || !localResourceError(r.err)
		for _, s := range subs {
			if verdict {
				s.shared++ // one of its Checks
			}
			r.st = s
			if m.apply(r) {
				changed = true
			}
		}
		handled = append(handled, subs...)
	}
	if g := st.group; g != nil && len(g.members) > len(handled) {
		m.align(g, handled, r.at.Add(r.dur)) // when the probe ended
	}
	for _, h := range handled {
		m.queue.push(h)
	}
	m.mu.Unlock()
	if changed {
		m.changed()
	}
}

// apply records one result for r.st and sets its next check (the caller
// puts it back on the schedule); it reports whether a real server's or a
// quorum's state changed. m.mu is held.
func (m *Manager) apply(r result) bool {
	st := r.st
	st.running = false
	st.alignable = false
	if r.err != nil && localResourceError(r.err) {
		m.noVerdict(st, r)
		return false
	}
	if m.localBurst > 0 && r.at.Sub(m.localLast) > localQuiet {
		m.log.Info("health checks have verdicts again after a local resource shortage", "attempts_without_verdict", m.localBurst)
		m.localBurst = 0
	}
	st.checks++
	st.last, st.lastDur = r.at, r.dur
	st.lastErr = ""
	if r.err != nil {
		st.failures++
		st.lastErr = r.err.Error()
		if (st.cfg.LogAllFailures || m.logAllFailures) && logsFailureNow(st) {
			m.log.Info("check failed", "checker", describe(st.cfg, st.rs), "err", r.err)
		}
	}
	firstVerdict := !st.tr.hasRun
	trChanged, next := st.tr.observe(r.ok, r.weight, st.cfg)
	notified := false
	if firstVerdict && st.tr.hasRun && !r.ok && !trChanged {
		// keepalived (update_svr_checker_state → do_rs_notifies): a
		// checker that starts down (alpha) and fails its first check
		// runs the real server's notify_down and writes its "RS ...
		// DOWN" FIFO line, though nothing changed.
		rk := st.key.rs()
		if rs := m.rsCfg[rk]; rs != nil && rs.NotifyDown != nil && !m.rsUp[rk] {
			m.script(rk.VS+" "+rk.RS.String(), rs.NotifyDown)
		}
		if len(m.rsNotifies) < len(m.checks) {
			m.rsNotifies = append(m.rsNotifies, RSNotify{VS: rk.VS, RS: rk.RS, Up: m.rsUp[rk]})
		}
		notified = true // the daemon takes it (TakeRSNotifies)
	}
	st.alignable = st.steady(next)
	if next <= 0 {
		next = time.Second
	}
	// From when the check ended, as keepalived's timer does; r says when,
	// so the clock is not read again.
	st.next = r.at.Add(r.dur + next)
	changed := false
	if trChanged {
		rk := st.key.rs()
		changed = m.recomputeRS(rk)
		if m.recomputeQuorum(rk.VS) {
			changed = true // the sorry server comes or goes
		}
	}
	return changed || notified
}

// RSNotify is a real server's notification that no state change carries
// (keepalived's do_rs_notifies for a checker's first verdict that
// confirms the state it started in): its FIFO line.
type RSNotify struct {
	VS string // the virtual server's Key
	RS netip.AddrPort
	Up bool
}

// TakeRSNotifies returns the notifications since the last call.
func (m *Manager) TakeRSNotifies() []RSNotify {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.rsNotifies
	m.rsNotifies = nil
	return out
}

// logsFailureNow: with log_all_failures, keepalived 2.2.7 logs a failed
// check only while the checker is up (check_tcp.c, check_udp.c,
// check_ping.c), or, for HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK and
// DNS_CHECK, also before its first verdict (checker->is_up ||
// !checker->has_run): not every failure of a real server that is down.
func logsFailureNow(st *checkState) bool {
	switch st.cfg.Type {
	case config.CheckTCP, config.CheckUDP, config.CheckPing:
		return st.tr.up
	}
	return st.tr.up || !st.tr.hasRun
}

// noVerdict records an attempt that could not run for want of a local
// resource: the tracker (and so the real server) is left as it is, and
// the check is tried again after delay_before_retry. m.mu is held.
func (m *Manager) noVerdict(st *checkState, r result) {
	st.unknown++
	st.lastErr = r.err.Error()
	if m.localBurst == 0 {
		m.log.Warn("health check skipped: no local resource to run it; real servers keep their state until checks run again",
			"checker", describe(st.cfg, st.rs), "err", r.err)
	}
	m.localBurst++
	m.localLast = r.at
	next := st.cfg.DelayBeforeRetry
	if next <= 0 {
		next = time.Second
	}
	st.next = r.at.Add(r.dur + next)
}

// probeTimeout bounds one check attempt.
func probeTimeout(c *config.Checker) time.Duration {
	timeout := c.ConnectTimeout
	if c.Type == config.CheckMisc && c.MiscTimeout > 0 {
		timeout = c.MiscTimeout
	}
	if c.Type == config.CheckSMTP {
		// connect_timeout bounds each of its seven steps (connect, three
		// reads, three writes), as keepalived's per-event timers do.
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		return 7 * timeout
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return timeout
}

// maxConnectBatch bounds the TCP_CHECK connects started per loop round.
const maxConnectBatch = 64

// yieldEvery is how often the loop passes through the Go scheduler. Its
// raw system calls and epoll waits never do, and a goroutine the scheduler
// has not seen for 10 ms is preempted: with a signal while it connects,
// or by having its processor taken in the middle of an epoll wait, and
// each time the runtime's monitor thread starts polling every 20 µs again.
const yieldEvery = 2 * time.Millisecond

// maxWorkers bounds concurrent probes; each is bounded by its timeout.
const maxWorkers = 4096

// checkHeap orders the checkers by when they are due. The due time sits
// in the heap's own array so that comparisons, the bulk of the scheduling
// work with 10,000 checkers, do not chase a pointer per comparison.
type checkHeap []queued

type queued struct {
	at time.Duration // st.next as monotonic time since clockBase
	st *checkState
}

// push schedules st at st.next.
func (h *checkHeap) push(st *checkState) {
	q := append(*h, queued{at: st.next.Sub(clockBase), st: st})
	item, i := q[len(q)-1], len(q)-1
	for i > 0 {
		parent := (i - 1) / 2
		if q[parent].at <= item.at {
			break
		}
		q[i] = q[parent]
		i = parent
	}
	q[i] = item
	*h = q
}

// pop removes and returns the checker due first; h must not be empty.
// (A typed heap rather than container/heap: its interface calls could
// not be inlined and were most of the loop's own CPU with 10,000
// checkers.)
func (h *checkHeap) pop() *checkState {
	q := *h
	first, last := q[0].st, q[len(q)-1]
	q[len(q)-1] = queued{}
	q = q[:len(q)-1]
	if n := len(q); n > 0 {
		i := 0
		for {
			child := 2*i + 1
			if child >= n {
				break
			}
			if right := child + 1; right < n && q[right].at < q[child].at {
				child = right
			}
			if last.at <= q[child].at {
				break
			}
			q[i] = q[child]
			i = child
		}
		q[i] = last
	}
	*h = q
	return first
}

// Snapshot is the checkers' verdicts at one moment, read without locks:
// building a 30,000-real-server table must not contend with the checkers.
// It is the ipvs.Health the desired table is built from. It holds the
// exceptions only (a real server or virtual server it does not name is
// up): the real servers down, the quorums lost, the dynamic weights.
type Snapshot struct {
	down       map[rsKey]struct{}
	weight     map[rsKey]int
	quorumDown map[string]struct{}
}

// Snapshot copies the current state.
func (m *Manager) Snapshot() *Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &Snapshot{weight: maps.Clone(m.weight)}
	for rk, up := range m.rsUp {
		if !up {
			if s.down == nil {
				s.down = map[rsKey]struct{}{}
			}
			s.down[rk] = struct{}{}
		}
	}
	for key, up := range m.quorum {
		if !up {
			if s.quorumDown == nil {
				s.quorumDown = map[string]struct{}{}
			}
			s.quorumDown[key] = struct{}{}
		}
	}
	return s
}

func (s *Snapshot) RealServerUp(vs *config.VirtualServer, rs *config.RealServer) bool {
	return s.RealServerUpKey(vs.Key(), rs)
}

func (s *Snapshot) RealServerWeight(vs *config.VirtualServer, rs *config.RealServer) (int, bool) {
	return s.RealServerWeightKey(vs.Key(), rs)
}

func (s *Snapshot) QuorumUp(vs *config.VirtualServer) bool {
	return s.QuorumUpKey(vs.Key())
}

// RealServerUpKey is RealServerUp for the virtual server whose Key is
// vsKey: a caller that asks for each real server of a virtual server
// builds its key once (ipvs.DesiredTable).
func (s *Snapshot) RealServerUpKey(vsKey string, rs *config.RealServer) bool {
	if len(s.down) == 0 {
		return true
	}
	_, down := s.down[rsKey{vsKey, netip.AddrPortFrom(rs.Addr, rs.Port)}]
	return !down
}

// RealServerWeightKey is RealServerWeight by the virtual server's Key.
func (s *Snapshot) RealServerWeightKey(vsKey string, rs *config.RealServer) (int, bool) {
	if len(s.weight) == 0 {
		return 0, false
	}
	w, ok := s.weight[rsKey{vsKey, netip.AddrPortFrom(rs.Addr, rs.Port)}]
	return w, ok
}

// QuorumUpKey is QuorumUp by the virtual server's Key.
func (s *Snapshot) QuorumUpKey(vsKey string) bool {
	_, down := s.quorumDown[vsKey]
	return !down
}

// Uniform says every real server is up at its configured weight and
// every quorum holds: the answers do not depend on the server asked about.
func (s *Snapshot) Uniform() bool {
	return len(s.down) == 0 && len(s.weight) == 0 && len(s.quorumDown) == 0
}
