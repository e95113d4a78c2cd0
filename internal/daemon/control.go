package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/metrics"
	"github.com/lvsd/lvsd/internal/vrrp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// StatusDoc is `lvsd status --json`.
type StatusDoc struct {
	PID            int                   `json:"pid"`
	ConfigFile     string                `json:"config_file"`
	ConfigHash     string                `json:"config_hash"`
	Started        time.Time             `json:"started"`
	ReloadsOK      uint64                `json:"reloads_ok"`
	ReloadsFailed  uint64                `json:"reloads_failed"`
	LastReloadErr  string                `json:"last_reload_error,omitempty"`
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
}

// Status assembles the status document; safe from any goroutine.
func (d *Daemon) Status() StatusDoc {
	doc := StatusDoc{PID: os.Getpid(), ConfigFile: d.opts.ConfigFile, Started: d.started,
		ReloadsOK: d.ReloadsOK.Load(), ReloadsFailed: d.ReloadsFailed.Load(), VRRP: d.VRRPStatus()}
	if e := d.lastReloadErr.Load(); e != nil {
		doc.LastReloadErr = *e
	}
	s := d.snap.Load()
	if s == nil {
		return doc
	}
	doc.ConfigHash, doc.SysctlAdvice = s.hash, s.advice
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
		vst := VSStatus{Name: vs.Key(), Scheduler: vs.Scheduler, Method: vs.Method}
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

// serveControl listens on the control socket (0600) until ctx ends.
func (d *Daemon) serveControl(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("control socket directory: %w", err)
	}
	// A socket left by a crashed lvsd would make Listen fail; a live one
	// answers, and two daemons must not share it.
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another lvsd is running", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.Status())
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = os.Remove(path)
	}()
	return nil
}

// serveMetrics runs the Prometheus endpoint until ctx ends.
func (d *Daemon) serveMetrics(ctx context.Context, addr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(d))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	d.log.Info("metrics", "addr", ln.Addr().String())
	return nil
}
