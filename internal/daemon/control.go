package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/bfd"
	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/metrics"
	"github.com/lvsd/lvsd/internal/vrrp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"
)

// StatusDoc is `lvsd status --json`.
type StatusDoc struct {
	PID        int    `json:"pid"`
	ConfigFile string `json:"config_file"`
	ConfigHash string `json:"config_hash"`
	// RouterID is global_defs' router_id (keepalived names the director
	// by it in its alerts): which director this is.
	RouterID      string    `json:"router_id,omitempty"`
	Started       time.Time `json:"started"`
	ReloadsOK     uint64    `json:"reloads_ok"`
	ReloadsFailed uint64    `json:"reloads_failed"`
	LastReloadErr string    `json:"last_reload_error,omitempty"`
	// ConfigSkippedErrors counts the running configuration's errors that
	// lvsd logged and ran past, leaving the item out, as keepalived does
	// (check-config lists them).
	ConfigSkippedErrors int `json:"config_skipped_errors,omitempty"`
	// HASuspended lists the virtual servers whose checkers ha_suspend
	// holds (their address is not on this host).
	HASuspended []string `json:"ha_suspended,omitempty"`
	// SyncDaemonErrors counts failed attempts to set the IPVS sync daemons.
	SyncDaemonErrors uint64 `json:"sync_daemon_errors,omitempty"`
	// SyncDaemon is lvs_sync_daemon as the kernel runs it; absent when
	// lvsd does not manage the sync daemons.
	SyncDaemon     *SyncStatus           `json:"sync_daemon,omitempty"`
	SysctlAdvice   []string              `json:"sysctl_advice,omitempty"`
	VRRP           []vrrp.InstanceStatus `json:"vrrp_instances"`
	VirtualServers []VSStatus            `json:"virtual_servers"`
	IPVSError      string                `json:"ipvs_error,omitempty"`
}

type VSStatus struct {
	Name        string     `json:"name"`
	Scheduler   string     `json:"scheduler"`
	Method      string     `json:"method"`
	InKernel    bool       `json:"in_kernel"`
	Connections uint64     `json:"connections"`
	RealServers []RSStatus `json:"real_servers"`
}

type RSStatus struct {
	Address      string    `json:"address"`
	Weight       int       `json:"weight"`
	KernelWeight *uint32   `json:"kernel_weight,omitempty"`
	Health       string    `json:"health"` // up, down, unchecked
	LastCheck    time.Time `json:"last_check,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Active       uint32    `json:"active_connections"`
	Inactive     uint32    `json:"inactive_connections"`
}

// metrics.Source

func (d *Daemon) VRRPStatus() []vrrp.InstanceStatus {
	if r := d.routerRef.Load(); r != nil {
		return r.Status()
	}
	return nil
}

func (d *Daemon) CheckStatus() []check.Status {
	if d.checks == nil {
		return nil
	}
	return d.checks.Status()
}

func (d *Daemon) IPVSStats() ([]ipvs.ServiceStats, error) {
	if d.kernel == nil {
		return nil, errors.New("IPVS not in use")
	}
	return ipvs.ReadStats(d.kernel)
}

func (d *Daemon) Reloads() (uint64, uint64) { return d.ReloadsOK.Load(), d.ReloadsFailed.Load() }

// SyncDaemonErrors counts failed attempts to set the IPVS sync daemons.
func (d *Daemon) SyncDaemonErrors() uint64 { return d.syncdErrors.Load() }

// IPVSReconciles is the syncer's cumulative reconciles, writes and errors.
func (d *Daemon) IPVSReconciles() (reconciles, writes, errors uint64, ok bool) {
	if d.syncer == nil {
		return 0, 0, 0, false
	}
	st := d.syncer.Stats()
	return uint64(st.Reconciles), uint64(st.Writes), uint64(st.Errors), true
}

// ConfigSkippedErrors is the running configuration's skipped errors.
func (d *Daemon) ConfigSkippedErrors() int {
	if s := d.snap.Load(); s != nil {
		return s.skipped
	}
	return 0
}

// BFDSessions is the published state of each bfd_instance the running
// configuration has (internal/bfd).
func (d *Daemon) BFDSessions() map[string]string {
	s := d.snap.Load()
	if s == nil || s.cfg == nil {
		return nil
	}
	out := map[string]string{}
	for _, in := range s.cfg.ActiveBFDInstances() {
		out[in.Name] = bfd.Published(in.Name).String()
	}
	return out
}

func (d *Daemon) ConfigHash() string {
	if s := d.snap.Load(); s != nil {
		return s.hash
	}
	return ""
}

type snapshot struct {
	cfg    *config.Config
	hash   string
	advice []string
	// skipped counts the errors in the running configuration that lvsd,
	// as keepalived, logged and ran past (the items left out).
	skipped int
}

// Status assembles the status document; safe from any goroutine.
func (d *Daemon) Status() StatusDoc {
	doc := StatusDoc{PID: os.Getpid(), ConfigFile: d.opts.ConfigFile, Started: d.started,
		ReloadsOK: d.ReloadsOK.Load(), ReloadsFailed: d.ReloadsFailed.Load(), VRRP: d.VRRPStatus(),
		SyncDaemonErrors: d.syncdErrors.Load()}
	if st := d.syncStatus.Load(); st != nil {
		c := *st
		c.TemplatesSent, c.TemplateSendErrors = d.resyncSent.Load(), d.resyncErrors.Load()
		doc.SyncDaemon = &c
	}
	if e := d.lastReloadErr.Load(); e != nil {
		doc.LastReloadErr = *e
	}
	s := d.snap.Load()
	if s == nil {
		return doc
	}
	doc.ConfigHash, doc.SysctlAdvice, doc.ConfigSkippedErrors = s.hash, s.advice, s.skipped
	doc.RouterID = s.cfg.Global.RouterID
	if d.checks != nil {
		doc.HASuspended = d.checks.Suspended()
		sort.Strings(doc.HASuspended)
	}
	checks := map[string][]check.Status{}
	for _, st := range d.CheckStatus() {
		k := st.Key.VS + "|" + st.Key.RS.String()
		checks[k] = append(checks[k], st)
	}
	kernel := map[ipvs.ServiceKey]ipvs.ServiceStats{}
	if !d.opts.VRRPOnly {
		stats, err := d.IPVSStats()
		if err != nil {
			doc.IPVSError = err.Error()
		}
		for _, st := range stats {
			kernel[st.Key] = st
		}
	}
	for _, vs := range s.cfg.VirtualServers {
		vst := VSStatus{Name: vs.Key(), Scheduler: vs.Scheduler, Method: vs.Method.String()}
		// The kernel's view of the first of its services that is there
		// (a group maps to several).
		var ks *ipvs.ServiceStats
		for _, key := range ipvs.ServiceKeys(s.cfg, vs) {
			if st, ok := kernel[key]; ok {
				ks = &st
				break
			}
		}
		if ks != nil {
			vst.InKernel, vst.Connections = true, ks.Stats.Connections
		}
		for _, rs := range vs.RealServers {
			ap := netip.AddrPortFrom(rs.Addr, rs.Port)
			r := RSStatus{Address: ap.String(), Weight: rs.Weight, Health: "unchecked"}
			for _, st := range checks[vs.Key()+"|"+ap.String()] {
				if r.Health != "down" {
					r.Health = map[bool]string{true: "up", false: "down"}[st.Up]
				}
				if st.LastCheck.After(r.LastCheck) {
					r.LastCheck = st.LastCheck
				}
				if st.LastError != "" {
					r.LastError = st.LastError
				}
			}
			if ks != nil {
				for _, dst := range ks.Dests {
					if dst.Addr == rs.Addr {
						w := dst.Weight
						r.KernelWeight, r.Active, r.Inactive = &w, dst.Active, dst.Inactive
					}
				}
			}
			vst.RealServers = append(vst.RealServers, r)
		}
		doc.VirtualServers = append(doc.VirtualServers, vst)
	}
	sort.Slice(doc.VirtualServers, func(i, j int) bool { return doc.VirtualServers[i].Name < doc.VirtualServers[j].Name })
	return doc
}

// controlListener is the control socket, bound (so that a second lvsd is
// refused before anything is touched) but served only once the daemon has
// started.
type controlListener struct {
	ln       *net.UnixListener
	path     string
	dev, ino uint64
	once     sync.Once
}

// listenControl binds the control socket at path with mode 0600.
//
// A socket there that nobody listens on (left by a crash) is replaced;
// one that answers means another lvsd runs, and anything that is not a
// socket is an error and stays. The socket is bound in a private
// directory (0700, next to path), given its mode there, and moved to path
// without replacing anything: it never exists at path with another mode.
// (Setting the umask around bind would do too, but the umask is the whole
// process's, and other goroutines may be creating files meanwhile.)
func listenControl(path, stateDir string) (*controlListener, error) {
	dir := filepath.Dir(path)
	if filepath.Clean(dir) != filepath.Clean(stateDir) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("control socket directory: %w", err)
		}
		if err := checkParentDir("control socket", dir); err != nil {
			return nil, err
		}
	}
	old, err := socketAt(path)
	if err != nil {
		return nil, err
	}
	var oldDev, oldIno uint64
	if old {
		c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another lvsd is running (it answers there)", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("control socket %s: cannot tell whether another lvsd listens there, so it stays: %w", path, err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
		oldDev, oldIno = st.Dev, st.Ino
	}
	private, err := os.MkdirTemp(dir, ".lvsd")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(private) // empty once the socket moved
	tmp := filepath.Join(private, "s")
	if len(tmp) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("control socket %s: path too long for a unix socket (lvsd binds it at %s first)", path, tmp)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // it moves; close removes it at path
	fail := func(err error) (*controlListener, error) {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(tmp, &st); err != nil {
		return fail(err)
	}
	if old && sameFile(path, oldDev, oldIno) {
		_ = os.Remove(path) // the stale socket looked at above, nothing else
	}
	if err := moveNoReplace(tmp, path); err != nil {
		return fail(err)
	}
	return &controlListener{ln: ln, path: path, dev: st.Dev, ino: st.Ino}, nil
}

// moveNoReplace renames from to to unless something is at to.
func moveNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// A file system without RENAME_NOREPLACE: link fails as well if
		// something is there.
		if err = os.Link(from, to); err == nil {
			_ = os.Remove(from)
		}
	}
	if errors.Is(err, unix.EEXIST) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("something appeared at the path meanwhile; lvsd does not replace it")
	}
	return err
}

// close stops listening and removes the socket if it is still lvsd's.
func (c *controlListener) close() {
	c.once.Do(func() {
		c.ln.Close()
		if sameFile(c.path, c.dev, c.ino) {
			_ = os.Remove(c.path)
		}
	})
}

// serveControl serves the control socket until ctx ends.
func (d *Daemon) serveControl(ctx context.Context, cl *controlListener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.Status())
	})
	mux.HandleFunc("GET /keepalived/{dump}", func(w http.ResponseWriter, r *http.Request) {
		b, err := d.RenderDump(r.PathValue("dump"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		reply := make(chan error, 1)
		d.interruptRepair()
		select {
		case d.reloadReq <- reply:
		case <-r.Context().Done():
			return
		}
		err := <-reply
		w.Header().Set("Content-Type", "application/json")
		res := map[string]any{"ok": err == nil}
		if err != nil {
			res["error"] = err.Error()
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		_ = json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		d.stopNow()
		select {
		case d.stopReq <- struct{}{}:
		default:
		}
		_, _ = w.Write([]byte("{\"ok\":true}\n"))
	})
	srv := endpointServer(mux, controlWriteTimeout, d.log)
	ln := namedListener{cl.ln, &net.UnixAddr{Name: cl.path, Net: "unix"}}
	go func() { _ = srv.Serve(limitListener(ln, controlMaxConns)) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		cl.close()
	}()
}

// listenMetrics binds the Prometheus listener; serveMetrics serves it.
func listenMetrics(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return ln, nil
}

// serveMetrics runs the Prometheus endpoint on ln until ctx ends.
func (d *Daemon) serveMetrics(ctx context.Context, ln net.Listener) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(d), metrics.NewKeepalivedCollector(d), metrics.NewAlertCollector(func() metrics.AlertStats {
		s := d.alerts.stats()
		return metrics.AlertStats{Sent: s.Sent, Failed: s.Failed, Dropped: s.Dropped, Retries: s.Retries, Queued: s.Queued,
			FIFODropped: d.alerts.fifoDropped()}
	}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil}))
	srv := endpointServer(mux, metricsWriteTimeout, d.log)
	go func() { _ = srv.Serve(limitListener(ln, metricsMaxConns)) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	d.log.Info("metrics", "addr", ln.Addr().String(), "max_connections", metricsMaxConns)
}
