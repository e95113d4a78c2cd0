package config

import (
	"net/netip"
	"time"
)

// VSGroupEntry is one line of a virtual_server_group: an address range and
// port, or a fwmark.
type VSGroupEntry struct {
	First  netip.Addr `json:"first,omitempty"`
	Last   netip.Addr `json:"last,omitempty"` // == First unless a range
	Port   uint16     `json:"port,omitempty"`
	FWMark uint32     `json:"fwmark,omitempty"`
	// Family is a fwmark entry's "inet" or "inet6" ("" takes the virtual
	// server's family).
	Family Family `json:"family,omitempty"`
	Pos    Pos    `json:"pos"`
}

type VSGroup struct {
	Name    string         `json:"name"`
	Entries []VSGroupEntry `json:"entries"`
	Pos     Pos            `json:"pos"`
}

// VirtualServer is a virtual_server block. Exactly one of Addr, FWMark or
// Group identifies it.
type VirtualServer struct {
	// SMTPAlert is smtp_alert (nil: the global default; internal/alert).
	SMTPAlert         *bool         `json:"smtp_alert,omitempty"`
	Addr              netip.Addr    `json:"addr,omitempty"`
	Port              uint16        `json:"port,omitempty"`
	FWMark            uint32        `json:"fwmark,omitempty"`
	Group             string        `json:"group,omitempty"`
	Protocol          Protocol      `json:"protocol"` // TCP, UDP, SCTP; "" for a fwmark
	Scheduler         string        `json:"lvs_sched"`
	SchedFlags        []string      `json:"sched_flags,omitempty"`
	OPS               bool          `json:"ops,omitempty"`
	Method            Method        `json:"lvs_method"` // NAT, DR, TUN
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
	// IPFamily is ip_family; for a fwmark or group virtual server without
	// it, Load resolves it as keepalived does (build_resolve.go
	// resolveFamilies).
	IPFamily     Family        `json:"ip_family,omitempty"`
	SorryServer  *RealServer   `json:"sorry_server,omitempty"`
	SorryInhibit bool          `json:"sorry_server_inhibit,omitempty"`
	RealServers  []*RealServer `json:"real_servers"`
	Announce     bool          `json:"lvsd_announce,omitempty"` // lvsd only: scaleout.go
	Pos          Pos           `json:"pos"`
	// Checker defaults set at virtual-server level, inherited by checkers.
	checkDefaults                    checkDefaults
	schedPos, methodPos, protocolPos Pos
	granularityPos, quorumPos        Pos
	// tunnel is the virtual server's lvs_method TUN options, the default
	// of its real and sorry servers (their Tunnel).
	tunnel Tunnel
	// defaultWeight is the virtual server's "weight": real servers that
	// set none take it (keepalived 2.2.7's vs->weight); 0 when not given.
	defaultWeight int
	// protocolDefaulted: no protocol keyword, UDP by default.
	protocolDefaulted bool
}

// Key names the virtual server as keepalived's logs do.
func (vs *VirtualServer) Key() string {
	switch {
	case vs.Group != "":
		return "group " + vs.Group
	case vs.FWMark != 0:
		return "FWM " + itoa(int(vs.FWMark))
	}
	return netip.AddrPortFrom(vs.Addr, vs.Port).String() + "/" + vs.Protocol.String()
}

type RealServer struct {
	// SMTPAlert is smtp_alert (nil: the global default; internal/alert).
	SMTPAlert        *bool      `json:"smtp_alert,omitempty"`
	Addr             netip.Addr `json:"addr"`
	Port             uint16     `json:"port"`
	Weight           int        `json:"weight"`
	Method           Method     `json:"lvs_method"`
	Tunnel           Tunnel     `json:"tunnel,omitzero"` // lvs_method TUN type/port/csum
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
	weightGiven      bool
	methodGiven      bool // lvs_method given (else the virtual server's)
	inhibitGiven     bool // inhibit_on_failure given (else the virtual server's)
	// checkDefaults are the checker settings the real server sets itself
	// (applyDefaults adds its virtual server's).
	checkDefaults checkDefaults
}

// checkDefaults carries checker settings that may be given at virtual or
// real server level (keepalived 2.x inherits them downwards), or by the
// checker itself; set says which were given (values, not pointers: no
// allocation per keyword).
type checkDefaults struct {
	connectTimeout, delayBeforeRetry, warmup, delayLoop time.Duration
	retry                                               int
	alpha                                               bool
	set                                                 checkSet
}

// checkSet: which of a checkDefaults' settings were given.
type checkSet uint8

const (
	ctSet checkSet = 1 << iota
	dbrSet
	warmupSet
	delayLoopSet
	retrySet
	alphaSet
)

// putTimer sets the timer bit names.
func (d *checkDefaults) putTimer(bit checkSet, v time.Duration) {
	switch bit {
	case ctSet:
		d.connectTimeout = v
	case dbrSet:
		d.delayBeforeRetry = v
	case warmupSet:
		d.warmup = v
	case delayLoopSet:
		d.delayLoop = v
	default:
		panic("checkDefaults.putTimer: not a timer")
	}
	d.set |= bit
}

// timer is the timer bit names, if given.
func (d *checkDefaults) timer(bit checkSet) (time.Duration, bool) {
	var v time.Duration
	switch bit {
	case ctSet:
		v = d.connectTimeout
	case dbrSet:
		v = d.delayBeforeRetry
	case warmupSet:
		v = d.warmup
	case delayLoopSet:
		v = d.delayLoop
	}
	return v, d.set&bit != 0
}

func (d *checkDefaults) putAlpha(v bool) { d.alpha, d.set = v, d.set|alphaSet }

// takeConnectTimeout gives d from's connect_timeout, or none when from
// has none.
func (d *checkDefaults) takeConnectTimeout(from checkDefaults) {
	d.connectTimeout, d.set = from.connectTimeout, d.set&^ctSet|from.set&ctSet
}

type URL struct {
	Path         string   `json:"path"`
	Digest       string   `json:"digest,omitempty"`
	StatusCodes  [][2]int `json:"status_code"`
	Virtualhost  string   `json:"virtualhost,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	RegexNoMatch bool     `json:"regex_no_match,omitempty"`
	// RegexFlags are the RE2 flags regex_options maps to (i, m, s, U).
	RegexFlags string `json:"regex_flags,omitempty"`
	// RegexMinOffset and RegexMaxOffset bound where in the response (from
	// its status line, as keepalived counts) a match may start:
	// regex_min_offset, and regex_max_offset+1 as keepalived 2.2.7 keeps
	// it (0: no bound).
	RegexMinOffset int `json:"regex_min_offset,omitempty"`
	RegexMaxOffset int `json:"regex_max_offset,omitempty"`
	regexSet       bool
	Pos            Pos `json:"pos"`
}

// Checker is a checker block. What only some checker types use is in Ext
// (nil for TCP_CHECK and PING_CHECK), so the common checker stays small:
// there is one per real server and checker, 40,000 in a 10,000 virtual
// server configuration. Read Ext through Extra (nil-safe). The JSON dump
// is flat, Ext's fields among the checker's (MarshalJSON).
type Checker struct {
	Type             CheckerType   `json:"type"`
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
	// HTTP_GET / SSL_GET (their urls are in Ext)
	HTTPProtocol string `json:"http_protocol,omitempty"`
	Virtualhost  string `json:"virtualhost,omitempty"`
	EnableSNI    bool   `json:"enable_sni,omitempty"`
	FastRecovery bool   `json:"fast_recovery,omitempty"`
	// Ext: the other type-specific settings (nil: none).
	Ext *CheckerExtra `json:"-"`
	// MISC_CHECK's misc_timeout (its path is in Ext).
	MiscTimeout time.Duration `json:"misc_timeout,omitempty"`
	Pos         Pos           `json:"pos"`
}

// CheckerExtra is what only some checker types use.
type CheckerExtra struct {
	// HTTP_GET / SSL_GET
	URLs []URL `json:"urls,omitempty"`
	// DNS_CHECK: the query's type (keepalived's names: A NS CNAME SOA
	// MX TXT AAAA RRSIG DNSKEY; SOA by default) and name ("" is the root).
	DNSType string `json:"dns_type,omitempty"`
	DNSName string `json:"dns_name,omitempty"`
	// UDP_CHECK: the datagram sent (nil: keepalived's 32-byte filler),
	// whether a reply is needed, the bytes it must start with (ReplyMask
	// bits set are wildcards; nil: none) and, when ReplyData is set, the
	// reply's length bounds (0 and 255 by default, as in keepalived).
	Payload      []byte `json:"payload,omitempty"`
	RequireReply bool   `json:"require_reply,omitempty"`
	ReplyData    []byte `json:"reply_data,omitempty"`
	ReplyMask    []byte `json:"reply_mask,omitempty"`
	MinReplyLen  int    `json:"min_reply_length,omitempty"`
	MaxReplyLen  int    `json:"max_reply_length,omitempty"`
	// SMTP_CHECK: the HELO name (keepalived's smtpchecker.keepalived.org
	// by default).
	HeloName string `json:"helo_name,omitempty"`
	// FILE_CHECK: the top-level track_file block it follows (its name and
	// file) and the weight its value is multiplied by (the block's unless
	// the checker sets one), FileReverse for "reverse".
	TrackFile     string `json:"track_file,omitempty"`
	TrackFilePath string `json:"track_file_path,omitempty"`
	FileWeight    int    `json:"file_weight,omitempty"`
	FileReverse   bool   `json:"file_reverse,omitempty"`
	// BFD_CHECK: the bfd_instance whose session state the real server
	// follows.
	BFD string `json:"bfd,omitempty"`
	// BFDSilent: the bfd_instance runs no session (keepalived's bfd
	// process dropped it), so no state ever reaches the checker, which
	// stays as it starts: up, or down with alpha.
	BFDSilent bool `json:"bfd_silent,omitempty"`
	// MISC_CHECK
	MiscPath    *Script `json:"misc_path,omitempty"`
	MiscDynamic bool    `json:"misc_dynamic,omitempty"`
}

// Extra is c's type-specific settings (zero when it has none); a copy.
func (c *Checker) Extra() CheckerExtra {
	if c.Ext == nil {
		return CheckerExtra{}
	}
	return *c.Ext
}

// MutExtra is c.Ext, allocated when nil: for code that builds checkers.
func (c *Checker) MutExtra() *CheckerExtra {
	if c.Ext == nil {
		c.Ext = new(CheckerExtra)
	}
	return c.Ext
}
