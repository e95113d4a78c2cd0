package config

import (
	"net/netip"
	"time"
)

type VRRPScript struct {
	Name     string        `json:"name"`
	Script   *Script       `json:"script,omitempty"`
	Interval time.Duration `json:"interval"`
	Timeout  time.Duration `json:"timeout"`
	Weight   int           `json:"weight"`
	// WeightReverse is keepalived's "weight N reverse".
	WeightReverse bool   `json:"weight_reverse,omitempty"`
	Rise          int    `json:"rise"`
	Fall          int    `json:"fall"`
	InitFail      bool   `json:"init_fail,omitempty"`
	User          string `json:"user,omitempty"`
	Group         string `json:"group,omitempty"`
	Pos           Pos    `json:"pos"`
}

// Command is the script as it runs: the block's own user and group
// (vrrp_script { user }) apply when the script line names none.
func (s *VRRPScript) Command() *Script {
	if s.Script == nil || s.Script.User != "" || s.User == "" && s.Group == "" {
		return s.Script
	}
	c := *s.Script
	c.User, c.Group = s.User, s.Group
	return &c
}

type SyncGroup struct {
	Name         string      `json:"name"`
	Members      []string    `json:"members"`
	MemberPos    []Pos       `json:"-"`
	Notify       *Script     `json:"notify,omitempty"`
	NotifyMaster *Script     `json:"notify_master,omitempty"`
	NotifyBackup *Script     `json:"notify_backup,omitempty"`
	NotifyFault  *Script     `json:"notify_fault,omitempty"`
	NotifyStop   *Script     `json:"notify_stop,omitempty"`
	TrackScripts []TrackItem `json:"track_script,omitempty"`
	TrackIfaces  []TrackItem `json:"track_interface,omitempty"`
	// TrackFiles are track_file entries; weights resolved (an entry
	// without one has its track_file block's).
	TrackFiles []TrackItem `json:"track_file,omitempty"`
	// TrackProcesses are track_process entries, weights resolved.
	TrackProcesses []TrackItem `json:"track_process,omitempty"`
	// TrackBFDs are track_bfd entries, weights resolved (bfd.go).
	TrackBFDs      []TrackItem `json:"track_bfd,omitempty"`
	GlobalTracking bool        `json:"global_tracking,omitempty"`
	// NotifyPriorityChanges is notify_priority_changes (nil: not given).
	NotifyPriorityChanges *bool `json:"notify_priority_changes,omitempty"`
	// SMTPAlert is smtp_alert (nil: the global default; internal/alert).
	SMTPAlert *bool `json:"smtp_alert,omitempty"`
	Pos       Pos   `json:"pos"`
}

// TrackItem is an entry of track_script or track_interface with its weight.
type TrackItem struct {
	Name          string `json:"name"`
	Weight        int    `json:"weight"`
	HasWeight     bool   `json:"has_weight,omitempty"`
	WeightReverse bool   `json:"weight_reverse,omitempty"`
	Pos           Pos    `json:"pos"`
}

// VIP is one entry of virtual_ipaddress or virtual_ipaddress_excluded.
type VIP struct {
	Prefix    netip.Prefix `json:"prefix"`
	Broadcast string       `json:"brd,omitempty"`
	Dev       string       `json:"dev,omitempty"`
	Label     string       `json:"label,omitempty"`
	Scope     string       `json:"scope,omitempty"`
	// NoDAD is the -nodad option: keepalived 2.2.7 then adds the IPv6
	// address without IFA_F_NODAD (duplicate address detection runs);
	// without it, with IFA_F_NODAD.
	NoDAD    bool `json:"nodad,omitempty"`
	Excluded bool `json:"excluded,omitempty"`
	// UseVMAC is the use_vmac option (vmac.go resolves it into Dev).
	UseVMAC bool `json:"use_vmac,omitempty"`
	// NoTrack is no_track: a static address's track_group is not
	// tracked (model_track.go).
	NoTrack bool `json:"no_track,omitempty"`
	// TrackGroup is a static address's track_group (model_track.go).
	TrackGroup string `json:"track_group,omitempty"`
	Pos        Pos    `json:"pos"`
}

type Instance struct {
	// SMTPAlert is smtp_alert (nil: the global default; internal/alert).
	SMTPAlert      *bool         `json:"smtp_alert,omitempty"`
	Name           string        `json:"name"`
	InitialState   VRRPState     `json:"state"` // MASTER or BACKUP
	Interface      string        `json:"interface"`
	VRID           int           `json:"virtual_router_id"`
	Priority       int           `json:"priority"`
	AdvertInterval time.Duration `json:"advert_int"`
	Version        int           `json:"version"`
	AuthType       AuthType      `json:"auth_type,omitempty"` // "", "PASS" or "AH"
	AuthPass       string        `json:"auth_pass,omitempty"`
	VIPs           []VIP         `json:"virtual_ipaddress,omitempty"`
	ExcludedVIPs   []VIP         `json:"virtual_ipaddress_excluded,omitempty"`
	NoPreempt      bool          `json:"nopreempt"`
	PreemptDelay   time.Duration `json:"preempt_delay"`
	McastSrcIP     netip.Addr    `json:"mcast_src_ip,omitempty"`
	UnicastSrcIP   netip.Addr    `json:"unicast_src_ip,omitempty"`
	UnicastPeers   []netip.Addr  `json:"unicast_peer,omitempty"`
	// UnicastPeerTTLs are the TTL (hop limit) ranges of the unicast peers
	// that give min_ttl or max_ttl (checked with check_unicast_src).
	UnicastPeerTTLs []PeerTTL `json:"unicast_peer_ttls,omitempty"`
	// McastDstIP is mcast_dst_ip: the instance's multicast group instead of
	// vrrp_mcast_group4/6 (unset with unicast peers).
	McastDstIP netip.Addr `json:"mcast_dst_ip,omitempty"`
	// CheckUnicastSrc is check_unicast_src: a unicast instance drops
	// adverts whose source is none of its peers.
	CheckUnicastSrc bool `json:"check_unicast_src,omitempty"`
	// SkipCheckAdvAddr is skip_check_adv_addr: a BACKUP does not check
	// the addresses (nor the source) of adverts from the master it last
	// heard.
	SkipCheckAdvAddr bool `json:"skip_check_adv_addr,omitempty"`
	// UnicastFaultNoPeer is unicast_fault_no_peer; ConfigFault, set at
	// load, holds the instance in FAULT (a unicast instance without
	// peers with it: keepalived's num_config_faults).
	UnicastFaultNoPeer bool        `json:"unicast_fault_no_peer,omitempty"`
	ConfigFault        bool        `json:"config_fault,omitempty"`
	UnicastTTL         int         `json:"unicast_ttl,omitempty"`
	TrackInterfaces    []TrackItem `json:"track_interface,omitempty"`
	TrackScripts       []TrackItem `json:"track_script,omitempty"`
	// TrackFiles are track_file entries naming top-level track_file
	// blocks; Weight and WeightReverse are resolved (HasWeight says the
	// entry gave its own).
	TrackFiles []TrackItem `json:"track_file,omitempty"`
	// TrackProcesses are track_process entries naming vrrp_track_process
	// blocks, weights resolved as for TrackFiles.
	TrackProcesses []TrackItem `json:"track_process,omitempty"`
	// TrackBFDs are track_bfd entries naming bfd_instance blocks,
	// weights resolved (bfd.go).
	TrackBFDs []TrackItem `json:"track_bfd,omitempty"`
	// VirtualRoutes and VirtualRules are installed while the instance
	// is MASTER (after its addresses; removed before them).
	VirtualRoutes    []Route `json:"virtual_routes,omitempty"`
	VirtualRules     []Rule  `json:"virtual_rules,omitempty"`
	DontTrackPrimary bool    `json:"dont_track_primary,omitempty"`
	Notify           *Script `json:"notify,omitempty"`
	NotifyMaster     *Script `json:"notify_master,omitempty"`
	NotifyBackup     *Script `json:"notify_backup,omitempty"`
	NotifyFault      *Script `json:"notify_fault,omitempty"`
	NotifyStop       *Script `json:"notify_stop,omitempty"`
	// NotifyDeleted is notify_deleted: when a reload removes the instance
	// it is reported DELETED, and NotifyDeletedScript (its optional
	// argument) runs; without it keepalived 2.2.7 reports FAULT and runs
	// notify_fault, as it always did (vrrp.c clear_diff_vrrp).
	NotifyDeleted       bool    `json:"notify_deleted,omitempty"`
	NotifyDeletedScript *Script `json:"notify_deleted_script,omitempty"`
	// NotifyMasterRxLowerPri runs when this instance, MASTER, hears a
	// lower priority master (keepalived's MASTER_RX_LOWER_PRI event).
	NotifyMasterRxLowerPri *Script `json:"notify_master_rx_lower_pri,omitempty"`
	// NotifyPriorityChanges is notify_priority_changes; Load resolves it
	// (the instance's, else the sync group's, else
	// vrrp_notify_priority_changes), as it resolves the GARP settings and
	// the two advert flags below from global_defs: after Load they are
	// never nil (-1) and consumers take them as they are.
	NotifyPriorityChanges *bool         `json:"notify_priority_changes,omitempty"`
	GARPMasterDelay       time.Duration `json:"garp_master_delay"`
	GARPMasterRepeat      int           `json:"garp_master_repeat"`
	GARPMasterRefresh     time.Duration `json:"garp_master_refresh"`
	GARPMasterRefreshRep  int           `json:"garp_master_refresh_repeat"`
	GARPLowerPrioDelay    time.Duration `json:"garp_lower_prio_delay"`
	GARPLowerPrioRepeat   int           `json:"garp_lower_prio_repeat"`
	// DownTimerAdverts is down_timer_adverts: how many adverts a backup
	// misses before it takes over (1-100; vrrp_down_timer_adverts as it
	// stood when the block began, else 3; 3 in strict mode).
	DownTimerAdverts     int    `json:"down_timer_adverts"`
	HigherPrioSendAdvert *bool  `json:"higher_prio_send_advert,omitempty"`
	LowerPrioNoAdvert    *bool  `json:"lower_prio_no_advert,omitempty"`
	Accept               bool   `json:"accept"`
	StrictMode           bool   `json:"strict_mode,omitempty"`
	SyncGroup            string `json:"sync_group,omitempty"`
	// VMAC is use_vmac/vmac_xmit_base, UseVMACAddr use_vmac_addr, and
	// VMACs the macvlan interfaces the instance creates, its own first
	// (vmac.go).
	VMAC        *VMAC      `json:"use_vmac,omitempty"`
	UseVMACAddr bool       `json:"use_vmac_addr,omitempty"`
	VMACs       []VMACLink `json:"vmacs,omitempty"`
	// PromoteSecondaries is promote_secondaries: lvsd sets the interface's
	// net.ipv4.conf.DEV.promote_secondaries to 1 if it is 0 (cleared with
	// use_vmac, whose interfaces keepalived sets up so already).
	PromoteSecondaries bool `json:"promote_secondaries,omitempty"`
	Pos                Pos  `json:"pos"`
	priorityPos        Pos
	advertPos          Pos
	authPassPos        Pos
	statePos           Pos
	vridPos            Pos
	// Where keywords whose absence keepalived resolves later were given
	// (Line 0: not given); vrrp_complete_instance's rules need them.
	// strict_mode and accept/no_accept as written (applyDefaults
	// overwrites StrictMode and Accept before completeInstances).
	strictSet, acceptSet bool
	strictOwn, acceptOwn bool
	versionPos           Pos
	nopreemptPos         Pos
	preemptDelayPos      Pos
	downTimerAdvertsPos  Pos
	promotePos           Pos
	mcastDstPos          Pos
	// unicastConfigured: a unicast keyword was given (keepalived's
	// VRRP_FLAG_UNICAST_CONFIGURED), peers or not.
	unicastConfigured      bool
	garpLowerPrioRepeatPos Pos
	garpLowerPrioDelayPos  Pos
}

// IPv6 reports the instance's address family from its VIPs.
func (in *Instance) IPv6() bool {
	for _, v := range in.VIPs {
		return v.Prefix.Addr().Is6()
	}
	return false
}

// PeerTTL is a unicast peer's min_ttl and max_ttl: its adverts are taken
// only with a received TTL (hop limit) in [Min, Max].
type PeerTTL struct {
	Peer netip.Addr `json:"peer"`
	Min  int        `json:"min_ttl"`
	Max  int        `json:"max_ttl"`
}
