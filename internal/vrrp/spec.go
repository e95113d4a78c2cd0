package vrrp

import (
	"encoding/json"
	"net/netip"
	"sort"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
)

// Spec is what the router runs of a configuration: every instance,
// script and sync group with global_defs inheritance and defaults
// resolved, and no source positions. Two configurations with equal specs
// run the same VRRP, so a reload between them hands nothing over.
type Spec struct {
	Instances  []InstanceSpec
	Scripts    []TrackScriptSpec
	SyncGroups []SyncGroupSpec
	// TrackFiles are the top-level track_file blocks, by name.
	TrackFiles []TrackFileSpec
	// TrackProcesses are the vrrp_track_process blocks, by name.
	TrackProcesses []config.TrackProcess
	// Static* are static_ipaddress, static_routes and static_rules.
	StaticAddresses []netif.VIP
	StaticRoutes    []config.Route
	StaticRules     []config.Rule
	// ScriptUser and ScriptSecurity decide how every script runs.
	ScriptUser, ScriptGroup string
	ScriptSecurity          bool
	// LogUnknownVRIDs is log_unknown_vrids: an advert no instance owns is
	// logged, not only counted.
	LogUnknownVRIDs bool
}

// InstanceSpec is one vrrp_instance as the router runs it.
type InstanceSpec struct {
	Name         string
	Interface    string
	VRID         int
	IPv6         bool
	Version      int
	Priority     int
	Interval     time.Duration
	Preempt      bool
	PreemptDelay time.Duration
	// DownTimerAdverts: adverts missed before taking over (down_timer_adverts).
	DownTimerAdverts int
	// SyncFailbackHold: PreemptDelay was raised to SyncFailbackHold for
	// lvs_sync_daemon (the configured delay was shorter).
	SyncFailbackHold bool
	// OwnerWaits: priority 255 with state BACKUP (see Params).
	OwnerWaits bool
	AuthType   uint8
	AuthData   [8]byte
	// VIPs are virtual_ipaddress and virtual_ipaddress_excluded, each with
	// its device resolved; AdvAddrs those that go into adverts.
	VIPs     []netif.VIP
	AdvAddrs []netip.Addr
	// TrackedVIPs are the VIPs whose deletion behind lvsd's back makes a
	// MASTER leave and take them again: all but those written no_track.
	TrackedVIPs []netif.VIP
	// Src is the configured source address; invalid means the
	// interface's primary address.
	Src        netip.Addr
	Group      netip.Addr // multicast group; invalid for unicast
	Peers      []netip.Addr
	UnicastTTL int
	GARP       GARPSchedule
	// HigherPrioSendAdvert and LowerPrioNoAdvert with global_defs applied.
	HigherPrioSendAdvert bool
	LowerPrioNoAdvert    bool
	DontTrackPrimary     bool
	// PromoteSecondaries: net.ipv4.conf.<Interface>.promote_secondaries is
	// raised to 1 when the router is built, and put back at lvsd's stop.
	PromoteSecondaries bool
	// CheckUnicastSrc: check_unicast_src (the instance's or global_defs')
	// on an instance that runs unicast.
	CheckUnicastSrc bool
	// PeerTTLs: the peers' min_ttl/max_ttl (with CheckUnicastSrc).
	PeerTTLs map[netip.Addr][2]int
	// SkipCheckAdvAddr: skip_check_adv_addr.
	SkipCheckAdvAddr bool
	// ConfigFault: held in FAULT by its configuration (unicast_fault_no_peer
	// without peers).
	ConfigFault     bool
	TrackInterfaces []TrackSpec
	TrackScripts    []TrackSpec
	TrackFiles      []TrackSpec
	TrackProcesses  []TrackSpec
	TrackBFDs       []TrackSpec
	VirtualRoutes   []config.Route
	VirtualRules    []config.Rule
	Notify          NotifySpec
	// NotifyPriorityChanges: notify_priority_changes resolved (instance,
	// then sync group, then vrrp_notify_priority_changes).
	NotifyPriorityChanges bool
	// NotifyMasterRxLowerPri is notify_master_rx_lower_pri.
	NotifyMasterRxLowerPri *ScriptSpec
	// StaticTrackLinks are the interfaces tracked through track_group
	// (config.Config.StaticTrackLinks): any of them down is a FAULT.
	StaticTrackLinks []string
}

// TrackFileSpec is a track_file block.
type TrackFileSpec struct {
	Name, Path    string
	Weight        int
	WeightReverse bool
	Init          config.TrackFileInit
	InitValue     int
}

// TrackSpec is a track_interface or track_script entry.
type TrackSpec struct {
	Name          string
	Weight        int
	HasWeight     bool
	WeightReverse bool
}

// ScriptSpec is a command as it is run.
type ScriptSpec struct {
	Argv        []string
	User, Group string
}

// NotifySpec holds an instance's or a group's notify scripts.
type NotifySpec struct {
	Any, Master, Backup, Fault, Stop *ScriptSpec
	// Deleted is notify_deleted's script; NotifyDeleted that the keyword
	// was given (an instance only).
	Deleted       *ScriptSpec
	NotifyDeleted bool
}

// SyncGroupSpec is a vrrp_sync_group.
type SyncGroupSpec struct {
	Name            string
	Members         []string
	Notify          NotifySpec
	TrackInterfaces []TrackSpec
	TrackScripts    []TrackSpec
	TrackFiles      []TrackSpec
	TrackProcesses  []TrackSpec
	TrackBFDs       []TrackSpec
	GlobalTracking  bool
}

// TrackScriptSpec is a vrrp_script block.
type TrackScriptSpec struct {
	Name              string
	Script            *ScriptSpec
	Interval, Timeout time.Duration
	Weight            int
	WeightReverse     bool
	Rise, Fall        int
	InitFail          bool
}

// ResolveSpec resolves cfg's VRRP part. It is what the router builds its
// instances from and what a reload compares.
func ResolveSpec(cfg *config.Config) Spec {
	g := cfg.Global
	s := Spec{ScriptUser: g.ScriptUser, ScriptGroup: g.ScriptGroup, ScriptSecurity: g.EnableScriptSecurity, LogUnknownVRIDs: g.LogUnknownVRIDs}
	for _, ic := range cfg.Instances {
		is := resolveInstance(g, ic)
		resolveWithConfig(cfg, ic, &is)
		s.Instances = append(s.Instances, is)
	}
	for _, sc := range cfg.Scripts {
		s.Scripts = append(s.Scripts, TrackScriptSpec{Name: sc.Name, Script: scriptSpec(sc.Command()), Interval: sc.Interval,
			Timeout: sc.Timeout, Weight: sc.Weight, WeightReverse: sc.WeightReverse, Rise: sc.Rise, Fall: sc.Fall, InitFail: sc.InitFail})
	}
	for _, sg := range cfg.SyncGroups {
		s.SyncGroups = append(s.SyncGroups, SyncGroupSpec{Name: sg.Name, Members: sg.Members,
			Notify:          notifySpec(sg.Notify, sg.NotifyMaster, sg.NotifyBackup, sg.NotifyFault, sg.NotifyStop),
			TrackInterfaces: trackSpecs(sg.TrackIfaces), TrackScripts: trackSpecs(sg.TrackScripts), TrackFiles: trackSpecs(sg.TrackFiles),
			TrackProcesses: trackSpecs(sg.TrackProcesses), TrackBFDs: trackSpecs(sg.TrackBFDs),
			GlobalTracking: sg.GlobalTracking})
	}
	for _, tf := range cfg.TrackFiles {
		s.TrackFiles = append(s.TrackFiles, TrackFileSpec{Name: tf.Name, Path: tf.Path, Weight: tf.Weight,
			WeightReverse: tf.WeightReverse, Init: tf.Init, InitValue: tf.InitValue})
	}
	for _, tp := range cfg.TrackProcesses {
		c := *tp
		c.Pos = config.Pos{}
		s.TrackProcesses = append(s.TrackProcesses, c)
	}
	s.StaticRoutes, s.StaticRules = routeSpecs(cfg.StaticRoutes), ruleSpecs(cfg.StaticRules)
	for _, v := range cfg.StaticAddresses {
		s.StaticAddresses = append(s.StaticAddresses, netif.VIP{Prefix: v.Prefix, Dev: v.Dev, Label: v.Label, Scope: v.Scope,
			Broadcast: vipBroadcast(v), DAD: v.NoDAD})
	}
	sort.Slice(s.TrackProcesses, func(i, j int) bool { return s.TrackProcesses[i].Name < s.TrackProcesses[j].Name })
	sort.Slice(s.TrackFiles, func(i, j int) bool { return s.TrackFiles[i].Name < s.TrackFiles[j].Name })
	applySyncFailbackHold(cfg, &s)
	return s
}

// Fingerprint identifies a Spec: equal fingerprints, equal VRRP.
func (s Spec) Fingerprint() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func resolveInstance(g config.Global, ic *config.Instance) InstanceSpec {
	// config.Load resolves every default (version, GARP, advert and
	// notify settings from global_defs and sync groups): this only
	// translates.
	v6 := ic.IPv6()
	version := ic.Version
	s := InstanceSpec{Name: ic.Name, Interface: ic.Interface, VRID: ic.VRID, IPv6: v6, Version: version,
		Priority: ic.Priority, Interval: ic.AdvertInterval, Preempt: !ic.NoPreempt, PreemptDelay: ic.PreemptDelay,
		DownTimerAdverts: ic.DownTimerAdverts,
		OwnerWaits:       ic.Priority == OwnerPriority && ic.InitialState != config.StateMaster,
		UnicastTTL:       ic.UnicastTTL, DontTrackPrimary: ic.DontTrackPrimary, PromoteSecondaries: ic.PromoteSecondaries,
		TrackInterfaces: trackSpecs(ic.TrackInterfaces), TrackScripts: trackSpecs(ic.TrackScripts),
		TrackFiles: trackSpecs(ic.TrackFiles), TrackProcesses: trackSpecs(ic.TrackProcesses), TrackBFDs: trackSpecs(ic.TrackBFDs),
		VirtualRoutes: routeSpecs(ic.VirtualRoutes), VirtualRules: ruleSpecs(ic.VirtualRules),
		Notify: notifySpec(ic.Notify, ic.NotifyMaster, ic.NotifyBackup, ic.NotifyFault, ic.NotifyStop)}
	s.Notify.Deleted, s.Notify.NotifyDeleted = scriptSpec(ic.NotifyDeletedScript), ic.NotifyDeleted
	s.CheckUnicastSrc = len(ic.UnicastPeers) > 0 && (g.VRRPCheckUnicastSrc || ic.CheckUnicastSrc)
	for _, p := range ic.UnicastPeerTTLs {
		if s.PeerTTLs == nil {
			s.PeerTTLs = map[netip.Addr][2]int{}
		}
		if _, dup := s.PeerTTLs[p.Peer]; !dup { // the first entry of a peer, as keepalived's list walk
			s.PeerTTLs[p.Peer] = [2]int{p.Min, p.Max}
		}
	}
	s.SkipCheckAdvAddr, s.ConfigFault = ic.SkipCheckAdvAddr, ic.ConfigFault
	for _, list := range [][]config.VIP{ic.VIPs, ic.ExcludedVIPs} {
		for _, v := range list {
			nv := netif.VIP{Prefix: v.Prefix, Dev: v.Dev, Label: v.Label, Scope: v.Scope, DAD: v.NoDAD}
			if nv.Dev == "" {
				nv.Dev = ic.Interface
			}
			nv.Broadcast = vipBroadcast(v)
			s.VIPs = append(s.VIPs, nv)
			if !v.NoTrack {
				s.TrackedVIPs = append(s.TrackedVIPs, nv)
			}
			if !v.Excluded && v.Prefix.Addr().Is6() == v6 {
				s.AdvAddrs = append(s.AdvAddrs, v.Prefix.Addr())
			}
		}
	}
	switch {
	case ic.UnicastSrcIP.IsValid():
		s.Src = ic.UnicastSrcIP
	case ic.McastSrcIP.IsValid():
		s.Src = ic.McastSrcIP
	}
	if len(ic.UnicastPeers) > 0 {
		s.Peers = ic.UnicastPeers
	} else if ic.McastDstIP.IsValid() {
		s.Group = ic.McastDstIP
	} else if v6 {
		s.Group = g.VRRPMcastGroup6
	} else {
		s.Group = g.VRRPMcastGroup4
	}
	if ic.AuthType == config.AuthPass && version == 2 {
		s.AuthType, s.AuthData = AuthPass, PassData(ic.AuthPass)
	}
	if ic.AuthType == config.AuthAH && version == 2 && !v6 {
		// AuthData is the HMAC key; adverts carry zeros there.
		s.AuthType, s.AuthData = AuthAH, PassData(ic.AuthPass)
	}
	s.GARP = GARPSchedule{
		Repeat:          ic.GARPMasterRepeat,
		Delay:           ic.GARPMasterDelay,
		Refresh:         ic.GARPMasterRefresh,
		RefreshRepeat:   ic.GARPMasterRefreshRep,
		Interval:        g.GARPInterval,
		LowerPrioRepeat: ic.GARPLowerPrioRepeat,
		LowerPrioDelay:  ic.GARPLowerPrioDelay,
	}
	s.HigherPrioSendAdvert = deref(ic.HigherPrioSendAdvert)
	s.LowerPrioNoAdvert = deref(ic.LowerPrioNoAdvert)
	return s
}

// deref reads a flag config.Load always sets (nil only in a hand-built
// configuration: off).
func deref(b *bool) bool { return b != nil && *b }

func scriptSpec(s *config.Script) *ScriptSpec {
	if s == nil {
		return nil
	}
	return &ScriptSpec{Argv: s.Argv, User: s.User, Group: s.Group}
}

func notifySpec(any, master, backup, fault, stop *config.Script) NotifySpec {
	return NotifySpec{Any: scriptSpec(any), Master: scriptSpec(master), Backup: scriptSpec(backup), Fault: scriptSpec(fault), Stop: scriptSpec(stop)}
}

func trackSpecs(items []config.TrackItem) []TrackSpec {
	var out []TrackSpec
	for _, t := range items {
		out = append(out, TrackSpec{Name: t.Name, Weight: t.Weight, HasWeight: t.HasWeight, WeightReverse: t.WeightReverse})
	}
	return out
}

// vipBroadcast is the broadcast address keepalived gives an IPv4 VIP:
// the one written, "+" (all host bits set) or "-" (none set) for prefixes
// up to /30, and otherwise none. None is 0.0.0.0, not an unset address:
// the netlink library netif uses fills in "+" for an unset one on
// prefixes up to /30, which keepalived does not (an address added
// without brd has none), and treats 0.0.0.0 as none.
func vipBroadcast(v config.VIP) netip.Addr {
	a := v.Prefix.Addr()
	if !a.Is4() {
		return netip.Addr{}
	}
	none := netip.IPv4Unspecified()
	switch v.Broadcast {
	case "+", "-":
		if v.Prefix.Bits() > 30 {
			return none
		}
		b := a.As4()
		host := uint32(1)<<(32-v.Prefix.Bits()) - 1
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if v.Broadcast == "+" {
			n |= host
		} else {
			n &^= host
		}
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	if b, err := netip.ParseAddr(v.Broadcast); err == nil && b.Is4() {
		return b
	}
	return none
}

// routeSpecs and ruleSpecs drop the source positions.
func routeSpecs(l []config.Route) []config.Route {
	var out []config.Route
	for _, r := range l {
		r.Pos = config.Pos{}
		out = append(out, r)
	}
	return out
}

func ruleSpecs(l []config.Rule) []config.Rule {
	var out []config.Rule
	for _, r := range l {
		r.Pos = config.Pos{}
		out = append(out, r)
	}
	return out
}
