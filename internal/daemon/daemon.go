// Package daemon is `lvsd run`: it owns the configuration, the VRRP router,
// the health checkers and the IPVS syncer, and turns signals and control
// requests into reloads and an orderly stop.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/script"
	"github.com/lvsd/lvsd/internal/track"
	"github.com/lvsd/lvsd/internal/vrrp"
	"golang.org/x/sys/unix"
)

// Options configure a daemon run.
type Options struct {
	ConfigFile string
	ConfigID   string
	VRRPOnly   bool // keepalived -P
	CheckOnly  bool // keepalived -C
	PIDFile    string
	// StateDir holds the IPVS ownership file; empty means /run/lvsd.
	StateDir string
	// ControlSocket is the status/reload/stop socket; empty means
	// StateDir/lvsd.sock, "-" disables it.
	ControlSocket string
	// MetricsAddr is the Prometheus listener; empty disables it.
	MetricsAddr string
	// KeepIPVSOnStop leaves lvsd's virtual servers in the kernel at stop.
	KeepIPVSOnStop bool
	// NoProbeSharing sends every checker's own probes, as keepalived
	// does, instead of one probe for identical checkers of one target.
	NoProbeSharing bool
	// RepairInterval re-reads the kernel's IPVS table and repairs drift.
	RepairInterval time.Duration
	Log            *slog.Logger
	// Platform and Kernel replace the machine in tests.
	Platform func(cfg *config.Config) vrrp.Platform
	Kernel   func() (ipvs.Kernel, error)
	// Sysctl reads and sets kernel settings; nil means /proc/sys.
	Sysctl Sysctl
	// ConnTable and SyncSend read the kernel's connection table and send
	// sync messages (persistence template resync); nil means the machine's.
	ConnTable ConnTableReader
	SyncSend  SyncSender
	// TemplateResync is how often templates are sent; 0 means 10 s.
	TemplateResync time.Duration
	// AllConfig is keepalived's -e: every include is checked.
	AllConfig bool
	// LocalAddrs lists the host's addresses (ha_suspend); nil means the
	// machine's.
	LocalAddrs func() ([]netip.Addr, error)
}

// Daemon is one running lvsd. Fields below the first group belong to the
// Run goroutine; the atomics are what other goroutines (control socket,
// metrics) read, besides checks and kernel, which start() sets before
// those endpoints are served and which are not reassigned after.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	// alerts sends keepalived's e-mail alerts (alert.go); nil-safe.
	alerts *alertHooks

	cfg        *config.Config
	vrrpKey    string
	routerDone chan error // of the router in routerRef
	syncer     *ipvs.Syncer
	kernel     ipvs.Kernel
	// vrrpStartupEnd is when vrrp_startup_delay ends (zero: none).
	vrrpStartupEnd time.Time
	// timeouts keeps the kernel's IPVS timeouts from before lvs_timeouts
	// changed them (timeouts.go).
	timeouts ipvs.TimeoutKeeper
	checks   *check.Manager
	// scripts runs every script, VRRP and checker alike; setConfig
	// re-applies script_user and enable_script_security at each load.
	scripts    *script.Runner
	checksDone chan struct{}
	healthChg  chan struct{}
	// vrrpChg: an instance changed state (the sync daemons may follow).
	vrrpChg chan struct{}
	// The kernel's sync daemons: whether lvsd runs them, the last error
	// logged, and a kernel handle of their own under -P.
	syncdManaged bool
	syncdLastErr string
	syncdKernel  ipvs.Kernel
	syncKnobsSet bool
	reloadReq    chan chan error
	stopReq      chan struct{}
	cancel       context.CancelFunc
	// stopping ends when a stop is asked for, from any goroutine, so that
	// a long IPVS reconcile gives way at once.
	stopping context.Context
	stopNow  context.CancelFunc

	snap          atomic.Pointer[snapshot]
	routerRef     atomic.Pointer[vrrp.Router] // the running VRRP router, if any
	lastReloadErr atomic.Pointer[string]
	ReloadsOK     atomic.Uint64
	ReloadsFailed atomic.Uint64
	// syncdErrors counts failed attempts to set the sync daemons.
	syncdErrors atomic.Uint64
	// syncStatus is the sync daemons as last read back from the kernel.
	syncStatus atomic.Pointer[SyncStatus]
	// Persistence templates sent by runTemplateResync, and failed sends.
	resyncSent, resyncErrors atomic.Uint64
	resyncDone               chan struct{}
}

// Run loads the configuration and serves until ctx ends, SIGTERM/SIGINT
// arrives on signals, or a stop request comes over the control socket;
// SIGHUP reloads. A configuration that does not load at start is an
// error; one that does not load at reload is logged and the running one
// kept.
func Run(ctx context.Context, opts Options, signals <-chan os.Signal) error {
	noHugePages()
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.StateDir == "" {
		opts.StateDir = "/run/lvsd"
	}
	if opts.ControlSocket == "" {
		opts.ControlSocket = filepath.Join(opts.StateDir, "lvsd.sock")
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = 10 * time.Second
	}
	scripts := script.New(opts.Log, nil)
	if opts.Platform == nil {
		opts.Platform = func(*config.Config) vrrp.Platform { return vrrp.NewHost(scripts) }
	}
	if opts.Kernel == nil {
		opts.Kernel = ipvs.NewNetlink
	}
	if opts.Sysctl == nil {
		opts.Sysctl = procSysctl{}
	}
	if opts.ConnTable == nil {
		opts.ConnTable = procConnTable
	}
	if opts.SyncSend == nil {
		opts.SyncSend = sendSyncMessages
	}
	if opts.LocalAddrs == nil {
		opts.LocalAddrs = hostAddrs
	}
	if opts.TemplateResync <= 0 {
		opts.TemplateResync = templateResyncInterval
	}
	d := &Daemon{opts: opts, log: opts.Log, started: time.Now(), healthChg: make(chan struct{}, 1), vrrpChg: make(chan struct{}, 1),
		reloadReq: make(chan chan error), stopReq: make(chan struct{}, 1), scripts: scripts}
	res, err := d.load()
	if err != nil {
		return err
	}
	ctx, d.cancel = context.WithCancel(ctx)
	defer d.cancel()
	d.stopping, d.stopNow = context.WithCancel(ctx)
	defer d.stopNow()
	// Everything another process could hold or redirect is settled before
	// anything is touched: the state directory, the pid file (a live lvsd
	// in it refuses this start), the control socket (likewise), the
	// metrics port.
	if err := prepareStateDir(opts.StateDir); err != nil {
		return err
	}
	if opts.PIDFile != "" {
		pid, err := writePIDFile(opts.PIDFile, d.log)
		if err != nil {
			return err
		}
		defer pid.remove()
	}
	var control *controlListener
	if opts.ControlSocket != "-" {
		if control, err = listenControl(opts.ControlSocket, opts.StateDir); err != nil {
			return err
		}
		defer control.close()
	}
	var metricsLn net.Listener
	if opts.MetricsAddr != "" {
		if metricsLn, err = listenMetrics(opts.MetricsAddr); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	raiseFileLimit(fdNeed(res.Config), d.log)
	// startup_script: before lvsd touches anything, waited for (never at
	// a reload); its security settings are the configuration's.
	d.scripts.Configure(&res.Config.Global)
	d.runLifecycleScript(ctx, "startup", res.Config.Global.StartupScript, res.Config.Global.StartupScriptTimeout)
	if err := d.start(ctx, res); err != nil {
		d.stop()
		return err
	}
	// Served only now: the endpoints read what start() set (the checkers,
	// the IPVS kernel), and requests made meanwhile waited in the
	// listeners' backlogs.
	if control != nil {
		d.serveControl(ctx, control)
	}
	if metricsLn != nil {
		d.serveMetrics(ctx, metricsLn)
	}
	d.log.Info("lvsd started", "router_id", res.Config.Global.RouterID, "config", opts.ConfigFile, "hash", res.Hash,
		"vrrp_instances", len(d.cfg.Instances), "virtual_servers", len(d.cfg.VirtualServers))
	notifySystemd("READY=1\nSTATUS=serving " + res.Hash)
	releaseLoadMemory()

	// Signals are read here, not in the loop below, so that SIGTERM can
	// interrupt a reconcile in progress.
	hup, term := make(chan struct{}, 1), make(chan os.Signal, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-signals:
				switch sig {
				case syscall.SIGHUP:
					d.interruptRepair()
					select {
					case hup <- struct{}{}:
					default:
					}
				case syscall.SIGTERM, syscall.SIGINT:
					d.stopNow()
					select {
					case term <- sig:
					default:
					}
				default:
					// keepalived's dump signals; written here, off the
					// daemon loop (the router answers between events).
					if kind := dumpKindOf(sig); kind != "" {
						d.writeDump(kind)
					}
				}
			}
		}
	}()
	repair := time.NewTicker(opts.RepairInterval)
	defer repair.Stop()
	watchdog := watchdogTicker()
	for {
		select {
		case <-ctx.Done():
			return d.stop()
		case err := <-d.routerDone:
			// The router only returns when stopped; anything else is a bug
			// worth surviving: log it and run without VRRP.
			d.log.Error("vrrp router ended", "err", err)
			d.clearRouter()
		case <-d.healthChg:
			if d.stopping.Err() == nil {
				d.reconcileIPVSAnnounced(reconcileHealth)
			}
		case <-repair.C:
			if d.stopping.Err() == nil {
				d.reconcileIPVSAnnounced(reconcileRepair)
				d.applySyncDaemons()
				d.updateLocalAddrs()
			}
		case <-d.vrrpChg:
			if d.stopping.Err() == nil {
				d.applySyncDaemons()
				d.updateLocalAddrs()
			}
		case <-watchdog:
			notifySystemd("WATCHDOG=1")
		case reply := <-d.reloadReq:
			reply <- d.reload(ctx)
		case <-d.stopReq:
			d.stopNow()
			d.log.Info("stopping", "reason", "control socket")
			return d.stop()
		case <-hup:
			_ = d.reload(ctx)
		case sig := <-term:
			d.log.Info("stopping", "signal", sig.String())
			return d.stop()
		}
	}
}

// releaseLoadMemory ends the load's peak: loading a configuration (the
// parse, the first tables) takes about twice the memory that stays live
// after it, and the collector would set its next goal from the peak and
// keep that much as RSS. One full collection after a start or reload
// resets the goal and returns the pages (figures: docs/benchmarks.md,
// "Health checks at scale").
func releaseLoadMemory() { debug.FreeOSMemory() }

// noHugePages keeps the kernel from backing lvsd's memory with transparent
// huge pages (Debian's kernels default to "always"): the heap churns in
// small pieces, and 2 MB pages around them made RSS swing by a third from
// one run to the next (docs/benchmarks.md, "Health checks at scale").
func noHugePages() { _ = unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0) }

func (d *Daemon) load() (*config.Result, error) {
	res := config.Load(d.opts.ConfigFile, config.Options{ConfigID: d.opts.ConfigID, AllConfig: d.opts.AllConfig})
	var first string
	for _, diag := range res.Diags.Sorted() {
		switch {
		case diag.Severity == config.SeverityError && diag.Skipped:
			// keepalived logs these and runs without the item; so does lvsd.
			d.log.Error("config", "diagnostic", diag.String(), "effect", "skipped, as keepalived does")
		case diag.Severity == config.SeverityError:
			d.log.Error("config", "diagnostic", diag.String())
			if first == "" {
				first = diag.String()
			}
		default:
			d.log.Warn("config", "diagnostic", diag.String())
		}
	}
	if !res.Runnable() {
		return nil, fmt.Errorf("%s: configuration has errors; first: %s", d.opts.ConfigFile, first)
	}
	if !d.opts.VRRPOnly {
		// keepalived's checker exits when the SSL block's files do not
		// load (init_ssl_ctx): lvsd does not start on them, and a reload
		// with them is refused.
		if _, err := check.LoadSSLClient(res.Config); err != nil {
			return nil, fmt.Errorf("%s: %w (keepalived's checker stops on it too)", res.Config.Global.SSL.Pos, err)
		}
	}
	return res, nil
}

func (d *Daemon) setConfig(res *config.Result) {
	d.cfg = res.Config
	d.scripts.Configure(&res.Config.Global)
	var advice []string
	if !d.opts.VRRPOnly {
		advice = sysctlAdvice(res.Config, readProcSys)
		for _, a := range advice {
			d.log.Warn("sysctl", "advice", a)
		}
	}
	skipped := 0
	for _, diag := range res.Diags.Sorted() {
		if diag.Skipped {
			skipped++
		}
	}
	d.snap.Store(&snapshot{cfg: res.Config, hash: res.Hash, advice: advice, skipped: skipped})
}

func (d *Daemon) start(ctx context.Context, res *config.Result) error {
	d.setConfig(res)
	d.alerts = newAlertHooks(ctx, d.cfg, d.log)
	if !d.opts.VRRPOnly {
		run := d.scripts.Run
		d.checks = check.NewManager(d.log, run, 0, func() {
			d.alerts.checksChanged(d.checks)
			d.interruptRepair()
			select {
			case d.healthChg <- struct{}{}:
			default:
			}
		})
		if d.opts.NoProbeSharing {
			d.checks.SetProbeSharing(false)
		}
		if err := d.checks.Update(d.cfg, time.Now()); err != nil {
			d.log.Error("health checks", "err", err)
		}
		d.alerts.checksStarted(d.checks)
		d.updateLocalAddrs()
		d.checksDone = make(chan struct{})
		go func() { defer close(d.checksDone); d.checks.Run(ctx) }()
		k, err := d.opts.Kernel()
		if err != nil {
			// keepalived runs VRRP without IPVS too; say so loudly.
			d.log.Error("IPVS unavailable; virtual servers will not be programmed", "err", err)
		} else {
			d.kernel = k
			d.syncer = ipvs.NewSyncer(k, d.log, filepath.Join(d.opts.StateDir, "ipvs-owned.json"), d.cfg.Global.LVSFlush)
			d.reconcileIPVSAnnounced(reconcileStart)
			d.applyLVSTimeouts()
		}
	}
	if d.opts.CheckOnly {
		d.initTrackFiles()
	}
	if !d.opts.CheckOnly {
		// vrrp_startup_delay counts from lvsd's start, once (keepalived's
		// vrrp_delayed_start_time, set only when not reloading).
		if delay := d.cfg.Global.VRRPStartupDelay; delay > 0 {
			d.vrrpStartupEnd = time.Now().Add(delay)
			d.log.Info("delaying VRRP startup (vrrp_startup_delay)", "seconds", delay.Seconds())
		}
		if err := d.startRouter(ctx); err != nil {
			return err
		}
	}
	d.startBFD(ctx) // bfd_instance sessions (bfd.go)
	d.applySyncDaemons()
	d.resyncDone = make(chan struct{})
	go func() { defer close(d.resyncDone); d.runTemplateResync(ctx, d.opts.TemplateResync) }()
	return nil
}

func (d *Daemon) startRouter(ctx context.Context) error {
	r, err := d.newRouter(d.cfg)
	if err != nil {
		return err
	}
	d.handOver(ctx, r)
	return nil
}

// initTrackFiles writes track_file blocks' init_file when no router runs
// (-C): FILE_CHECK reads those files too. The router does it otherwise;
// track.InitFiles overwrites a file at most once a process, as keepalived
// writes it at start and not on a reload.
func (d *Daemon) initTrackFiles() {
	for _, err := range track.InitFiles(d.cfg) {
		d.log.Error("track_file init_file", "err", err)
	}
}

// newRouter builds (but does not run) the VRRP router of cfg: nil when it
// has no instances. Sockets are opened and interfaces checked here, so a
// failure leaves whatever runs untouched.
func (d *Daemon) newRouter(cfg *config.Config) (*vrrp.Router, error) {
	// keepalived runs its VRRP process for static_ipaddress, static_routes
	// and static_rules alone too; the router installs them.
	if len(cfg.Instances) == 0 && len(cfg.StaticAddresses)+len(cfg.StaticRoutes)+len(cfg.StaticRules) == 0 {
		return nil, nil
	}
	r, err := vrrp.NewRouter(cfg, d.opts.Platform(cfg), d.log)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	r.SetStartupDelayEnd(d.vrrpStartupEnd)
	return r, nil
}

// handOver moves VRRP from the running router (if any) to next (nil when
// the configuration has no instances): instances matched by VRID,
// interface and family carry their state over, others start or stop.
func (d *Daemon) handOver(ctx context.Context, next *vrrp.Router) {
	var handoff *vrrp.Handoff
	if old := d.routerRef.Load(); old != nil {
		keep := map[vrrp.InstanceKey]bool{}
		if next != nil {
			keep = next.Keys()
		}
		handoff = old.StopHandingOver(keep)
		d.clearRouter()
	}
	d.vrrpKey = vrrpFingerprint(d.cfg)
	if next == nil {
		// No instances any more: notify scripts still running from the
		// old router get the same bounded grace as at a stop.
		go handoff.Close(script.StopDrain, script.StopKill)
		return
	}
	next.Adopt(handoff)
	next.OnTransition(func() { d.vrrpChanged(); d.alerts.vrrpChanged(next) })
	next.OnEvent(func(ev vrrp.Event) { d.alerts.vrrpEvent(next, ev) })
	d.routerRef.Store(next)
	d.routerDone = make(chan error, 1)
	go func(done chan error) { done <- next.Run(ctx) }(d.routerDone)
}

func (d *Daemon) stopRouter() {
	if r := d.routerRef.Load(); r != nil {
		r.Stop()
		d.clearRouter()
	}
}

func (d *Daemon) clearRouter() {
	d.routerRef.Store(nil)
	d.routerDone = nil
}

// reconcileIPVS brings the kernel's table to the desired one for why; the
// syncer decides how much to read and write (ipvs.Syncer.Update, Repair).
// Failures are logged here and counted in the syncer's metrics; the next
// reconcile reads everything.
func (d *Daemon) reconcileIPVS(why reconcileReason) {
	if d.syncer == nil {
		return
	}
	build := func() ipvs.Table {
		var health ipvs.Health
		if d.checks != nil {
			health = d.checks.Snapshot()
		}
		// Shares the unchanged services of the table last programmed, so
		// that the syncer compares only the ones that changed.
		return ipvs.DesiredTableFrom(d.cfg, health, d.syncer.Programmed())
	}
	var st ipvs.Stats
	var err error
	if why == reconcileRepair {
		var interrupted bool
		st, interrupted, err = d.syncer.Repair(d.stopping, build)
		if interrupted {
			d.log.Debug("ipvs repair interrupted; it runs again at the next interval")
			return
		}
	} else {
		var noop bool
		st, noop, err = d.syncer.Update(d.stopping, build(), why.incremental())
		if noop {
			if why == reconcileReload {
				d.log.Info("ipvs reconciled", "why", why, "writes", 0)
			}
			return
		}
	}
	if d.stopping.Err() != nil {
		return
	}
	if err != nil {
		d.log.Error("ipvs reconcile", "why", why, "err", err)
		return
	}
	if len(st.LastOps) > 0 || why != reconcileRepair {
		d.log.Info("ipvs reconciled", "why", why, "writes", len(st.LastOps))
	}
}

// reconcileReason is why the IPVS table is reconciled.
type reconcileReason int

const (
	// reconcileStart: the first reconcile, a full one that reads the
	// kernel's table (adoption).
	reconcileStart reconcileReason = iota
	// reconcileHealth: checkers changed real servers' states.
	reconcileHealth
	// reconcileReload: a new configuration.
	reconcileReload
	// reconcileRepair: the periodic full comparison with the kernel; a
	// SIGHUP interrupts it.
	reconcileRepair
)

func (r reconcileReason) String() string {
	return [...]string{"start", "health", "reload", "repair"}[r]
}

// incremental: the reason touches known services only, which the syncer
// may diff against the table it last programmed.
func (r reconcileReason) incremental() bool { return r == reconcileHealth || r == reconcileReload }

func (d *Daemon) interruptRepair() {
	if d.syncer != nil {
		d.syncer.InterruptRepair()
	}
}

// reload applies a new configuration, or keeps the old one if the new one
// does not load. Everything that can fail (parsing, validation, opening
// VRRP sockets) happens before anything running is touched.
func (d *Daemon) reload(ctx context.Context) error {
	notifySystemd(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicMicros()))
	defer notifySystemd("READY=1")
	defer releaseLoadMemory()
	fail := func(err error) error {
		d.ReloadsFailed.Add(1)
		msg := err.Error()
		d.lastReloadErr.Store(&msg)
		d.log.Error("reload rejected; the running configuration stays", "err", err)
		return err
	}
	res, err := d.load()
	if err != nil {
		return fail(err)
	}
	vrrpChanged := !d.opts.CheckOnly && vrrpFingerprint(res.Config) != d.vrrpKey
	var next *vrrp.Router
	if vrrpChanged {
		if next, err = d.newRouter(res.Config); err != nil {
			return fail(err)
		}
	}
	d.setConfig(res)
	if d.opts.CheckOnly {
		d.initTrackFiles()
	}
	if d.checks != nil {
		if err := d.checks.Update(d.cfg, time.Now()); err != nil {
			d.log.Error("health checks", "err", err)
		}
	}
	d.reconcileIPVSAnnounced(reconcileReload)
	d.applyLVSTimeouts()
	// The alerts after the kernel: a reload's mails and FIFO lines need
	// not hold up its IPVS writes.
	d.alerts.update(d.cfg)
	if d.checks != nil {
		d.alerts.checksStarted(d.checks)
	}
	if vrrpChanged {
		d.handOver(ctx, next)
	}
	d.startBFD(ctx) // keeps the sessions of the same name (bfd.go)
	d.applySyncDaemons()
	d.ReloadsOK.Add(1)
	d.lastReloadErr.Store(nil)
	d.log.Info("reloaded", "hash", res.Hash)
	return nil
}

func (d *Daemon) stop() error {
	notifySystemd("STOPPING=1")
	start := time.Now()
	// lvsd_announce: the routes go first, so that the router moves new
	// flows to the other directors while this one still forwards.
	withdrawnAt, withdrew := d.withdrawAnnouncements()
	d.stopNow()
	// Cancelling the run's context stops the checkers while VRRP hands
	// over (the router stops on it too, as on Stop): each side may wait up
	// to a script's kill grace, and SIGTERM must end lvsd within 2 s.
	d.cancel()
	d.stopRouter()
	d.stopBFD()
	// The notify FIFOs' STOP lines, once the router has stopped (the end
	// of the run's context writes them too, racing the exit).
	d.alerts.stop()
	vrrpDone := time.Now()
	if d.checksDone != nil {
		<-d.checksDone
	}
	if d.resyncDone != nil {
		<-d.resyncDone // ended with the run's context
	}
	checksDone := time.Now()
	d.stopSyncDaemons()
	if d.syncer != nil {
		// keepalived's default and lvs_flush_on_stop VS both leave foreign
		// services alone; lvs_flush_on_stop without argument flushes all.
		mode := ipvs.StopRemoveOwn
		switch {
		case d.opts.KeepIPVSOnStop:
			mode = ipvs.StopKeep
		case d.cfg.Global.LVSFlushOnStop == "ALL":
			mode = ipvs.StopFlushAll
		}
		d.drainAnnouncements(withdrawnAt, withdrew, mode == ipvs.StopKeep)
		// Logged, not returned: the stop itself went as far as it could.
		if err := d.syncer.Stop(mode); err != nil {
			d.log.Error("ipvs stop", "err", err)
		}
	}
	d.restoreLVSTimeouts()
	d.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond), "vrrp", vrrpDone.Sub(start).Round(time.Millisecond),
		"checks", checksDone.Sub(vrrpDone).Round(time.Millisecond), "ipvs", time.Since(checksDone).Round(time.Millisecond))
	if d.cfg != nil {
		// shutdown_script: once everything lvsd set is undone (so the
		// stop's own time above leaves it out); the one of the
		// configuration in force (a reload's).
		d.runLifecycleScript(d.stopping, "shutdown", d.cfg.Global.ShutdownScript, d.cfg.Global.ShutdownScriptTimeout)
	}
	return nil
}

// vrrpFingerprint identifies the VRRP part of a configuration: the
// resolved spec the router runs, without source positions, so that a
// reload hands over exactly when what the router does would change.
func vrrpFingerprint(c *config.Config) string { return vrrp.ResolveSpec(c).Fingerprint() }

// updateLocalAddrs tells the checkers which addresses the host has, for
// ha_suspend (checkers of a virtual server whose address is not here, on
// a BACKUP director, are suspended as keepalived suspends them). Called at
// start, after each VRRP state change and at each repair interval (which
// also catches an address changed by hand).
func (d *Daemon) updateLocalAddrs() {
	if d.checks == nil {
		return
	}
	addrs, err := d.opts.LocalAddrs()
	if err != nil {
		d.log.Warn("ha_suspend: cannot list the host's addresses", "err", err)
		return
	}
	d.checks.SetLocalAddresses(addrs)
}

func hostAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ifas))
	for _, a := range ifas {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}
