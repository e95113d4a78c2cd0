package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
	"github.com/lvsd/lvsd/internal/script"
)

// Platform is everything the router does to the machine. The real one is
// Host(); tests substitute their own.
type Platform interface {
	Listen(dev string, v6 bool, group netip.Addr, unicastTTL int) (Conn, error)
	AddVIP(netif.VIP) error
	DelVIP(netif.VIP) error
	GARP(dev string, ip netip.Addr) error
	PrimaryAddr(dev string, v6 bool) (netip.Addr, error)
	LinkUp(dev string) (bool, error)
	// LinkIndex is dev's interface index; a new index under the same
	// name means the interface was deleted and created again.
	LinkIndex(dev string) (int, error)
	// WatchLinks reports link changes by name until done closes.
	WatchLinks(done <-chan struct{}, changed func(dev string)) error
	// Run executes a notify or track script and returns its exit code.
	Run(ctx context.Context, s *config.Script, args ...string) (int, error)
}

// Stats are one instance's counters.
type Stats struct {
	AdvertsSent     uint64
	AdvertsReceived uint64
	Transitions     uint64
	GARPsSent       uint64
	// NotifyDropped counts transitions whose notify scripts were dropped
	// because the instance flapped faster than they ran.
	NotifyDropped uint64
	// BecomeMaster and ReleaseMaster count entries into and exits from
	// MASTER; PriorityZeroSent and PriorityZeroReceived count adverts
	// of priority 0 (a master letting go). keepalived's stats file and
	// its exporter report the same four counters.
	BecomeMaster         uint64
	ReleaseMaster        uint64
	PriorityZeroSent     uint64
	PriorityZeroReceived uint64
	Drops                map[DropReason]uint64
}

// InstanceStatus is what `lvsd status` and the metrics show of an instance.
type InstanceStatus struct {
	Name           string
	Interface      string
	VRID           int
	State          string
	Priority       int
	BasePriority   int
	MasterAddr     string
	MasterPriority int
	LastTransition time.Time
	VIPs           []string
	Stats          Stats
}

// Router runs every VRRP instance of a configuration in one goroutine:
// packets, timers, link changes and script results are events into it.
type Router struct {
	log  *slog.Logger
	plat Platform
	now  func() time.Time
	cfg  *config.Config

	insts   []*instance
	socks   map[sockKey]*sock
	scripts map[string]*scriptState
	links   map[string]linkState
	// files are the track files the instances use (trackfile.go);
	// filePoll is how often they are read (0: track.PollInterval).
	// prevStatic is what the previous router's static_* installed.
	prevStatic *staticSet
	files      map[string]*fileState
	filePoll   time.Duration
	// procs is the quorum of each tracked process (trackprocess.go),
	// scanned from procRoot ("": /proc) every procPoll.
	procs    map[string]bool
	procPoll time.Duration
	procRoot string

	events chan func()
	// readers are the socket read loops: Run waits for them, they end
	// the moment their socket closes. scriptLoops run track scripts:
	// Stop waits for them (the runner kills a script's process group
	// when cancelled), a reload does not.
	readers     sync.WaitGroup
	scriptLoops sync.WaitGroup
	stopCh      chan struct{}
	stopOnce    sync.Once
	done        chan struct{}
	// notifier runs notify scripts; it moves to the next router on a
	// reload and is closed by the router that stops for good.
	notifier *script.Notifier
	// onTransition, if set, is called on the router's goroutine after any
	// instance changes state; it must not block.
	onTransition func()
	// startDelayEnd is when vrrp_startup_delay, counted from lvsd's start,
	// ends (SetStartupDelayEnd); zero: none.
	startDelayEnd time.Time
	// onEvent, if set, is called on the router's goroutine for the events
	// keepalived writes to its notify FIFOs besides states (events.go).
	onEvent func(Event)

	// keep, set by StopHandingOver, names the instances that stop quietly
	// and go to the successor in handoff; adopted holds what this router
	// took over from its predecessor.
	keep        map[InstanceKey]bool
	handingOver bool
	handoff     *Handoff
	adopted     map[*instance]*handed
}

type sockKey struct {
	dev     string
	v6      bool
	unicast bool
	ah      bool // IPSEC-AH (IP protocol 51) rather than plain VRRP
	// group: a multicast socket's group (mcast_dst_ip gives an instance
	// its own); keepalived's socket pool is keyed on it too.
	group netip.Addr
}

type sock struct {
	key   sockKey
	group netip.Addr
	ttl   int
	index int // of the interface the socket was opened on
	conn  Conn
	// keys: an AH socket's keys and counters, kept across a reopen.
	keys *AHKeys
	// insts are the instances by VRID: one, or unicast instances with
	// distinct peers.
	insts map[uint8][]*instance
	// dead: the socket's interface is gone or was replaced by another of
	// the same name; nothing sent on it leaves. Its instances are held
	// in FAULT until it is opened again on the interface now there.
	dead bool
}

// linkState is what the router last saw of an interface; index 0 means
// it does not exist.
type linkState struct {
	up    bool
	index int
}

type instance struct {
	cfg      *config.Instance
	m        *Machine
	acc      Acceptance
	sock     *sock
	src      netip.Addr
	dsts     []netip.Addr
	group    []*instance // other members of its sync group
	syncCfg  *config.SyncGroup
	vips     []netif.VIP
	advAddrs []netip.Addr
	stats    Stats
	// lastMasterSrc is the sender of the last advert (not priority 0)
	// accepted in BACKUP: keepalived's master_saddr, which
	// skip_check_adv_addr trusts.
	lastMasterSrc netip.Addr
	// wasMaster: the last transition entered MASTER, so the next one
	// releases it (Stats.ReleaseMaster).
	wasMaster bool
	// removed: a reload is deleting the instance (Machine.Delete); its
	// report goes to notifyRemoved, not to the state notifications.
	removed bool
	// spec is what the instance was built from (keepalived's dumps show it).
	spec InstanceSpec
}

// InstanceKey matches instances across reloads, as keepalived does: by
// VRID, interface and address family.
type InstanceKey struct {
	VRID      int
	Interface string
	IPv6      bool
}

func keyOf(ic *config.Instance) InstanceKey {
	return InstanceKey{VRID: ic.VRID, Interface: ic.Interface, IPv6: ic.IPv6()}
}

// Handoff carries running instances from a router stopped by a reload to
// the router of the new configuration.
type Handoff struct {
	instances map[InstanceKey]*handed
	// scripts carries track-script results by name, so that a reload
	// does not reset a failing script to its initial state.
	scripts  map[string]scriptResult
	notifier *script.Notifier
	// static is what static_ipaddress/routes/rules installed;
	// dropStatic removes it when no router adopts the handoff.
	static     *staticSet
	dropStatic func()
}

type scriptResult struct {
	ok     bool
	streak int
}

type handed struct {
	m      *Machine
	vips   []netif.VIP
	stats  Stats
	routes []config.Route
	rules  []config.Rule
}

// Close releases what a handoff holds when no router adopts it (the new
// configuration has no instances): running notify scripts get drain to
// finish, then are killed.
func (h *Handoff) Close(drain, kill time.Duration) {
	if h != nil && h.dropStatic != nil {
		h.dropStatic()
		h.dropStatic = nil
	}
	if h != nil && h.notifier != nil {
		h.notifier.Close(drain, kill)
		h.notifier = nil
	}
}

// Keys lists the instances of this router's configuration.
func (r *Router) Keys() map[InstanceKey]bool {
	keys := map[InstanceKey]bool{}
	for _, in := range r.insts {
		keys[keyOf(in.cfg)] = true
	}
	return keys
}

// StopHandingOver stops the router for a reload: instances in keep stop
// without a word (no priority 0, VIPs stay) and are returned for Adopt;
// the others stop as at shutdown.
// It waits only for the protocol loop and the socket readers, never for
// a script: notify scripts keep running under the handed-on notifier,
// and track scripts in flight are cancelled without being waited for.
func (r *Router) StopHandingOver(keep map[InstanceKey]bool) *Handoff {
	select {
	case r.events <- func() { r.keep = keep; r.handingOver = true; r.signalStop() }:
	case <-r.done:
	}
	<-r.done
	if r.handoff == nil {
		r.handoff = &Handoff{instances: map[InstanceKey]*handed{}}
	}
	if r.handingOver {
		r.handoff.notifier = r.notifier
		r.handoff.scripts = map[string]scriptResult{}
		for name, sc := range r.scripts {
			r.handoff.scripts[name] = scriptResult{ok: sc.ok, streak: sc.streak}
		}
	} else {
		// Run had already ended: nothing to hand on.
		r.closeNotifier()
	}
	return r.handoff
}

func (r *Router) signalStop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

// Adopt makes instances of h continue in this router, which must not be
// running yet: same state, timers, master and counters.
func (r *Router) Adopt(h *Handoff) {
	if h == nil {
		return
	}
	r.adopted = map[*instance]*handed{}
	for _, in := range r.insts {
		if old, ok := h.instances[keyOf(in.cfg)]; ok {
			r.adopted[in] = old
		}
	}
	for name, res := range h.scripts {
		if sc, ok := r.scripts[name]; ok {
			sc.ok, sc.streak = res.ok, res.streak
		}
	}
	r.notifier, h.notifier = h.notifier, nil
	r.prevStatic, h.dropStatic = h.static, nil
}

type scriptState struct {
	cfg    *config.VRRPScript
	ok     bool
	streak int // consecutive results against the current state
	// refused: the runner will not run it (its user does not exist, or
	// enable_script_security finds it unsafe). As keepalived does, it is
	// then no longer tracked, until a reload builds a new router.
	refused bool
}

// NewRouter validates what the configuration asks of the machine
// (interfaces, addresses) and opens the sockets; Run starts the instances.
func NewRouter(cfg *config.Config, plat Platform, log *slog.Logger) (*Router, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{log: log, plat: plat, now: time.Now, cfg: cfg, socks: map[sockKey]*sock{},
		scripts: map[string]*scriptState{}, links: map[string]linkState{}, events: make(chan func(), 256),
		stopCh: make(chan struct{}), done: make(chan struct{})}
	for _, s := range cfg.Scripts {
		r.scripts[s.Name] = &scriptState{cfg: s, ok: !s.InitFail}
	}
	for _, ic := range cfg.Instances {
		in, err := r.newInstance(ic)
		if err != nil {
			r.closeSockets()
			return nil, fmt.Errorf("vrrp_instance %s (%s): %w", ic.Name, ic.Pos, err)
		}
		r.insts = append(r.insts, in)
	}
	byName := map[string]*instance{}
	for _, in := range r.insts {
		byName[in.cfg.Name] = in
	}
	for _, g := range cfg.SyncGroups {
		var members []*instance
		for _, n := range g.Members {
			if in, ok := byName[n]; ok {
				members = append(members, in)
			}
		}
		for _, in := range members {
			in.syncCfg = g
			for _, o := range members {
				if o != in {
					in.group = append(in.group, o)
				}
			}
		}
	}
	r.setupFiles()
	return r, nil
}

func (r *Router) newInstance(ic *config.Instance) (*instance, error) {
	sp := resolveInstance(r.cfg.Global, ic)
	holdForSync(r.cfg, &sp)
	resolveWithConfig(r.cfg, ic, &sp)
	v6 := sp.IPv6
	in := &instance{cfg: ic, stats: Stats{Drops: map[DropReason]uint64{}}, vips: sp.VIPs, advAddrs: sp.AdvAddrs, src: sp.Src, spec: sp}
	dynamic := r.cfg.Global.DynamicInterfaces
	if !in.src.IsValid() {
		a, err := r.plat.PrimaryAddr(ic.Interface, v6)
		switch {
		case err == nil:
			in.src = a
		case dynamic:
			// dynamic_interfaces: the address is read when the interface
			// (or its address) comes (resolveSources); until then the
			// instance is in FAULT.
		default:
			return nil, err
		}
	}
	if pp, ok := r.plat.(promotePlatform); ok && sp.PromoteSecondaries {
		// At every build, a reload's too, as keepalived's
		// vrrp_complete_instance: a setting lowered by hand is raised again.
		if err := pp.PromoteSecondaries(ic.Interface); err != nil {
			r.log.Warn("promote_secondaries", "instance", ic.Name, "err", err)
		}
	}
	unicast := len(sp.Peers) > 0
	group := sp.Group
	in.dsts = sp.Peers
	if !unicast {
		in.dsts = []netip.Addr{group}
	}
	dev := r.setupVMACs(ic, sp.Src) // use_vmac: the socket is on the VMAC
	key := sockKey{dev: dev, v6: v6, unicast: unicast, ah: sp.AuthType == AuthAH}
	if !unicast {
		key.group = group
	}
	s, ok := r.socks[key]
	if !ok {
		// The index is read first: if the interface is replaced between
		// the two calls, the next link check sees a stale index and
		// opens the socket again.
		index, err := r.plat.LinkIndex(dev)
		if err != nil && !dynamic {
			return nil, err
		}
		s = &sock{key: key, group: group, ttl: ic.UnicastTTL, index: index, insts: map[uint8][]*instance{}}
		if key.ah {
			s.keys = NewAHKeys()
		}
		if err != nil {
			// dynamic_interfaces (keepalived's IF_CREATE_IF_DYNAMIC): the
			// socket opens when the interface appears (linkChanged ->
			// rebind); its instances are in FAULT until then.
			r.log.Info("configuration specifies an interface which doesn't currently exist - will use if created", "interface", dev)
			s.index, s.dead = 0, true
		} else {
			conn, err := r.listen(s)
			if err != nil {
				return nil, err
			}
			s.conn = conn
		}
		r.socks[key] = s
	}
	// Unicast instances may share a VRID on one interface when their
	// peers differ (keepalived's check_vrid_conflicts); adverts are then
	// told apart by their source.
	for _, o := range s.insts[uint8(ic.VRID)] {
		if !unicast || sharesPeer(o.dsts, in.dsts) {
			return nil, fmt.Errorf("virtual_router_id %d is already used on %s", ic.VRID, ic.Interface)
		}
	}
	s.insts[uint8(ic.VRID)] = append(s.insts[uint8(ic.VRID)], in)
	in.sock = s
	in.acc = Acceptance{Version: sp.Version, Interval: sp.Interval, VIPs: in.advAddrs, AuthType: sp.AuthType, AuthData: sp.AuthData,
		CheckSrc: sp.CheckUnicastSrc, Peers: sp.Peers, PeerTTLs: sp.PeerTTLs}
	if key.ah {
		// The password keys the HMAC; the advert's own authentication
		// data stays zero, as keepalived sends it.
		s.keys.Set(uint8(ic.VRID), sp.AuthData)
		in.acc.AuthData = [8]byte{}
	}
	in.m = New(Params{VRID: uint8(sp.VRID), Version: sp.Version, Priority: sp.Priority, Interval: sp.Interval,
		Preempt: sp.Preempt, PreemptDelay: sp.PreemptDelay, DownTimerAdverts: sp.DownTimerAdverts, Addr: in.src, GARP: sp.GARP,
		HigherPrioSendAdvert: sp.HigherPrioSendAdvert, LowerPrioNoAdvert: sp.LowerPrioNoAdvert, OwnerWaits: sp.OwnerWaits})
	return in, nil
}

// Run starts every instance and serves events until ctx ends or Stop is
// called; then it stops the instances (priority 0 adverts, VIPs removed)
// and returns. It waits for its socket readers only: nothing a script
// does can hold it up.
func (r *Router) Run(ctx context.Context) error {
	defer close(r.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.notifier == nil {
		r.notifier = script.NewNotifier(r.log)
	}

	// VIPs left behind by a crash would answer ARP on a backup.
	for _, in := range r.insts {
		if r.adopted[in] != nil {
			continue
		}
		for _, v := range in.vips {
			if err := r.plat.DelVIP(v); err != nil {
				r.log.Warn("removing stale VIP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
			}
		}
	}
	r.startStatic()
	for _, s := range r.socks {
		if s.conn != nil {
			r.startReader(ctx, s)
		}
	}
	watched := r.watchedLinks()
	for n := range watched {
		r.links[n] = r.readLink(n)
	}
	for _, s := range r.socks {
		if cur := r.links[s.key.dev].index; s.index != cur && (s.conn != nil || cur != 0) {
			// The interface changed between NewRouter and now.
			r.rebind(ctx, s)
		}
	}
	if err := r.plat.WatchLinks(ctx.Done(), func(dev string) {
		if watched[dev] {
			r.post(ctx, func() { r.linkChanged(ctx, dev) })
		}
	}); err != nil {
		r.log.Warn("link watch unavailable; tracked interfaces are polled", "err", err)
	}
	r.watchAddrs(ctx)
	r.watchRoutes(ctx)
	r.startFiles(ctx)
	r.startProcesses(ctx)
	for _, sc := range r.scripts {
		if r.scriptUsed(sc.cfg.Name) {
			r.scriptLoops.Add(1)
			go r.scriptLoop(ctx, sc.cfg)
		}
	}
	now := r.now()
	for _, in := range r.insts {
		prio, fault := r.effective(in)
		if old := r.adopted[in]; old != nil {
			r.continueInstance(in, old, now, prio, fault)
			continue
		}
		in.m.prio = prio
		in.m.fault = fault
		in.m.DelayStart(r.startDelayEnd)
		r.apply(in, now, in.m.Start(now))
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		r.resetTimer(timer)
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-r.stopCh:
			r.shutdown()
			return nil
		case <-timer.C:
			now := r.now()
			for _, in := range r.insts {
				if d := in.m.Deadline(); !d.IsZero() && !now.Before(d) {
					r.apply(in, now, in.m.Tick(now))
				}
			}
		case <-poll.C:
			// Link watch can miss events (buffer overrun); poll is cheap.
			for n := range watched {
				r.linkChanged(ctx, n)
			}
		case fn := <-r.events:
			fn()
		}
	}
}

// shutdown stops or hands over every instance, closes the sockets and
// waits for their readers.
func (r *Router) shutdown() {
	now := r.now()
	for _, in := range r.insts {
		if r.keep[keyOf(in.cfg)] {
			if r.handoff == nil {
				r.handoff = &Handoff{instances: map[InstanceKey]*handed{}}
			}
			r.handoff.instances[keyOf(in.cfg)] = &handed{m: in.m, vips: in.vips, stats: in.stats,
				routes: in.cfg.VirtualRoutes, rules: in.cfg.VirtualRules}
			continue
		}
		if r.handingOver {
			// The reload removes it: keepalived's clear_diff_vrrp.
			in.removed = true
			r.apply(in, now, in.m.Delete(now, in.spec.Notify.NotifyDeleted))
			continue
		}
		r.apply(in, now, in.m.Stop(now))
	}
	if st := r.staticOf(); r.handingOver {
		// The next router keeps what both configurations have and
		// removes the rest; if none adopts the handoff, Close removes it.
		if r.handoff == nil {
			r.handoff = &Handoff{instances: map[InstanceKey]*handed{}}
		}
		r.handoff.static = &st
		r.handoff.dropStatic = func() { r.removeStatic(st) }
	} else {
		r.removeStatic(st)
	}
	r.closeSockets()
	r.readers.Wait()
	r.removeVMACs()
	if pp, ok := r.plat.(promotePlatform); ok && !r.handingOver {
		// Only at the final stop: keepalived never lowers it at a reload.
		if err := pp.RestorePromoteSecondaries(); err != nil {
			r.log.Warn("promote_secondaries", "err", err)
		}
	}
}

func (r *Router) startReader(ctx context.Context, s *sock) {
	r.readers.Add(1)
	go r.readLoop(ctx, s, s.conn)
}

// watchedLinks are the interfaces whose changes matter: tracked ones,
// those with a VRRP socket, and those holding VIPs.
func (r *Router) watchedLinks() map[string]bool {
	watched := map[string]bool{}
	for _, in := range r.insts {
		for _, n := range r.trackedLinks(in) {
			watched[n] = true
		}
		for _, v := range in.vips {
			watched[v.Dev] = true
		}
	}
	for _, s := range r.socks {
		watched[s.key.dev] = true
	}
	// A static address or route goes back on its interface when it
	// comes up (reinstateStatic).
	st := r.staticOf()
	for _, v := range st.addrs {
		watched[v.Dev] = true
	}
	for _, rt := range st.routes {
		if rt.Dev != "" {
			watched[rt.Dev] = true
		}
	}
	return watched
}

func (r *Router) readLink(dev string) linkState {
	var st linkState
	if idx, err := r.plat.LinkIndex(dev); err == nil {
		st.index = idx
	}
	if st.index != 0 {
		if up, err := r.plat.LinkUp(dev); err == nil {
			st.up = up
		}
	}
	return st
}

// continueInstance carries an adopted instance on: its machine's state
// moves into the new one (whose parameters may have changed), VIPs that
// left the configuration are removed and new ones added if master, and
// tracking is re-applied.
func (r *Router) continueInstance(in *instance, old *handed, now time.Time, prio int, fault bool) {
	in.m.adoptFrom(old.m)
	in.stats = old.stats
	in.wasMaster = in.m.State() == StateMaster
	if in.stats.Drops == nil {
		in.stats.Drops = map[DropReason]uint64{}
	}
	r.log.Info("vrrp instance kept across reload", "instance", in.cfg.Name, "state", in.m.State().String())
	if in.m.State() == StateMaster {
		for _, v := range old.vips {
			if !slices.Contains(in.vips, v) {
				if err := r.plat.DelVIP(v); err != nil {
					r.log.Error("removing VIP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
				}
			}
		}
		r.dropStaleVirtualRoutes(in, old)
		r.apply(in, now, []Action{{Kind: AddVIPs}})
	}
	r.apply(in, now, in.m.SetPriority(now, prio))
	r.apply(in, now, in.m.SetFault(now, fault))
}

// SetStartupDelayEnd is vrrp_startup_delay: instances that start before t
// (not those a reload carries on) wait t plus their master-down interval
// before taking over (Machine.DelayStart). The daemon passes the same t,
// from its own start, to every router, as keepalived keeps one
// vrrp_delayed_start_time across reloads. Call it before Run.
func (r *Router) SetStartupDelayEnd(t time.Time) { r.startDelayEnd = t }

// OnTransition registers fn, called (and never waited on: it must not
// block) whenever an instance changes state. Call it before Run.
func (r *Router) OnTransition(fn func()) { r.onTransition = fn }

// Stop ends Run and waits for it, then gives running scripts a bounded
// grace: notify scripts (notify_stop among them) script.StopDrain to end on
// their own, then the runner kills their process groups. Stop returns
// within about script.StopDrain + script.StopKill whatever scripts do.
func (r *Router) Stop() {
	r.signalStop()
	<-r.done
	// Track scripts were cancelled when Run ended; notify scripts drain
	// meanwhile, so the two waits overlap.
	notified := make(chan struct{})
	go func() { r.closeNotifier(); close(notified) }()
	tracked := make(chan struct{})
	go func() { r.scriptLoops.Wait(); close(tracked) }()
	select {
	case <-tracked:
	case <-time.After(script.StopKill):
		r.log.Warn("track scripts still running after stop")
	}
	<-notified
}

func (r *Router) closeNotifier() {
	if r.notifier != nil {
		r.notifier.Close(script.StopDrain, script.StopKill)
		r.notifier = nil
	}
}

func (r *Router) post(ctx context.Context, fn func()) {
	select {
	case r.events <- fn:
	case <-ctx.Done():
	}
}

func (r *Router) resetTimer(t *time.Timer) {
	var next time.Time
	for _, in := range r.insts {
		if d := in.m.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	wait := time.Hour
	if !next.IsZero() {
		wait = max(next.Sub(r.now()), 0)
	}
	t.Reset(wait)
}

// readLoop reads conn, one of s's sockets over time: a rebind closes it
// and starts a reader for the new one.
func (r *Router) readLoop(ctx context.Context, s *sock, conn Conn) {
	defer r.readers.Done()
	buf := make([]byte, 2048)
	for {
		rcv, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			r.log.Warn("vrrp read", "interface", s.key.dev, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		pkt := rcv
		pkt.Payload = append([]byte(nil), rcv.Payload...)
		r.post(ctx, func() {
			if s.conn == conn {
				r.received(s, pkt)
			}
		})
	}
}

func (r *Router) received(s *sock, pkt Received) {
	if len(pkt.Payload) < 2 {
		return
	}
	if !s.key.unicast && pkt.Dst.IsMulticast() && pkt.Dst.WithZone("") != s.group.WithZone("") {
		// Another group's advert (mcast_dst_ip): keepalived binds its
		// socket to the group, and the kernel never hands it over.
		return
	}
	in := s.owner(pkt.Payload[1], pkt.Src)
	if in != nil && pkt.Refused != "" {
		in.stats.Drops[pkt.Refused]++
		r.log.Debug("vrrp advert dropped", "instance", in.cfg.Name, "from", pkt.Src, "err", "IPSEC-AH: "+string(pkt.Refused))
		return
	}
	if in == nil {
		if r.cfg.Global.LogUnknownVRIDs {
			// vrrp_scheduler.c's message, with log_unknown_vrids.
			r.log.Info("unknown VRID received; ignoring", "vrid", pkt.Payload[1], "interface", s.key.dev, "from", pkt.Src)
		}
		// No instance owns it, so every instance on this interface and
		// family counts it: a peer with a wrong virtual_router_id shows
		// up where its operator looks.
		for _, list := range s.insts {
			for _, other := range list {
				other.stats.Drops[DropVRID]++
			}
		}
		return
	}
	if pkt.Src == in.src {
		in.stats.Drops[DropOwn]++
		return
	}
	adv, err := Parse(pkt.Payload, pkt.Src, pkt.Dst, s.key.v6)
	backup := in.m.State() == StateBackup
	if err == nil {
		// skip_check_adv_addr: a BACKUP does not check the addresses of
		// the master it last heard (vrrp_state_backup's check_addr).
		checkAddrs := !(in.spec.SkipCheckAdvAddr && backup && in.lastMasterSrc == pkt.Src)
		err = in.acc.Check(adv, pkt.TTL, pkt.Dst.IsMulticast(), pkt.Src, checkAddrs)
	}
	if err != nil {
		in.stats.Drops[ReasonOf(err)]++
		if ReasonOf(err) == DropNotPeer {
			// keepalived logs it at LOG_INFO.
			r.log.Info("vrrp advert dropped: unicast source address not a unicast peer", "instance", in.cfg.Name, "from", pkt.Src)
			return
		}
		if ReasonOf(err) == DropTTL && !pkt.Dst.IsMulticast() {
			// A unicast peer's min_ttl/max_ttl; keepalived logs it too.
			r.log.Info("vrrp advert dropped: TTL not in the peer's range", "instance", in.cfg.Name, "from", pkt.Src, "err", err)
			return
		}
		r.log.Debug("vrrp advert dropped", "instance", in.cfg.Name, "from", pkt.Src, "err", err)
		return
	}
	if backup && adv.Priority != 0 {
		// keepalived's master_saddr: every advert a BACKUP accepts but a
		// priority 0 one, never cleared (a reload makes a new instance).
		in.lastMasterSrc = pkt.Src
	}
	in.stats.AdvertsReceived++
	if adv.Priority == 0 {
		in.stats.PriorityZeroReceived++
	}
	r.logMasterRx(in, pkt.Src, adv)
	now := r.now()
	r.apply(in, now, in.m.Received(now, pkt.Src, adv))
}

// logMasterRx logs, as vrrp_state_master_rx does at LOG_INFO, a MASTER
// hearing another master: of lower priority (it answers with an advert
// unless lower_prio_no_advert, and with gratuitous ARPs) or of higher
// priority (it yields). These lines tell after a healed partition which
// director asserted itself and why the neighbours' ARP caches moved.
func (r *Router) logMasterRx(in *instance, from netip.Addr, adv *Advert) {
	if in.m.State() != StateMaster || adv.Priority == 0 {
		return
	}
	ours := in.m.prio
	// The machine's rule (Machine.Received): a tie goes to the higher address.
	if int(adv.Priority) > ours || int(adv.Priority) == ours && from.Compare(in.src) > 0 {
		r.log.Info("vrrp master heard higher priority", "instance", in.cfg.Name, "from", from,
			"priority", adv.Priority, "ours", ours)
		return
	}
	r.log.Info("vrrp advert with lower priority", "instance", in.cfg.Name, "from", from,
		"priority", adv.Priority, "ours", ours, "forcing_new_election", !in.spec.LowerPrioNoAdvert)
}

// apply carries out a machine's actions, then moves its sync group along.
func (r *Router) apply(in *instance, now time.Time, acts []Action) {
	for _, a := range acts {
		switch a.Kind {
		case SendAdvert:
			r.sendAdvert(in, a.Priority)
		case AddVIPs:
			for _, v := range in.vips {
				if err := r.plat.AddVIP(v); err != nil {
					r.log.Error("adding VIP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
				}
			}
			r.addVirtualRoutes(in)
		case RemoveVIPs:
			r.delVirtualRoutes(in, in.cfg.VirtualRoutes, in.cfg.VirtualRules)
			for _, v := range in.vips {
				if err := r.plat.DelVIP(v); err != nil {
					r.log.Error("removing VIP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
				}
			}
		case SendGARP:
			r.sendGARPs(in, a.Count)
		case HeardLowerPriority, PriorityChanged:
			r.event(in, a)
		case Notify:
			if in.removed {
				r.notifyRemoved(in, a.State)
				continue
			}
			in.stats.Transitions++
			if a.State == StateMaster {
				in.stats.BecomeMaster++
			} else if in.wasMaster {
				in.stats.ReleaseMaster++
			}
			in.wasMaster = a.State == StateMaster
			r.log.Info("vrrp state", "instance", in.cfg.Name, "state", a.State.String(), "priority", in.m.prio)
			r.notify(in, a.State)
			if r.onTransition != nil {
				r.onTransition()
			}
			if a.State != StateStopped && in.syncCfg != nil {
				for _, o := range in.group {
					r.apply(o, now, o.m.SyncTo(now, a.State))
				}
			}
		}
	}
}

func (r *Router) sendAdvert(in *instance, prio uint8) {
	adv := &Advert{Version: in.acc.Version, VRID: uint8(in.cfg.VRID), Priority: prio, Interval: in.cfg.AdvertInterval,
		AuthType: in.acc.AuthType, AuthData: in.acc.AuthData, Addrs: in.advAddrs}
	for _, dst := range in.dsts {
		b, err := adv.Marshal(in.src, dst)
		if err == nil {
			if in.sock.conn == nil {
				err = errors.New("no socket: the interface does not exist")
			} else {
				err = in.sock.conn.Write(b, in.src, dst)
			}
		}
		if err != nil {
			r.log.Warn("sending advert", "instance", in.cfg.Name, "to", dst, "err", err)
			continue
		}
		in.stats.AdvertsSent++
		if prio == 0 {
			in.stats.PriorityZeroSent++
		}
	}
}

// sendGARPs sends count rounds at once; spaced rounds (garp_interval)
// come from the machine one at a time, so nothing here sleeps.
func (r *Router) sendGARPs(in *instance, count int) {
	for i := 0; i < count; i++ {
		for _, v := range in.vips {
			if err := r.plat.GARP(v.Dev, v.Prefix.Addr()); err != nil {
				r.log.Warn("gratuitous ARP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
				continue
			}
			in.stats.GARPsSent++
		}
	}
}

// notify queues notify_<state> and notify with keepalived's arguments on
// the notifier: a slow script never holds up the state machine.
func (r *Router) notify(in *instance, s State) {
	type job struct {
		script *config.Script
		args   []string
	}
	var jobs []job
	add := func(sc *config.Script, args ...string) {
		if sc != nil {
			jobs = append(jobs, job{sc, args})
		}
	}
	pick := func(master, backup, fault, stop *config.Script) *config.Script {
		return map[State]*config.Script{StateMaster: master, StateBackup: backup, StateFault: fault, StateStopped: stop}[s]
	}
	c := in.cfg
	add(pick(c.NotifyMaster, c.NotifyBackup, c.NotifyFault, c.NotifyStop))
	add(c.Notify, "INSTANCE", c.Name, s.String(), fmt.Sprint(in.m.prio))
	if g := in.syncCfg; g != nil && in == r.groupLeader(in) {
		add(pick(g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop))
		add(g.Notify, "GROUP", g.Name, s.String(), fmt.Sprint(in.m.prio))
	}
	for _, j := range jobs {
		r.notifier.Submit(in.cfg.Name, r.plat.Run, j.script, j.args...)
	}
}

// groupLeader is the first member of in's sync group: it alone runs the
// group's scripts, once per group transition.
func (r *Router) groupLeader(in *instance) *instance {
	for _, o := range r.insts {
		if o == in || in.syncCfg != nil && o.syncCfg == in.syncCfg {
			return o
		}
	}
	return in
}

func (r *Router) trackedLinks(in *instance) []string {
	var names []string
	if !in.cfg.DontTrackPrimary {
		names = append(names, in.cfg.Interface)
		names = append(names, ownVMAC(in.cfg)...)
	}
	for _, t := range in.cfg.TrackInterfaces {
		names = append(names, t.Name)
	}
	names = append(names, in.spec.StaticTrackLinks...)
	if in.syncCfg != nil {
		for _, t := range in.syncCfg.TrackIfaces {
			names = append(names, t.Name)
		}
	}
	return names
}

func (r *Router) scriptUsed(name string) bool {
	for _, in := range r.cfg.Instances {
		for _, t := range in.TrackScripts {
			if t.Name == name {
				return true
			}
		}
	}
	for _, g := range r.cfg.SyncGroups {
		for _, t := range g.TrackScripts {
			if t.Name == name {
				return true
			}
		}
	}
	return false
}

// effective computes keepalived's priority and fault from tracking: an
// item without weight faults the instance when down; a weight adds when
// up (positive) or when down (negative), reversed by "reverse"; the sum
// is clamped to 1..254, and the address owner ignores weights.
func (r *Router) effective(in *instance) (int, bool) {
	prio, fault := in.cfg.Priority, false
	if !in.cfg.DontTrackPrimary && (!r.links[in.cfg.Interface].up || !r.ownVMACUp(in)) {
		fault = true
	}
	if in.spec.ConfigFault {
		fault = true // unicast_fault_no_peer: until a reload
	}
	if !in.src.IsValid() {
		fault = true // dynamic_interfaces: no interface (or address) yet
	}
	if in.sock.dead {
		// Whatever tracking says, adverts on this socket reach nobody:
		// a MASTER here would be a second, silent master.
		fault = true
	}
	for _, l := range in.spec.StaticTrackLinks {
		if !r.links[l].up {
			fault = true // track_group: as track_interface without weight
		}
	}
	apply := func(t config.TrackItem, up bool, defWeight int) {
		w, has := t.Weight, t.HasWeight
		if !has {
			w = defWeight
		}
		if t.WeightReverse {
			up, w = !up, -w
		}
		switch {
		case w == 0:
			if !up {
				fault = true
			}
		case in.cfg.Priority == OwnerPriority:
		case w > 0 && up, w < 0 && !up:
			prio += w
		}
	}
	items := in.cfg.TrackInterfaces
	scripts := in.cfg.TrackScripts
	if in.syncCfg != nil {
		items = append(append([]config.TrackItem{}, items...), in.syncCfg.TrackIfaces...)
		scripts = append(append([]config.TrackItem{}, scripts...), in.syncCfg.TrackScripts...)
	}
	for _, t := range items {
		apply(t, r.links[t.Name].up, 0)
	}
	for _, t := range scripts {
		sc, ok := r.scripts[t.Name]
		if !ok || sc.refused {
			continue
		}
		def := sc.cfg.Weight
		if sc.cfg.WeightReverse && !t.HasWeight {
			t.WeightReverse = !t.WeightReverse
		}
		apply(t, sc.ok, def)
	}
	r.fileEffects(in, &prio, &fault)
	for _, t := range r.processItems(in) {
		if q, ok := r.procs[t.Name]; ok {
			t.HasWeight = true
			apply(t, q, 0)
		}
	}
	r.bfdEffects(in, apply) // track_bfd (trackbfd.go)
	if in.cfg.Priority != OwnerPriority {
		prio = min(max(prio, 1), 254)
	}
	return prio, fault
}

func (r *Router) retrack(now time.Time) {
	for _, in := range r.insts {
		prio, fault := r.effective(in)
		r.apply(in, now, in.m.SetPriority(now, prio))
		r.apply(in, now, in.m.SetFault(now, fault))
	}
}

// linkChanged re-reads dev. An interface that is gone kills the sockets
// on it; one that came back under the same name with a new index gets
// its sockets opened again and, where an instance is MASTER, its VIPs
// (which went with the old interface) added and announced again.
func (r *Router) linkChanged(ctx context.Context, dev string) {
	old := r.links[dev]
	cur := r.readLink(dev)
	if cur.index == 0 && r.recreateVMAC(dev) {
		cur = r.readLink(dev)
	}
	r.links[dev] = cur
	retrack := old.up != cur.up
	if cur.index != 0 && r.resolveSources(dev) {
		retrack = true
	}
	if cur.up != old.up {
		r.log.Info("interface", "interface", dev, "up", cur.up)
	}
	for _, s := range r.socks {
		if s.key.dev != dev {
			continue
		}
		switch {
		case cur.index == 0 && !s.dead:
			r.log.Warn("vrrp socket's interface is gone; its instances are held in FAULT", "interface", dev)
			s.dead, retrack = true, true
		case cur.index != 0 && cur.index != s.index:
			r.rebind(ctx, s)
			retrack = true
		}
	}
	if cur.index != 0 && cur.index != old.index {
		r.restoreVIPs(dev)
	}
	if cur.up && !old.up {
		r.reinstateStatic(dev)
	}
	if retrack {
		r.retrack(r.now())
	}
}

// rebind opens s again on the interface now called s.key.dev; until it
// succeeds (the next link event or poll tries again) s stays dead.
func (r *Router) rebind(ctx context.Context, s *sock) {
	index := r.links[s.key.dev].index
	conn, err := r.listen(s)
	if err != nil {
		if !s.dead {
			r.log.Warn("vrrp socket cannot be opened on the new interface; its instances are held in FAULT", "interface", s.key.dev, "err", err)
		}
		s.dead = true
		return
	}
	if s.conn != nil {
		_ = s.conn.Close()
		r.log.Info("vrrp socket opened again on a new interface of the same name", "interface", s.key.dev, "ifindex", index)
	} else {
		r.log.Info("vrrp socket opened on an interface that has appeared", "interface", s.key.dev, "ifindex", index)
	}
	s.conn, s.index, s.dead = conn, index, false
	r.startReader(ctx, s)
}

// resolveSources reads the source address of the instances on dev that
// have none yet (dynamic_interfaces: their interface, or its address, was
// missing when the router was built), and reports whether it found one;
// one still without is held in FAULT (effective).
func (r *Router) resolveSources(dev string) bool {
	found := false
	for _, in := range r.insts {
		if in.src.IsValid() || in.cfg.Interface != dev {
			continue
		}
		if a, err := r.plat.PrimaryAddr(dev, in.spec.IPv6); err == nil {
			in.src, in.m.p.Addr, found = a, a, true
			r.log.Info("vrrp source address found", "instance", in.cfg.Name, "interface", dev, "address", a)
		}
	}
	return found
}

// restoreVIPs adds again, and announces, the VIPs on dev of every MASTER:
// they went away with the interface dev replaced.
func (r *Router) restoreVIPs(dev string) {
	for _, in := range r.insts {
		if in.m.State() != StateMaster {
			continue
		}
		for _, v := range in.vips {
			if v.Dev != dev {
				continue
			}
			if err := r.plat.AddVIP(v); err != nil {
				r.log.Error("adding VIP", "instance", in.cfg.Name, "vip", v.String(), "err", err)
				continue
			}
			if err := r.plat.GARP(v.Dev, v.Prefix.Addr()); err == nil {
				in.stats.GARPsSent++
			}
		}
	}
}

func (r *Router) scriptLoop(ctx context.Context, sc *config.VRRPScript) {
	defer r.scriptLoops.Done()
	interval := sc.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	run := sc.Command()
	for {
		// keepalived 2.2.7 (vrrp_script_thread) kills a run after its
		// timeout if one is set, else after its interval.
		limit := interval
		if sc.Timeout > 0 {
			limit = sc.Timeout
		}
		tctx, cancel := context.WithTimeout(ctx, limit)
		code, err := r.plat.Run(tctx, run, nil...)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, script.ErrRefused) {
			r.post(ctx, func() { r.scriptRefused(sc.Name, err) })
			return
		}
		ok := err == nil && code == 0
		r.post(ctx, func() { r.scriptResult(sc.Name, ok) })
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scriptRefused stops tracking a script the runner refuses, as keepalived
// removes it from the instances that track it.
func (r *Router) scriptRefused(name string, err error) {
	s := r.scripts[name]
	if s.refused {
		return
	}
	s.refused = true
	r.log.Error("vrrp_script refused; it is no longer tracked until a reload", "script", name, "err", err)
	r.retrack(r.now())
}

// scriptResult applies rise/fall: the state flips after rise successes or
// fall failures in a row.
func (r *Router) scriptResult(name string, ok bool) {
	s := r.scripts[name]
	if ok == s.ok {
		s.streak = 0
		return
	}
	s.streak++
	need := s.cfg.Fall
	if ok {
		need = s.cfg.Rise
	}
	if s.streak < max(need, 1) {
		return
	}
	s.ok, s.streak = ok, 0
	r.log.Info("vrrp_script", "script", name, "ok", ok)
	r.retrack(r.now())
}

func (r *Router) closeSockets() {
	for _, s := range r.socks {
		if s.conn != nil {
			_ = s.conn.Close()
		}
	}
}

// Status returns a snapshot of every instance; safe from any goroutine.
func (r *Router) Status() []InstanceStatus {
	ch := make(chan []InstanceStatus, 1)
	select {
	case r.events <- func() { ch <- r.status() }:
	case <-r.done:
		return nil
	}
	select {
	case s := <-ch:
		return s
	case <-r.done:
		return nil
	}
}

func (r *Router) status() []InstanceStatus {
	out := make([]InstanceStatus, 0, len(r.insts))
	for _, in := range r.insts {
		st := InstanceStatus{Name: in.cfg.Name, Interface: in.cfg.Interface, VRID: in.cfg.VRID, State: in.m.State().String(),
			Priority: in.m.prio, BasePriority: in.cfg.Priority, MasterPriority: in.m.MasterPriority, LastTransition: in.m.LastTransition}
		if in.m.MasterAddr.IsValid() {
			st.MasterAddr = in.m.MasterAddr.String()
		}
		for _, v := range in.vips {
			st.VIPs = append(st.VIPs, v.Prefix.String())
		}
		st.Stats = in.stats
		if r.notifier != nil {
			st.Stats.NotifyDropped = r.notifier.DroppedFor(in.cfg.Name)
		}
		st.Stats.Drops = map[DropReason]uint64{}
		for k, v := range in.stats.Drops {
			st.Stats.Drops[k] = v
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// owner is the instance an advert for vrid from src belongs to: the only
// one with that VRID, or among unicast instances sharing it, the one that
// has src as a peer.
func (s *sock) owner(vrid uint8, src netip.Addr) *instance {
	list := s.insts[vrid]
	if len(list) == 1 {
		return list[0]
	}
	for _, in := range list {
		for _, p := range in.dsts {
			if p == src {
				return in
			}
		}
	}
	return nil
}

func sharesPeer(a, b []netip.Addr) bool {
	for _, p := range a {
		for _, q := range b {
			if p == q {
				return true
			}
		}
	}
	return false
}

// AHPlatform is a Platform that can open IPSEC-AH sockets (auth_type AH).
type AHPlatform interface {
	ListenAH(dev string, group netip.Addr, unicastTTL int, keys *AHKeys) (Conn, error)
}

// listen opens s's socket: plain VRRP, or AH through the platform.
func (r *Router) listen(s *sock) (Conn, error) {
	if !s.key.ah {
		return r.plat.Listen(s.key.dev, s.key.v6, s.group, s.ttl)
	}
	ap, ok := r.plat.(AHPlatform)
	if !ok {
		return nil, fmt.Errorf("auth_type AH is not available on this platform")
	}
	return ap.ListenAH(s.key.dev, s.group, s.ttl, s.keys)
}
