package config

import (
	"net/netip"
	"time"
)

// Config is the typed model of a keepalived.conf, defaults filled in.
type Config struct {
	Files          []string         `json:"files"`
	Global         Global           `json:"global"`
	Scripts        []*VRRPScript    `json:"vrrp_scripts,omitempty"`
	SyncGroups     []*SyncGroup     `json:"vrrp_sync_groups,omitempty"`
	Instances      []*Instance      `json:"vrrp_instances,omitempty"`
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
	VRRPVersion           int           `json:"vrrp_version"`
	VRRPMcastGroup4       netip.Addr    `json:"vrrp_mcast_group4"`
	VRRPMcastGroup6       netip.Addr    `json:"vrrp_mcast_group6"`
	VRRPStrict            bool          `json:"vrrp_strict"`
	GARPMasterDelay       time.Duration `json:"vrrp_garp_master_delay"`
	GARPMasterRepeat      int           `json:"vrrp_garp_master_repeat"`
	GARPMasterRefresh     time.Duration `json:"vrrp_garp_master_refresh"`
	GARPMasterRefreshRep  int           `json:"vrrp_garp_master_refresh_repeat"`
	GARPLowerPrioDelay    time.Duration `json:"vrrp_garp_lower_prio_delay"`
	GARPLowerPrioRepeat   int           `json:"vrrp_garp_lower_prio_repeat"`
	GARPInterval          time.Duration `json:"vrrp_garp_interval"`
	// HigherPrioSendAdvert is vrrp_higher_prio_send_advert; unset means
	// lvsd's default, on (keepalived's is off; see docs/compatibility.md).
	HigherPrioSendAdvert *bool `json:"vrrp_higher_prio_send_advert,omitempty"`
	LowerPrioNoAdvert    bool  `json:"vrrp_lower_prio_no_advert,omitempty"`
	// LVSSyncDaemon is lvs_sync_daemon (or a vrrp_instance's
	// lvs_sync_daemon_interface); nil when not configured or when its
	// vrrp_instance does not exist (keepalived then clears it too).
	LVSSyncDaemon *SyncDaemon `json:"lvs_sync_daemon,omitempty"`
	// Ignored lists global keywords lvsd accepts for compatibility but does
	// not act on (SNMP, DBus, process priorities...).
	Ignored []string `json:"ignored,omitempty"`
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

// VSGroupEntry is one line of a virtual_server_group: an address range and
// port, or a fwmark.
type VSGroupEntry struct {
	First  netip.Addr `json:"first,omitempty"`
	Last   netip.Addr `json:"last,omitempty"` // == First unless a range
	Port   uint16     `json:"port,omitempty"`
	FWMark uint32     `json:"fwmark,omitempty"`
	Pos    Pos        `json:"pos"`
}

type VSGroup struct {
	Name    string         `json:"name"`
	Entries []VSGroupEntry `json:"entries"`
	Pos     Pos            `json:"pos"`
}

// VirtualServer is a virtual_server block. Exactly one of Addr, FWMark or
// Group identifies it.
type VirtualServer struct {
	Addr              netip.Addr    `json:"addr,omitempty"`
	Port              uint16        `json:"port,omitempty"`
	FWMark            uint32        `json:"fwmark,omitempty"`
	Group             string        `json:"group,omitempty"`
	Protocol          string        `json:"protocol"` // TCP, UDP, SCTP
	Scheduler         string        `json:"lvs_sched"`
	SchedFlags        []string      `json:"sched_flags,omitempty"`
	OPS               bool          `json:"ops,omitempty"`
	Method            string        `json:"lvs_method"` // NAT, DR, TUN
	Persistence       time.Duration `json:"persistence_timeout"`
	Persistent        bool          `json:"persistent"`
	Granularity       netip.Addr    `json:"persistence_granularity,omitempty"`
	PersistenceEngine string        `json:"persistence_engine,omitempty"`
	DelayLoop         time.Duration `json:"delay_loop"`
	Quorum            int           `json:"quorum"`
	Hysteresis        int           `json:"hysteresis"`
	QuorumUp          *Script       `json:"quorum_up,omitempty"`
	QuorumDown        *Script       `json:"quorum_down,omitempty"`
	Alpha             bool          `json:"alpha"`
	Omega             bool          `json:"omega"`
	HASuspend         bool          `json:"ha_suspend"`
	InhibitOnFailure  bool          `json:"inhibit_on_failure"`
	Virtualhost       string        `json:"virtualhost,omitempty"`
	IPFamily          string        `json:"ip_family,omitempty"`
	SorryServer       *RealServer   `json:"sorry_server,omitempty"`
	SorryInhibit      bool          `json:"sorry_server_inhibit,omitempty"`
	RealServers       []*RealServer `json:"real_servers"`
	Pos               Pos           `json:"pos"`
	// Checker defaults set at virtual-server level, inherited by checkers.
	checkDefaults                    checkDefaults
	schedPos, methodPos, protocolPos Pos
}

// Key names the virtual server as keepalived's logs do.
func (vs *VirtualServer) Key() string {
	switch {
	case vs.Group != "":
		return "group " + vs.Group
	case vs.FWMark != 0:
		return "FWM " + itoa(int(vs.FWMark))
	}
	return netip.AddrPortFrom(vs.Addr, vs.Port).String() + "/" + vs.Protocol
}

type RealServer struct {
	Addr             netip.Addr `json:"addr"`
	Port             uint16     `json:"port"`
	Weight           int        `json:"weight"`
	Method           string     `json:"lvs_method"`
	InhibitOnFailure bool       `json:"inhibit_on_failure"`
	UThreshold       int        `json:"uthreshold"`
	LThreshold       int        `json:"lthreshold"`
	NotifyUp         *Script    `json:"notify_up,omitempty"`
	NotifyDown       *Script    `json:"notify_down,omitempty"`
	Virtualhost      string     `json:"virtualhost,omitempty"`
	Alpha            bool       `json:"alpha"`
	Checkers         []*Checker `json:"checkers,omitempty"`
	Pos              Pos        `json:"pos"`
	portGiven        bool
	checkDefaults    checkDefaults
}

// checkDefaults carries checker settings that may be given at virtual or
// real server level (keepalived 2.x inherits them downwards).
type checkDefaults struct {
	connectTimeout, delayBeforeRetry, warmup, delayLoop *time.Duration
	retry                                               *int
	alpha                                               *bool
}

type URL struct {
	Path         string   `json:"path"`
	Digest       string   `json:"digest,omitempty"`
	StatusCodes  [][2]int `json:"status_code"`
	Virtualhost  string   `json:"virtualhost,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	RegexNoMatch bool     `json:"regex_no_match,omitempty"`
	Pos          Pos      `json:"pos"`
}

type Checker struct {
	Type             string        `json:"type"` // TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK
	ConnectIP        netip.Addr    `json:"connect_ip,omitempty"`
	ConnectPort      uint16        `json:"connect_port"`
	BindTo           netip.Addr    `json:"bindto,omitempty"`
	BindIf           string        `json:"bind_if,omitempty"`
	BindPort         uint16        `json:"bind_port,omitempty"`
	FWMark           uint32        `json:"fwmark,omitempty"`
	ConnectTimeout   time.Duration `json:"connect_timeout"`
	Retry            int           `json:"retry"`
	DelayBeforeRetry time.Duration `json:"delay_before_retry"`
	Warmup           time.Duration `json:"warmup"`
	DelayLoop        time.Duration `json:"delay_loop"`
	Alpha            bool          `json:"alpha"`
	LogAllFailures   bool          `json:"log_all_failures,omitempty"`
	// HTTP_GET / SSL_GET
	URLs         []URL  `json:"urls,omitempty"`
	HTTPProtocol string `json:"http_protocol,omitempty"`
	Virtualhost  string `json:"virtualhost,omitempty"`
	EnableSNI    bool   `json:"enable_sni,omitempty"`
	FastRecovery bool   `json:"fast_recovery,omitempty"`
	// MISC_CHECK
	MiscPath    *Script       `json:"misc_path,omitempty"`
	MiscTimeout time.Duration `json:"misc_timeout,omitempty"`
	MiscDynamic bool          `json:"misc_dynamic,omitempty"`
	Pos         Pos           `json:"pos"`
}
