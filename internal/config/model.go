package config

import (
	"net/netip"
	"time"
)

// Config is the typed model of a keepalived.conf, defaults filled in.
type Config struct {
	Files      []string      `json:"files"`
	Global     Global        `json:"global"`
	Scripts    []*VRRPScript `json:"vrrp_scripts,omitempty"`
	SyncGroups []*SyncGroup  `json:"vrrp_sync_groups,omitempty"`
	Instances  []*Instance   `json:"vrrp_instances,omitempty"`
	// TrackFiles are the top-level track_file (vrrp_track_file) blocks
	// by name, shared by VRRP (track_file in instances and sync groups)
	// and the checkers (FILE_CHECK); see model_track.go.
	TrackFiles map[string]*TrackFile `json:"track_files,omitempty"`
	// TrackProcesses are the vrrp_track_process blocks by name.
	TrackProcesses map[string]*TrackProcess `json:"vrrp_track_processes,omitempty"`
	// BFDInstances are the bfd_instance blocks, in order (bfd.go).
	BFDInstances []*BFDInstance `json:"bfd_instances,omitempty"`
	// StaticAddresses, StaticRoutes and StaticRules are static_ipaddress,
	// static_routes and static_rules: installed at start, removed at stop.
	StaticAddresses []VIP   `json:"static_ipaddress,omitempty"`
	StaticRoutes    []Route `json:"static_routes,omitempty"`
	StaticRules     []Rule  `json:"static_rules,omitempty"`
	// TrackGroups are the track_group blocks by name (model_track.go).
	TrackGroups map[string]*TrackGroup `json:"track_groups,omitempty"`
	// rulePrio numbers rules without a preference, per family, as
	// keepalived does (16384 down, in configuration order).
	rulePrio       [2]int
	VSGroups       []*VSGroup       `json:"virtual_server_groups,omitempty"`
	VirtualServers []*VirtualServer `json:"virtual_servers,omitempty"`
}

// Script is a command keepalived would run, already split into argv.
type Script struct {
	Argv  []string `json:"argv"`
	User  string   `json:"user,omitempty"`
	Group string   `json:"group,omitempty"`
	Pos   Pos      `json:"pos"`
}

type Global struct {
	RouterID              string        `json:"router_id,omitempty"`
	NotificationEmail     []string      `json:"notification_email,omitempty"`
	NotificationEmailFrom string        `json:"notification_email_from,omitempty"`
	SMTPServer            string        `json:"smtp_server,omitempty"`
	SMTPConnectTimeout    time.Duration `json:"smtp_connect_timeout"`
	ScriptUser            string        `json:"script_user,omitempty"`
	ScriptGroup           string        `json:"script_group,omitempty"`
	EnableScriptSecurity  bool          `json:"enable_script_security"`
	LVSFlush              bool          `json:"lvs_flush"`
	LVSFlushOnStop        string        `json:"lvs_flush_onstop,omitempty"` // "", "VS" or "ALL"
	LVSTimeouts           LVSTimeouts   `json:"lvs_timeouts,omitzero"`
	VRRPVersion           int           `json:"vrrp_version"`
	VRRPMcastGroup4       netip.Addr    `json:"vrrp_mcast_group4"`
	VRRPMcastGroup6       netip.Addr    `json:"vrrp_mcast_group6"`
	VRRPStrict            bool          `json:"vrrp_strict"`
	GARPMasterDelay       time.Duration `json:"vrrp_garp_master_delay"`
	GARPMasterRepeat      int           `json:"vrrp_garp_master_repeat"`
	// StartupScript and ShutdownScript are startup_script and
	// shutdown_script: run once before lvsd starts its work and once after
	// it has undone it, waited for at most their timeouts
	// (startup_script_timeout, shutdown_script_timeout; 10 s when a
	// script is given, resolved at load).
	StartupScript         *Script       `json:"startup_script,omitempty"`
	StartupScriptTimeout  time.Duration `json:"startup_script_timeout,omitempty"`
	ShutdownScript        *Script       `json:"shutdown_script,omitempty"`
	ShutdownScriptTimeout time.Duration `json:"shutdown_script_timeout,omitempty"`
	// CheckerLogAllFailures is checker_log_all_failures: every checker
	// logs each failure while its real server is up, as log_all_failures
	// in the checker does.
	CheckerLogAllFailures bool `json:"checker_log_all_failures,omitempty"`
	// RSInitNotifies is rs_init_notifies: a real server that starts up
	// (at start, or new at a reload) runs its notify_up and writes its
	// "RS ... UP" FIFO line, as a later turn up would.
	RSInitNotifies bool `json:"rs_init_notifies,omitempty"`
	// DynamicInterfaces is dynamic_interfaces: an instance whose interface
	// does not exist yet is held in FAULT until it appears, instead of
	// failing the start.
	DynamicInterfaces bool `json:"dynamic_interfaces,omitempty"`
	// DefaultInterface is default_interface: the dev of a static_ipaddress
	// that names none ("": eth0, keepalived's DFLT_INT). Resolved while
	// parsing into each such address, as keepalived's get_default_if.
	DefaultInterface string `json:"default_interface,omitempty"`
	// VRRPCheckUnicastSrc is vrrp_check_unicast_src: check_unicast_src
	// for every unicast instance.
	VRRPCheckUnicastSrc bool `json:"vrrp_check_unicast_src,omitempty"`
	// VRRPSkipCheckAdvAddr is vrrp_skip_check_adv_addr, copied into the
	// instances whose block comes after it (keepalived's alloc_vrrp).
	VRRPSkipCheckAdvAddr bool `json:"vrrp_skip_check_adv_addr,omitempty"`
	// LogUnknownVRIDs is log_unknown_vrids.
	LogUnknownVRIDs bool `json:"log_unknown_vrids,omitempty"`
	// VRRPStartupDelay is vrrp_startup_delay: after lvsd starts, no VRRP
	// instance takes over before it has passed plus the master-down
	// interval (0: none).
	VRRPStartupDelay time.Duration `json:"vrrp_startup_delay,omitempty"`
	// VRRPDownTimerAdverts is vrrp_down_timer_adverts (0: not given, 3).
	VRRPDownTimerAdverts int           `json:"vrrp_down_timer_adverts,omitempty"`
	GARPMasterRefresh    time.Duration `json:"vrrp_garp_master_refresh"`
	GARPMasterRefreshRep int           `json:"vrrp_garp_master_refresh_repeat"`
	GARPLowerPrioDelay   time.Duration `json:"vrrp_garp_lower_prio_delay"`
	GARPLowerPrioRepeat  int           `json:"vrrp_garp_lower_prio_repeat"`
	GARPInterval         time.Duration `json:"vrrp_garp_interval"`
	// HigherPrioSendAdvert is vrrp_higher_prio_send_advert; unset means
	// lvsd's default, on (keepalived's is off; see docs/compatibility.md).
	HigherPrioSendAdvert *bool `json:"vrrp_higher_prio_send_advert,omitempty"`
	LowerPrioNoAdvert    bool  `json:"vrrp_lower_prio_no_advert,omitempty"`
	// LVSSyncDaemon is lvs_sync_daemon (or a vrrp_instance's
	// lvs_sync_daemon_interface); nil when not configured or when its
	// vrrp_instance does not exist (keepalived then clears it too).
	LVSSyncDaemon *SyncDaemon `json:"lvs_sync_daemon,omitempty"`
	Announce      *Announce   `json:"lvsd_announce,omitempty"` // lvsd only: scaleout.go

	// The e-mail alerts (internal/alert). SMTPServer above is
	// smtp_server's host (an IP address, or a name resolved when a mail
	// is sent), SMTPPort its port (25 by default).
	SMTPPort uint16 `json:"smtp_port,omitempty"`
	// SMTPHeloName is smtp_helo_name ("" is the host's name, as keepalived).
	SMTPHeloName string `json:"smtp_helo_name,omitempty"`
	// SMTPAlert, SMTPAlertVRRP and SMTPAlertChecker are the defaults of
	// the instances', sync groups', virtual and real servers' smtp_alert
	// (nil: not given); internal/alert resolves them as keepalived does.
	SMTPAlert        *bool `json:"smtp_alert,omitempty"`
	SMTPAlertVRRP    *bool `json:"smtp_alert_vrrp,omitempty"`
	SMTPAlertChecker *bool `json:"smtp_alert_checker,omitempty"`
	// SSL is the top-level SSL block: SSL_GET's client certificate
	// (internal/check LoadSSLClient); nil without one.
	SSL *SSLContext `json:"ssl,omitempty"`
	// VRRPNotifyPriorityChanges is vrrp_notify_priority_changes, the
	// default of the instances' and sync groups' notify_priority_changes.
	VRRPNotifyPriorityChanges bool `json:"vrrp_notify_priority_changes,omitempty"`
	// NoEmailFaults: no mail for an instance or sync group entering FAULT.
	NoEmailFaults bool `json:"no_email_faults,omitempty"`
	// NoCheckerEmails: a checker's mail only when its real server's state
	// changes (not when one of several checkers changes alone).
	NoCheckerEmails bool `json:"no_checker_emails,omitempty"`

	// The notify FIFOs: notify_fifo (VRRP and LVS lines), vrrp_notify_fifo
	// and lvs_notify_fifo, each with its *_script (nil when not given).
	NotifyFIFO     *NotifyFIFO `json:"notify_fifo,omitempty"`
	VRRPNotifyFIFO *NotifyFIFO `json:"vrrp_notify_fifo,omitempty"`
	LVSNotifyFIFO  *NotifyFIFO `json:"lvs_notify_fifo,omitempty"`
	// FIFOWriteVRRPStatesOnReload: after a reload every instance's and
	// group's state is written to the VRRP FIFOs again.
	FIFOWriteVRRPStatesOnReload bool `json:"fifo_write_vrrp_states_on_reload,omitempty"`
}

// SyncDaemon is the kernel's IPVS connection sync daemon as keepalived
// 2.2.7 drives it (global_parser.c lvs_syncd_handler, vrrp.c,
// check_daemon.c). With an Instance, the daemon follows that instance: a
// backup daemon from start-up, the master daemon (and no backup) while the
// instance is MASTER. Without one, a master and a backup daemon run at the
// same time for as long as lvsd runs.
type SyncDaemon struct {
	// Interface carries the sync messages (IFNAMSIZ-1 bytes at most).
	Interface string `json:"interface"`
	// Instance is the vrrp_instance the daemon follows ("" for none).
	Instance string `json:"vrrp_instance,omitempty"`
	// SyncID is id, resolved as keepalived resolves it: when not given,
	// the instance's virtual_router_id, or 0 without an instance or when
	// configured by lvs_sync_daemon_interface.
	SyncID int `json:"syncid"`
	// MaxLen, Port, TTL and Group are 0 or invalid when not given: the
	// kernel's defaults apply (a length from the MTU, 8848, 1,
	// 224.0.0.81).
	MaxLen int        `json:"maxlen,omitempty"`
	Port   int        `json:"port,omitempty"`
	TTL    int        `json:"ttl,omitempty"`
	Group  netip.Addr `json:"group,omitzero"`
	Pos    Pos        `json:"pos"`
	// InstancePos is where Instance is named.
	InstancePos Pos `json:"-"`

	syncIDGiven bool
}

// NotifyFIFO is a notify FIFO: created (mode 0644, owned by User/Group
// when given) if it does not exist, and Script, if given, started with
// the FIFO's path as its last argument to read it.
type NotifyFIFO struct {
	Path   string  `json:"path"`
	User   string  `json:"user,omitempty"`
	Group  string  `json:"group,omitempty"`
	Script *Script `json:"script,omitempty"`
	Pos    Pos     `json:"pos"`
}
