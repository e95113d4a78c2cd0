// Package metrics exposes lvsd's state to Prometheus. Everything is read
// at scrape time from the daemon's components, so a metric can never
// disagree with `lvsd status`.
package metrics

import (
	"fmt"
	"strconv"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/vrrp"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what the collector reads; the daemon implements it.
type Source interface {
	VRRPStatus() []vrrp.InstanceStatus
	CheckStatus() []check.Status
	IPVSStats() ([]ipvs.ServiceStats, error)
	Reloads() (ok, failed uint64)
	// SyncDaemonErrors counts failed attempts to set the IPVS sync daemons.
	SyncDaemonErrors() uint64
	// IPVSReconciles is the IPVS syncer's cumulative count of reconciles,
	// kernel writes and failed writes or reads; ok is false without IPVS.
	IPVSReconciles() (reconciles, writes, errors uint64, ok bool)
	// IPVSSyncDaemons is what the kernel ran at the daemon's last check;
	// managed is false when lvsd does not manage the sync daemons.
	IPVSSyncDaemons() (running []ipvs.SyncDaemon, managed bool)
	ConfigHash() string
	// ConfigSkippedErrors counts the running configuration's errors that
	// lvsd logged and ran past, as keepalived does.
	ConfigSkippedErrors() int
	// BFDSessions is each running bfd_instance's session state
	// (internal/bfd's names: AdminDown, Down, Init, Up).
	BFDSessions() map[string]string
}

const ns = "lvsd"

var (
	vrrpState = prometheus.NewDesc(ns+"_vrrp_state", "VRRP instance state: 1 for the current state, 0 for the others.",
		[]string{"instance", "interface", "vrid", "state"}, nil)
	vrrpPriority = prometheus.NewDesc(ns+"_vrrp_priority", "Effective VRRP priority (after tracking weights).",
		[]string{"instance", "interface", "vrid"}, nil)
	vrrpTransitions = prometheus.NewDesc(ns+"_vrrp_transitions_total", "VRRP state transitions.",
		[]string{"instance", "interface", "vrid"}, nil)
	vrrpSent = prometheus.NewDesc(ns+"_vrrp_adverts_sent_total", "VRRP adverts sent.",
		[]string{"instance", "interface", "vrid"}, nil)
	vrrpReceived = prometheus.NewDesc(ns+"_vrrp_adverts_received_total", "VRRP adverts received and accepted.",
		[]string{"instance", "interface", "vrid"}, nil)
	vrrpDropped = prometheus.NewDesc(ns+"_vrrp_adverts_dropped_total", "VRRP packets dropped, by reason.",
		[]string{"instance", "interface", "vrid", "reason"}, nil)
	vrrpGARPs = prometheus.NewDesc(ns+"_vrrp_gratuitous_arps_sent_total", "Gratuitous ARPs sent.",
		[]string{"instance", "interface", "vrid"}, nil)
	vrrpNotifyDropped = prometheus.NewDesc(ns+"_vrrp_notify_dropped_total",
		"Notify script runs dropped because the instance changed state faster than its scripts ran.",
		[]string{"instance", "interface", "vrid"}, nil)

	checkUp = prometheus.NewDesc(ns+"_check_up", "Health checker result: 1 passing, 0 failing.",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	checkDuration = prometheus.NewDesc(ns+"_check_duration_seconds", "Duration of the checker's last attempt.",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	checkRuns = prometheus.NewDesc(ns+"_checks_total", "Checker attempts.",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	checkFailures = prometheus.NewDesc(ns+"_check_failures_total", "Failed checker attempts.",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	bfdUp = prometheus.NewDesc(ns+"_bfd_session_up", "BFD session of a bfd_instance: 1 Up, 0 otherwise (what track_bfd and BFD_CHECK see).",
		[]string{"instance"}, nil)
	checkShared = prometheus.NewDesc(ns+"_check_shared_total",
		"Checks of this checker answered by a probe another checker of the same target ran at the same moment (identical probes are sent once).",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	checkGroup = prometheus.NewDesc(ns+"_check_probe_group_size",
		"Number of checkers that share this checker's probes (1: it shares with none).",
		[]string{"virtual_server", "real_server", "checker"}, nil)
	checkUnknown = prometheus.NewDesc(ns+"_check_unknown_total",
		"Checker attempts without a verdict: lvsd was out of a local resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) and the real server kept its state.",
		[]string{"virtual_server", "real_server", "checker"}, nil)

	svcLabels     = []string{"local_address", "local_port", "local_mark", "proto"}
	backendLabels = []string{"local_address", "local_port", "local_mark", "proto", "remote_address", "remote_port"}
	ipvsConns     = prometheus.NewDesc(ns+"_ipvs_connections_total", "Connections scheduled by the virtual server.", svcLabels, nil)
	ipvsInPkts    = prometheus.NewDesc(ns+"_ipvs_incoming_packets_total", "Packets in to the virtual server.", svcLabels, nil)
	ipvsOutPkts   = prometheus.NewDesc(ns+"_ipvs_outgoing_packets_total", "Packets out of the virtual server.", svcLabels, nil)
	ipvsInBytes   = prometheus.NewDesc(ns+"_ipvs_incoming_bytes_total", "Bytes in to the virtual server.", svcLabels, nil)
	ipvsOutBytes  = prometheus.NewDesc(ns+"_ipvs_outgoing_bytes_total", "Bytes out of the virtual server.", svcLabels, nil)
	beActive      = prometheus.NewDesc(ns+"_ipvs_backend_connections_active", "Active connections to the real server.", backendLabels, nil)
	beInactive    = prometheus.NewDesc(ns+"_ipvs_backend_connections_inactive", "Inactive connections to the real server.", backendLabels, nil)
	beWeight      = prometheus.NewDesc(ns+"_ipvs_backend_weight", "Kernel weight of the real server.", backendLabels, nil)
	beConns       = prometheus.NewDesc(ns+"_ipvs_backend_connections_total", "Connections scheduled to the real server.", backendLabels, nil)
	beInBytes     = prometheus.NewDesc(ns+"_ipvs_backend_incoming_bytes_total", "Bytes in to the real server.", backendLabels, nil)
	beOutBytes    = prometheus.NewDesc(ns+"_ipvs_backend_outgoing_bytes_total", "Bytes out of the real server.", backendLabels, nil)
	ipvsUp        = prometheus.NewDesc(ns+"_ipvs_scrape_success", "1 if the IPVS table could be read at this scrape.", nil, nil)

	reloads      = prometheus.NewDesc(ns+"_config_reloads_total", "Configuration reloads, by result.", []string{"result"}, nil)
	syncdRunning = prometheus.NewDesc(ns+"_ipvs_sync_daemon_running",
		"The kernel's IPVS sync daemons lvsd manages (lvs_sync_daemon): 1 for a state running, 0 for one not running, as read back from the kernel.",
		[]string{"state"}, nil)
	syncdInfo = prometheus.NewDesc(ns+"_ipvs_sync_daemon_info",
		"A running IPVS sync daemon's settings as the kernel reports them (always 1).",
		[]string{"state", "interface", "sync_id", "group", "port", "maxlen", "ttl"}, nil)
	cfgSkipped = prometheus.NewDesc(ns+"_config_skipped_errors",
		"Errors in the running configuration that lvsd logged and ran past, leaving the item out, as keepalived 2.2.7 does (lvsd check-config lists them).", nil, nil)
	syncdErrors = prometheus.NewDesc(ns+"_ipvs_sync_daemon_errors_total",
		"Failed attempts to start or stop the kernel's IPVS sync daemons (lvs_sync_daemon).", nil, nil)
	ipvsReconciles = prometheus.NewDesc(ns+"_ipvs_reconciles_total", "Reconciles of the kernel's IPVS table with the desired one (health changes, reloads, repairs).", nil, nil)
	ipvsWrites     = prometheus.NewDesc(ns+"_ipvs_writes_total", "IPVS changes written to the kernel.", nil, nil)
	ipvsErrors     = prometheus.NewDesc(ns+"_ipvs_errors_total", "IPVS writes or table reads the kernel refused; the next repair retries.", nil, nil)
	cfgHash        = prometheus.NewDesc(ns+"_config_info", "The running configuration's hash, as a label.", []string{"hash"}, nil)
)

var vrrpStates = []string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

// Collector implements prometheus.Collector over a Source.
type Collector struct{ src Source }

func NewCollector(src Source) *Collector { return &Collector{src: src} }

func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{vrrpState, vrrpPriority, vrrpTransitions, vrrpSent, vrrpReceived, vrrpDropped, vrrpGARPs, vrrpNotifyDropped,
		checkUp, checkDuration, checkRuns, checkFailures, checkUnknown, checkShared, checkGroup, bfdUp, ipvsConns, ipvsInPkts, ipvsOutPkts, ipvsInBytes, ipvsOutBytes,
		beActive, beInactive, beWeight, beConns, beInBytes, beOutBytes, ipvsUp, reloads, syncdErrors, syncdRunning, syncdInfo, cfgSkipped, cfgHash, ipvsReconciles, ipvsWrites, ipvsErrors} {
		ch <- d
	}
}

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	for _, in := range c.src.VRRPStatus() {
		l := []string{in.Name, in.Interface, strconv.Itoa(in.VRID)}
		for _, s := range vrrpStates {
			v := 0.0
			if s == in.State {
				v = 1
			}
			gauge(vrrpState, v, append(l, s)...)
		}
		gauge(vrrpPriority, float64(in.Priority), l...)
		counter(vrrpTransitions, float64(in.Stats.Transitions), l...)
		counter(vrrpSent, float64(in.Stats.AdvertsSent), l...)
		counter(vrrpReceived, float64(in.Stats.AdvertsReceived), l...)
		counter(vrrpGARPs, float64(in.Stats.GARPsSent), l...)
		counter(vrrpNotifyDropped, float64(in.Stats.NotifyDropped), l...)
		for _, r := range vrrp.AllDropReasons {
			counter(vrrpDropped, float64(in.Stats.Drops[r]), append(l, string(r))...)
		}
	}
	for _, st := range c.src.CheckStatus() {
		l := []string{st.Key.VS, st.Key.RS.String(), fmt.Sprintf("%s#%d", st.Key.Type, st.Key.Index)}
		up := 0.0
		if st.Up {
			up = 1
		}
		gauge(checkUp, up, l...)
		gauge(checkDuration, st.LastDuration.Seconds(), l...)
		counter(checkRuns, float64(st.Checks), l...)
		counter(checkFailures, float64(st.Failures), l...)
		counter(checkUnknown, float64(st.Unknown), l...)
		counter(checkShared, float64(st.Shared), l...)
		gauge(checkGroup, float64(st.GroupSize), l...)
	}
	for name, state := range c.src.BFDSessions() {
		up := 0.0
		if state == "Up" {
			up = 1
		}
		gauge(bfdUp, up, name)
	}
	stats, err := c.src.IPVSStats()
	if err != nil {
		gauge(ipvsUp, 0)
	} else {
		gauge(ipvsUp, 1)
		for _, s := range stats {
			addr, port, mark, proto := "", "", "", ""
			if s.Key.FWMark != 0 {
				mark = strconv.FormatUint(uint64(s.Key.FWMark), 10)
			} else {
				addr, port, proto = s.Key.Addr.String(), strconv.Itoa(int(s.Key.Port)), ipvs.ProtoName(s.Key.Protocol)
			}
			l := []string{addr, port, mark, proto}
			counter(ipvsConns, float64(s.Stats.Connections), l...)
			counter(ipvsInPkts, float64(s.Stats.IncomingPackets), l...)
			counter(ipvsOutPkts, float64(s.Stats.OutgoingPackets), l...)
			counter(ipvsInBytes, float64(s.Stats.IncomingBytes), l...)
			counter(ipvsOutBytes, float64(s.Stats.OutgoingBytes), l...)
			for _, d := range s.Dests {
				bl := append(append([]string{}, l...), d.Addr.String(), strconv.Itoa(int(d.Port)))
				gauge(beActive, float64(d.Active), bl...)
				gauge(beInactive, float64(d.Inactive), bl...)
				gauge(beWeight, float64(d.Weight), bl...)
				counter(beConns, float64(d.Stats.Connections), bl...)
				counter(beInBytes, float64(d.Stats.IncomingBytes), bl...)
				counter(beOutBytes, float64(d.Stats.OutgoingBytes), bl...)
			}
		}
	}
	ok, failed := c.src.Reloads()
	counter(reloads, float64(ok), "success")
	counter(reloads, float64(failed), "failure")
	counter(syncdErrors, float64(c.src.SyncDaemonErrors()))
	if r, w, e, ok := c.src.IPVSReconciles(); ok {
		counter(ipvsReconciles, float64(r))
		counter(ipvsWrites, float64(w))
		counter(ipvsErrors, float64(e))
	}
	if running, managed := c.src.IPVSSyncDaemons(); managed {
		up := map[ipvs.SyncState]ipvs.SyncDaemon{}
		for _, d := range running {
			up[d.State] = d
		}
		for _, st := range []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup} {
			d, ok := up[st]
			if !ok {
				gauge(syncdRunning, 0, st.String())
				continue
			}
			gauge(syncdRunning, 1, st.String())
			group := ""
			if d.Group.IsValid() {
				group = d.Group.String()
			}
			gauge(syncdInfo, 1, st.String(), d.Interface, strconv.FormatUint(uint64(d.SyncID), 10), group,
				strconv.Itoa(int(d.Port)), strconv.Itoa(int(d.MaxLen)), strconv.Itoa(int(d.TTL)))
		}
	}
	gauge(cfgHash, 1, c.src.ConfigHash())
	gauge(cfgSkipped, float64(c.src.ConfigSkippedErrors()))
}
