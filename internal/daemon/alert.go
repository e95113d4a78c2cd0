package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lvsd/lvsd/internal/alert"
	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/vrrp"
)

// alertHooks turns VRRP transitions and checker verdicts into keepalived's
// e-mail alerts (internal/alert). It watches what the router and the
// checkers report (their Status), so neither waits on it: the router's
// transitions are read on a goroutine of its own, the checkers' verdicts
// on the checker scheduler's callback, and mails go out from the
// sender's bounded queue.
type alertHooks struct {
	sender *alert.Sender
	host   alert.Host

	mu       sync.Mutex
	cfg      *config.Config
	lastInst map[string]string // instance -> state last seen
	lastChk  map[check.Key]bool
	// lastQuorum and lastSnap: the virtual servers' quorum and the real
	// servers' state last seen.
	lastQuorum map[string]bool
	lastSnap   *check.Snapshot
	// reloadedFrom is the configuration a reload replaced, until
	// checksStarted has written the real servers the reload turned.
	reloadedFrom *config.Config
	// events are the router's events (vrrp.Event) not yet written, in
	// order; the watcher writes them after the states it reads.
	events []vrrp.Event

	// The notify FIFOs (nil when not configured): VRRP lines go to
	// fifoAll and fifoVRRP, LVS lines to fifoAll and fifoLVS.
	// fifoMu guards the three pointers (a reload or the stop replaces
	// them while the VRRP watcher writes).
	fifoMu                     sync.Mutex
	fifoAll, fifoVRRP, fifoLVS *alert.FIFO
	log                        *slog.Logger
	lastPrio                   map[string]int

	stopOnce sync.Once

	router atomic.Pointer[vrrp.Router]
	wake   chan struct{}
	done   chan struct{}
	// checks and checksWake: the checker side's changes, diffed on a
	// goroutine of its own (watchChecks) so that the checker scheduler
	// never waits for a walk over every checker; changes that come
	// while a diff runs are taken in the next one.
	checks     atomic.Pointer[check.Manager]
	checksWake chan struct{}
}

// newAlertHooks starts the sender and the VRRP watcher; they end with ctx.
func newAlertHooks(ctx context.Context, cfg *config.Config, log *slog.Logger) *alertHooks {
	h := &alertHooks{host: alert.LocalHost(), cfg: cfg, log: log, lastPrio: map[string]int{}, lastInst: map[string]string{}, lastChk: map[check.Key]bool{}, lastQuorum: map[string]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), checksWake: make(chan struct{}, 1)}
	h.sender = alert.New(alert.SpecFrom(cfg, h.host), log)
	h.openFIFOs(cfg)
	go h.sender.Run(ctx)
	go func() { defer close(h.done); h.watchVRRP(ctx) }()
	go h.watchChecks(ctx)
	return h
}

// update installs a reloaded configuration.
func (h *alertHooks) update(cfg *config.Config) {
	if h == nil {
		return
	}
	h.mu.Lock()
	old, snap := h.cfg, h.lastSnap
	h.cfg, h.reloadedFrom = cfg, old
	h.mu.Unlock()
	h.removedRealServers(old, cfg, snap)
	h.sender.Update(alert.SpecFrom(cfg, h.host))
	g := &cfg.Global
	h.fifoMu.Lock()
	if !h.fifoAll.Same(g.NotifyFIFO) || !h.fifoVRRP.Same(g.VRRPNotifyFIFO) || !h.fifoLVS.Same(g.LVSNotifyFIFO) {
		h.closeFIFOs()
		h.openFIFOs(cfg)
	}
	h.fifoMu.Unlock()
	if g.FIFOWriteVRRPStatesOnReload {
		// keepalived writes every instance's and group's state again.
		h.mu.Lock()
		var lines []string
		for _, in := range cfg.Instances {
			if st, ok := h.lastInst[in.Name]; ok {
				lines = append(lines, alert.InstanceLine(in.Name, st, h.lastPrio[in.Name]))
			}
		}
		for _, sg := range cfg.SyncGroups {
			if len(sg.Members) > 0 {
				if st, ok := h.lastInst[sg.Members[0]]; ok {
					lines = append(lines, alert.GroupLine(sg.Name, st))
				}
			}
		}
		h.mu.Unlock()
		for _, l := range lines {
			h.vrrpLine(l)
		}
	}
}

// openFIFOs opens the notify FIFOs as keepalived does, a FIFO named for
// both the global and a specific one serving as the global one only.
// h.fifoMu is held (or h not yet shared).
func (h *alertHooks) openFIFOs(cfg *config.Config) {
	g := &cfg.Global
	h.fifoAll = alert.OpenFIFO(g.NotifyFIFO, "", alert.StartScript, h.log)
	vrrpCfg, lvsCfg := g.VRRPNotifyFIFO, g.LVSNotifyFIFO
	if vrrpCfg != nil && g.NotifyFIFO != nil && vrrpCfg.Path == g.NotifyFIFO.Path {
		h.log.Info("notify FIFO has been specified for global and vrrp FIFO - ignoring vrrp FIFO", "fifo", vrrpCfg.Path)
		vrrpCfg = nil
	}
	if lvsCfg != nil && g.NotifyFIFO != nil && lvsCfg.Path == g.NotifyFIFO.Path {
		h.log.Info("notify FIFO has been specified for global and LVS FIFO - ignoring LVS FIFO", "fifo", lvsCfg.Path)
		lvsCfg = nil
	}
	h.fifoVRRP = alert.OpenFIFO(vrrpCfg, "vrrp_", alert.StartScript, h.log)
	if lvsCfg != nil && vrrpCfg != nil && lvsCfg.Path == vrrpCfg.Path {
		// One FIFO for both (keepalived opens it twice and runs the
		// vrrp script only).
		h.fifoLVS = h.fifoVRRP
		return
	}
	h.fifoLVS = alert.OpenFIFO(lvsCfg, "lvs_", alert.StartScript, h.log)
}

func (h *alertHooks) closeFIFOs() {
	h.fifoAll.Close()
	h.fifoVRRP.Close()
	if h.fifoLVS != h.fifoVRRP {
		h.fifoLVS.Close()
	}
	h.fifoAll, h.fifoVRRP, h.fifoLVS = nil, nil, nil
}

func (h *alertHooks) vrrpLine(l string) {
	h.fifoMu.Lock()
	a, v := h.fifoAll, h.fifoVRRP
	h.fifoMu.Unlock()
	a.Write(l)
	v.Write(l)
}

func (h *alertHooks) lvsLine(l string) {
	h.fifoMu.Lock()
	a, v := h.fifoAll, h.fifoLVS
	h.fifoMu.Unlock()
	a.Write(l)
	v.Write(l)
}

// stop writes STOP for every instance and sync group to the VRRP FIFOs,
// as keepalived's notify_shutdown does (its STOP mails are lost at exit:
// none is sent), and closes the FIFOs; once. Call it after the router
// stopped; the end of the run's context calls it too (from the VRRP
// watcher), for a daemon that does not.
func (h *alertHooks) stop() {
	if h == nil {
		return
	}
	h.stopOnce.Do(h.doStop)
}

func (h *alertHooks) doStop() {
	h.mu.Lock()
	cfg := h.cfg
	var lines []string
	for _, in := range cfg.Instances {
		if _, ok := h.lastInst[in.Name]; ok {
			lines = append(lines, alert.InstanceLine(in.Name, alert.StateStopped, h.lastPrio[in.Name]))
		}
	}
	for _, sg := range cfg.SyncGroups {
		if len(sg.Members) > 0 {
			if _, ok := h.lastInst[sg.Members[0]]; ok {
				lines = append(lines, alert.GroupLine(sg.Name, alert.StateStopped))
			}
		}
	}
	lvsLines := h.omegaLines(cfg)
	h.mu.Unlock()
	for _, l := range lines {
		h.vrrpLine(l)
	}
	for _, l := range lvsLines {
		h.lvsLine(l)
	}
	h.fifoMu.Lock()
	h.closeFIFOs()
	h.fifoMu.Unlock()
}

// omegaLines are the LVS FIFO lines keepalived's checker writes at
// shutdown for each virtual server with omega (ipwrapper.c
// clear_service_rs and update_vs_notifies with stopping): each real
// server in service DOWN, unless lvs_flush_onstop, then the quorum DOWN.
// Without omega it writes none. Its mails then are lost at exit; lvsd
// sends none either. h.mu is held.
func (h *alertHooks) omegaLines(cfg *config.Config) []string {
	snap := h.lastSnap
	if snap == nil {
		return nil
	}
	var lines []string
	for _, vs := range cfg.VirtualServers {
		if !vs.Omega {
			continue
		}
		name := h.sender.Spec().Names[vs.Key()]
		if cfg.Global.LVSFlushOnStop == "" {
			for _, rs := range vs.RealServers {
				if snap.RealServerUp(vs, rs) {
					lines = append(lines, alert.RSLine(netip.AddrPortFrom(rs.Addr, rs.Port), name, false))
				}
			}
		}
		lines = append(lines, alert.VSLine(name, false))
	}
	return lines
}

// stats are the sender's counters (nil-safe, for the metrics).
func (h *alertHooks) stats() alert.Stats {
	if h == nil {
		return alert.Stats{}
	}
	return h.sender.Stats()
}

// vrrpChanged is called on the router's goroutine after a transition
// (vrrp.Router.OnTransition): it only wakes the watcher, which reads the
// router's Status (that call goes through the router's goroutine).
func (h *alertHooks) vrrpChanged(r *vrrp.Router) {
	if h == nil {
		return
	}
	h.router.Store(r)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// vrrpEvent is called on the router's goroutine for a vrrp.Event
// (vrrp.Router.OnEvent): it queues the FIFO line for the watcher.
func (h *alertHooks) vrrpEvent(r *vrrp.Router, ev vrrp.Event) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
	h.vrrpChanged(r)
}

// writeEvents writes the queued events' lines: `INSTANCE "VI_1"
// MASTER_PRIORITY 90`, as keepalived's notify_fifo.
func (h *alertHooks) writeEvents() {
	h.mu.Lock()
	evs := h.events
	h.events = nil
	h.mu.Unlock()
	for _, ev := range evs {
		h.vrrpLine(alert.InstanceLine(ev.Instance, ev.FIFOState(), ev.Priority))
		if ev.Kind == vrrp.EventRemoved {
			h.mu.Lock()
			delete(h.lastInst, ev.Instance)
			h.mu.Unlock()
			h.sender.InstanceRemoved(ev.Instance, ev.FIFOState(), ev.SMTPAlert)
		}
	}
}

func (h *alertHooks) watchVRRP(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			// The run ends (lvsd stops): the STOP lines, as
			// keepalived's notify_shutdown, unless stop() ran first.
			h.stop()
			return
		case <-h.wake:
		}
		// A router stopped by a reload reports no status, but the
		// instances it removed left events (EventRemoved) to write.
		if r := h.router.Load(); r != nil {
			if st := r.Status(); st != nil {
				h.instances(st)
			}
		}
		h.writeEvents()
	}
}

// instances mails each instance whose state changed, then each sync
// group whose first member (the one that runs the group's notify
// scripts) changed.
func (h *alertHooks) instances(st []vrrp.InstanceStatus) {
	h.mu.Lock()
	cfg := h.cfg
	changed := map[string]string{}
	prio := map[string]int{}
	for _, s := range st {
		h.lastPrio[s.Name], prio[s.Name] = s.Priority, s.Priority
		if h.lastInst[s.Name] != s.State {
			h.lastInst[s.Name] = s.State
			changed[s.Name] = s.State
		}
	}
	h.mu.Unlock()
	for _, in := range cfg.Instances {
		if state, ok := changed[in.Name]; ok {
			h.vrrpLine(alert.InstanceLine(in.Name, state, prio[in.Name]))
			h.sender.InstanceState(in.Name, state)
		}
	}
	for _, g := range cfg.SyncGroups {
		if len(g.Members) == 0 {
			continue
		}
		if state, ok := changed[g.Members[0]]; ok {
			h.vrrpLine(alert.GroupLine(g.Name, state))
			h.sender.GroupState(g.Name, state)
		}
	}
}

// checksStarted records the checkers' first states (alpha ones start
// down) and the virtual servers' quorum, so that the first verdict that
// changes one is mailed. Call it after check.Manager.Update.
func (h *alertHooks) checksStarted(m *check.Manager) {
	if h == nil || m == nil {
		return
	}
	st, snap := m.Status(), m.Snapshot()
	h.mu.Lock()
	// Every checker's state as it starts: a reload matches checkers by
	// identity, not position (check.Manager.Update), so the checker now
	// at a key may not be the one whose state was recorded there, and a
	// reload is no checker's turn (keepalived mails none).
	for _, s := range st {
		h.lastChk[s.Key] = s.Up
	}
	lines := h.initNotifies(snap)
	lines = append(lines, h.reloadTurns(snap)...)
	var qturns []quorumTurn
	for _, vs := range h.cfg.VirtualServers {
		if _, ok := h.lastQuorum[vs.Key()]; !ok {
			up := snap.QuorumUp(vs)
			h.lastQuorum[vs.Key()] = up
			if q, ok := startingQuorum(vs, up, snap); ok {
				qturns = append(qturns, q)
			}
		}
	}
	h.lastSnap = snap
	h.mu.Unlock()
	for _, l := range lines {
		h.lvsLine(l)
	}
	h.quorumTurns(qturns)
}

// initNotifies are the LVS FIFO lines of rs_init_notifies: keepalived
// 2.2.7's init_service_rs writes "RS ... UP" (do_rs_notifies) for each
// real server it adds up, that is with no failed checker: at start every
// one, at a reload those new to the configuration (one kept keeps its
// state and writes nothing). They come before the quorum lines, as
// update_quorum_state runs after. h.mu is held.
func (h *alertHooks) initNotifies(snap *check.Snapshot) []string {
	if !h.cfg.Global.RSInitNotifies || !h.hasLVSFIFO() {
		return nil
	}
	var kept map[rsID]bool
	if h.reloadedFrom != nil {
		kept = realServerIDs(h.reloadedFrom)
	}
	var lines []string
	for _, vs := range h.cfg.VirtualServers {
		name := h.sender.Spec().Names[vs.Key()]
		for _, rs := range vs.RealServers {
			ap := netip.AddrPortFrom(rs.Addr, rs.Port)
			if !kept[rsID{vs.Key(), ap}] && snap.RealServerUp(vs, rs) {
				lines = append(lines, alert.RSLine(ap, name, true))
			}
		}
	}
	return lines
}

// reloadTurns are the LVS FIFO lines of the real servers a reload turned
// although they stay: keepalived 2.2.7's migrate_checkers ends with
// perform_svr_state for a kept real server whose failed checkers are all
// gone (a new connect_timeout makes a new checker), which writes its
// "RS ... UP" line (do_rs_notifies), and likewise the other way. h.mu is
// held.
func (h *alertHooks) reloadTurns(snap *check.Snapshot) []string {
	old, prev := h.reloadedFrom, h.lastSnap
	h.reloadedFrom = nil
	if old == nil || prev == nil || !h.hasLVSFIFO() {
		return nil
	}
	kept := realServerIDs(old)
	var lines []string
	for _, vs := range h.cfg.VirtualServers {
		name := h.sender.Spec().Names[vs.Key()]
		for _, rs := range vs.RealServers {
			ap := netip.AddrPortFrom(rs.Addr, rs.Port)
			if !kept[rsID{vs.Key(), ap}] {
				continue
			}
			if was, now := prev.RealServerUp(vs, rs), snap.RealServerUp(vs, rs); was != now {
				lines = append(lines, alert.RSLine(ap, name, now))
			}
		}
	}
	return lines
}

// hasLVSFIFO: a notify FIFO takes LVS lines.
func (h *alertHooks) hasLVSFIFO() bool {
	h.fifoMu.Lock()
	defer h.fifoMu.Unlock()
	return h.fifoAll != nil || h.fifoLVS != nil
}

// quorumTurn is a virtual server whose quorum turned (init: its first
// state, at start or when a reload adds it).
type quorumTurn struct {
	vs        *config.VirtualServer
	up, init  bool
	threshold int64
	sum       int64
}

// startingQuorum is keepalived's notification of a virtual server's first
// quorum state (init_service_vs → update_quorum_state(vs, true)): the
// quorum starts down, so "Starting with quorum up" when it is up, and
// "Starting with quorum down" only when a sorry server goes in; the
// threshold is quorum+hysteresis either way.
func startingQuorum(vs *config.VirtualServer, up bool, snap *check.Snapshot) (quorumTurn, bool) {
	if !up && vs.SorryServer == nil {
		return quorumTurn{}, false
	}
	return quorumTurn{vs: vs, up: up, init: true, threshold: int64(vs.Quorum + vs.Hysteresis), sum: liveWeight(vs, snap)}, true
}

// liveWeight is weigh_live_realservers: the live real servers' weights.
func liveWeight(vs *config.VirtualServer, snap *check.Snapshot) int64 {
	var sum int64
	for _, rs := range vs.RealServers {
		if snap.RealServerUp(vs, rs) {
			w := rs.Weight
			if dw, ok := snap.RealServerWeight(vs, rs); ok {
				w = dw
			}
			sum += int64(w)
		}
	}
	return sum
}

// quorumTurns writes each turn's line to the LVS FIFOs and mails it.
func (h *alertHooks) quorumTurns(qturns []quorumTurn) {
	for _, q := range qturns {
		h.lvsLine(alert.VSLine(h.sender.Spec().Names[q.vs.Key()], q.up))
	}
	for _, q := range qturns {
		h.sender.QuorumChange(q.vs.Key(), q.up, q.init, q.vs.Quorum, q.vs.Hysteresis, q.threshold, q.sum)
	}
}

// checksChanged is called on the checker scheduler's callback after a
// real server's state or a quorum changed: each checker that turned is
// mailed with its real server's state before and after, and each virtual
// server whose quorum turned.
func (h *alertHooks) checksChanged(m *check.Manager) {
	if h == nil || m == nil {
		return
	}
	h.checks.Store(m)
	select {
	case h.checksWake <- struct{}{}:
	default:
	}
}

// watchChecks diffs the checkers' states after each wake, until ctx ends.
func (h *alertHooks) watchChecks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.checksWake:
		}
		if m := h.checks.Load(); m != nil {
			h.diffChecks(m)
		}
	}
}

// diffChecks mails each checker that turned since the last diff.
func (h *alertHooks) diffChecks(m *check.Manager) {
	st, snap, notifies := m.Status(), m.Snapshot(), m.TakeRSNotifies()
	h.mu.Lock()
	cfg, prev := h.cfg, h.lastSnap
	h.lastSnap = snap
	type rsRef struct {
		vs *config.VirtualServer
		rs *config.RealServer
	}
	// Built at the first turn or notification only: with tens of
	// thousands of real servers the map is most of a diff's work, and a
	// stop waits for a diff in progress (h.mu).
	var refs map[rsID]rsRef
	ref := func(id rsID) (rsRef, bool) {
		if refs == nil {
			refs = map[rsID]rsRef{}
			for _, vs := range cfg.VirtualServers {
				for _, rs := range vs.RealServers {
					refs[rsID{vs.Key(), netip.AddrPortFrom(rs.Addr, rs.Port)}] = rsRef{vs, rs}
				}
			}
		}
		r, ok := refs[id]
		return r, ok
	}
	type turn struct {
		key            check.Key
		up, was, isNow bool
		lastErr        string
	}
	var turns []turn
	for _, s := range st {
		if up, ok := h.lastChk[s.Key]; ok && up != s.Up {
			t := turn{key: s.Key, up: s.Up, was: !s.Up, isNow: s.Up, lastErr: s.LastError}
			if r, ok := ref(rsID{s.Key.VS, s.Key.RS}); ok {
				t.isNow = snap.RealServerUp(r.vs, r.rs)
				if prev != nil {
					t.was = prev.RealServerUp(r.vs, r.rs)
				}
			}
			turns = append(turns, t)
		}
		h.lastChk[s.Key] = s.Up
	}
	var qturns []quorumTurn
	for _, vs := range cfg.VirtualServers {
		up := snap.QuorumUp(vs)
		was, ok := h.lastQuorum[vs.Key()]
		h.lastQuorum[vs.Key()] = up
		if !ok {
			// A virtual server seen first here (a reload added it and
			// this diff ran before checksStarted).
			if q, ok := startingQuorum(vs, up, snap); ok {
				qturns = append(qturns, q)
			}
			continue
		}
		if was == up {
			continue
		}
		// keepalived's update_quorum_state: the threshold crossed is
		// quorum+hysteresis going up, quorum-hysteresis going down.
		th := int64(vs.Quorum - vs.Hysteresis)
		if up {
			th = int64(vs.Quorum + vs.Hysteresis)
		}
		qturns = append(qturns, quorumTurn{vs: vs, up: up, threshold: th, sum: liveWeight(vs, snap)})
	}
	// The FIFO lines: each real server that turned, each quorum.
	var lines []string
	if prev != nil && h.hasLVSFIFO() {
		for _, vs := range cfg.VirtualServers {
			spec := h.sender.Spec().Names[vs.Key()]
			for _, rs := range vs.RealServers {
				if was, now := prev.RealServerUp(vs, rs), snap.RealServerUp(vs, rs); was != now {
					lines = append(lines, alert.RSLine(netip.AddrPortFrom(rs.Addr, rs.Port), spec, now))
				}
			}
		}
	}
	for _, n := range notifies {
		if r, ok := ref(rsID{n.VS, n.RS}); ok {
			lines = append(lines, alert.RSLine(n.RS, h.sender.Spec().Names[r.vs.Key()], n.Up))
		}
	}
	h.mu.Unlock()
	for _, l := range lines {
		h.lvsLine(l)
	}
	for _, t := range turns {
		h.sender.CheckerChangeBody(t.key.VS, t.key.RS, checkerBody(t.key.Type, t.up, t.lastErr), t.was, t.isNow)
	}
	h.quorumTurns(qturns)
}

type rsID struct {
	vs string
	rs netip.AddrPort
}

// realServerIDs is the set of cfg's real servers.
func realServerIDs(cfg *config.Config) map[rsID]bool {
	ids := map[rsID]bool{}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			ids[rsID{vs.Key(), netip.AddrPortFrom(rs.Addr, rs.Port)}] = true
		}
	}
	return ids
}

// removedRealServers: a real server in service that a reload removes (or
// whose virtual server it removes) is written DOWN to the LVS FIFOs and
// mailed "=> Removing <=" under the old configuration's smtp_alert, as
// keepalived's clear_service_rs does. Call it before the new spec is
// installed.
func (h *alertHooks) removedRealServers(old, cfg *config.Config, snap *check.Snapshot) {
	if old == nil || snap == nil {
		return
	}
	if !h.hasLVSFIFO() && !h.sender.Spec().MailsRealServers() {
		return // nobody to tell: no walk over every real server on each reload
	}
	keep := realServerIDs(cfg)
	names := h.sender.Spec().Names
	for _, vs := range old.VirtualServers {
		for _, rs := range vs.RealServers {
			id := rsID{vs.Key(), netip.AddrPortFrom(rs.Addr, rs.Port)}
			if keep[id] || !snap.RealServerUp(vs, rs) {
				continue
			}
			h.lvsLine(alert.RSLine(id.rs, names[id.vs], false))
			h.sender.RealServerRemoved(id.vs, id.rs, false)
		}
	}
}

// checkerBody is the mail body of a checker's turn: alert.CheckerBody,
// but a MISC_CHECK script that ran out of time says "timed out", as
// check_misc.c does.
func checkerBody(typ config.CheckerType, up bool, lastErr string) string {
	if typ == config.CheckMisc && !up && strings.Contains(lastErr, context.DeadlineExceeded.Error()) {
		return alert.MiscBody("timed out")
	}
	return alert.CheckerBody(typ, up)
}

// fifoDropped counts the notify FIFO lines dropped because a pipe was
// full (for a metric; nil-safe).
func (h *alertHooks) fifoDropped() uint64 {
	if h == nil {
		return 0
	}
	h.fifoMu.Lock()
	defer h.fifoMu.Unlock()
	n := h.fifoAll.Dropped() + h.fifoVRRP.Dropped()
	if h.fifoLVS != h.fifoVRRP {
		n += h.fifoLVS.Dropped()
	}
	return n
}
