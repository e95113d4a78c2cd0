package config

import (
	"net/netip"
	"time"
)

func validateInstances(c *Config, d *Diagnostics) {
	scripts := map[string]bool{}
	for _, s := range c.Scripts {
		if scripts[s.Name] {
			d.Errorf(s.Pos, "vrrp_script %s is defined twice", s.Name)
		}
		scripts[s.Name] = true
	}
	completeInstances(c, scripts, d)
	type vridKey struct {
		iface   string
		vrid    int
		v6      bool
		unicast bool
		group   netip.Addr // mcast_dst_ip: another group is another VRID space
	}
	vrids := map[vridKey]*Instance{}
	names := map[string]bool{}
	vipOwner := map[netip.Addr]string{}
	for _, in := range c.Instances {
		if names[in.Name] {
			d.Errorf(in.Pos, "vrrp_instance %s is defined twice", in.Name)
		}
		names[in.Name] = true
		if in.Interface == "" {
			d.Errorf(in.Pos, "vrrp_instance %s has no interface", in.Name)
		}
		if in.VRID == 0 {
			if in.vridPos.Line == 0 {
				d.Errorf(in.Pos, "vrrp_instance %s has no virtual_router_id", in.Name)
			}
		} else {
			// Unicast and multicast are separate VRID spaces; unicast
			// instances sharing a VRID clash only through a common peer
			// (keepalived's check_vrid_conflicts).
			k := vridKey{in.Interface, in.VRID, in.IPv6(), len(in.UnicastPeers) > 0, in.McastDstIP}
			if other, dup := vrids[k]; dup && (!k.unicast || sharePeer(other, in)) {
				d.Errorf(in.vridPos, "virtual_router_id %d on %s is already used by vrrp_instance %s", in.VRID, in.Interface, other.Name)
			} else if !dup {
				vrids[k] = in
			}
		}
		if in.Priority == 255 && in.priorityPos.Line == 0 {
			d.Warnf(in.statePos, "vrrp_instance %s: state MASTER without priority runs at priority 255, the address owner's, as keepalived does", in.Name)
		} else if in.Priority == 255 {
			d.Warnf(in.priorityPos, "vrrp_instance %s: priority 255 is reserved for the owner of the virtual addresses (it must hold them as real addresses); check-config --host verifies it", in.Name)
		}
		validateAdvertInt(in, d)
		family := 0
		kept := in.VIPs[:0:0]
		for _, v := range in.VIPs {
			f := 4
			if v.Prefix.Addr().Is6() {
				f = 6
			}
			if family == 0 {
				family = f
			} else if f != family {
				// keepalived: "address family must match VRRP instance - ignoring".
				d.Skipf(v.Pos, "vrrp_instance %s: virtual address %s is not of the instance's family (its first address's); it is ignored, as keepalived does (use virtual_ipaddress_excluded or a second instance)", in.Name, v.Prefix)
				continue
			}
			kept = append(kept, v)
			if v.Prefix.Addr().IsMulticast() || v.Prefix.Addr().IsUnspecified() {
				d.Errorf(v.Pos, "virtual address %s is not a unicast address", v.Prefix.Addr())
			}
			if owner, dup := vipOwner[v.Prefix.Addr()]; dup {
				d.Warnf(v.Pos, "virtual address %s is also configured in vrrp_instance %s", v.Prefix.Addr(), owner)
			} else {
				vipOwner[v.Prefix.Addr()] = in.Name
			}
		}
		in.VIPs = kept
		if len(in.VIPs) == 0 {
			if in.Version == 3 || in.StrictMode {
				// keepalived's VRRP process exits: "No VIP specified; at least one is required".
				d.Errorf(in.Pos, "vrrp_instance %s has no virtual_ipaddress; VRRPv3 and strict mode need at least one (keepalived 2.2.7 does not start either)", in.Name)
			} else if len(in.ExcludedVIPs) == 0 {
				d.Warnf(in.Pos, "vrrp_instance %s has no virtual_ipaddress", in.Name)
			}
		}
		if family != 0 {
			checkFamily := func(what string, a netip.Addr, pos Pos) {
				if a.IsValid() && (a.Is6() != (family == 6)) {
					d.Errorf(pos, "vrrp_instance %s: %s %s is not the same address family as its virtual addresses", in.Name, what, a)
				}
			}
			checkFamily("mcast_src_ip", in.McastSrcIP, in.Pos)
			if a := in.McastDstIP; a.IsValid() && a.Is6() != (family == 6) {
				d.Skipf(in.mcastDstPos, "(%s) mcast dest address %s MUST match VRRP instance family. Skipping...", in.Name, a)
				in.McastDstIP = netip.Addr{}
			}
			checkFamily("unicast_src_ip", in.UnicastSrcIP, in.Pos)
			for _, p := range in.UnicastPeers {
				checkFamily("unicast_peer", p, in.Pos)
			}
		}
		if in.McastDstIP.IsValid() && len(in.UnicastPeers) > 0 {
			d.Skipf(in.mcastDstPos, "(%s) multicast destination specified with unicast - ignoring", in.Name)
			in.McastDstIP = netip.Addr{}
		}
		if in.unicastConfigured && len(in.UnicastPeers) == 0 {
			// vrrp_complete_instance: with unicast_fault_no_peer a log
			// line and a FAULT held until a reload; without, multicast
			// and a deprecation error (keepalived -t fails, run goes on).
			if in.UnicastFaultNoPeer {
				d.Warnf(in.Pos, "(%s) Cannot use unicast without any peers - going to fault state", in.Name)
				in.ConfigFault = true
			} else {
				d.Skipf(in.Pos, "(%s) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.", in.Name)
			}
		}
	}
}

// sharePeer reports whether unicast instances a and b send to a common peer.
func sharePeer(a, b *Instance) bool {
	for _, p := range a.UnicastPeers {
		for _, q := range b.UnicastPeers {
			if p == q {
				return true
			}
		}
	}
	return false
}

func validateAdvertInt(in *Instance, d *Diagnostics) {
	pos := in.advertPos
	if pos.Line == 0 {
		pos = in.Pos
	}
	// vrrp_complete_instance: VRRPv2 rounds to whole seconds (half up, at
	// least 1 s), VRRPv3 caps at 40.95 s and rounds to centiseconds (at
	// least 0.01 s). Each is a configuration error keepalived runs past.
	a := in.AdvertInterval
	if in.Version == 3 {
		const cs = 10 * time.Millisecond
		switch {
		case a >= 4096*cs:
			in.AdvertInterval = 4095 * cs
			d.Skipf(pos, "vrrp_instance %s: VRRPv3 advert_int %s is out of range (under 40.96 s); set to 40.95 s, as keepalived does", in.Name, a)
		case a%cs != 0:
			r := (a + cs/2) / cs * cs
			if r == 0 {
				r = cs
			}
			in.AdvertInterval = r
			d.Skipf(pos, "vrrp_instance %s: VRRPv3 advert_int %s must be in units of 10 ms; rounded to %s, as keepalived does", in.Name, a, r)
		}
		return
	}
	switch {
	case a >= 256*time.Second:
		in.AdvertInterval = 255 * time.Second
		d.Skipf(pos, "vrrp_instance %s: VRRPv2 advert_int %s is out of range (under 256 s); set to 255 s, as keepalived does", in.Name, a)
	case a%time.Second != 0:
		r := (a + time.Second/2) / time.Second * time.Second
		if r == 0 {
			r = time.Second
		}
		in.AdvertInterval = r
		d.Skipf(pos, "vrrp_instance %s: VRRPv2 advert_int %s must be whole seconds; rounded to %s, as keepalived does (use version 3 for fractions)", in.Name, a, r)
	}
}

func validateAuth(in *Instance, d *Diagnostics) {
	// vrrp_complete_instance's order; each case leaves authentication off
	// and is a configuration error keepalived runs past.
	if in.AuthType == AuthNone {
		if in.AuthPass != "" {
			d.Warnf(in.authPassPos, "vrrp_instance %s: auth_pass without auth_type is ignored", in.Name)
		}
		in.AuthPass = ""
		return
	}
	if len(in.AuthPass) > 8 {
		// keepalived truncates at parse time, whatever follows.
		d.Skipf(in.authPassPos, "vrrp_instance %s: auth_pass is longer than 8 characters; truncated to %q, as keepalived does", in.Name, in.AuthPass[:8])
		in.AuthPass = in.AuthPass[:8]
	}
	off := func(format string, args ...any) {
		d.Skipf(in.Pos, format, args...)
		in.AuthType, in.AuthPass = AuthNone, ""
	}
	switch {
	case in.StrictMode:
		off("vrrp_instance %s: strict mode does not support authentication; ignored (no authentication is sent), as keepalived does", in.Name)
		return
	case in.Version == 3:
		off("vrrp_instance %s: VRRPv3 has no authentication (RFC 5798); ignored, as keepalived does", in.Name)
		return
	case in.AuthPass == "":
		off("vrrp_instance %s: auth_type %s without auth_pass; ignored (no authentication is sent), as keepalived does", in.Name, in.AuthType)
		return
	case in.IPv6() && in.AuthType == AuthAH:
		off("vrrp_instance %s: AH authentication cannot be used with IPv6; ignored, as keepalived does", in.Name)
		return
	}
	if in.AuthType == AuthAH && in.InitialState == StateMaster && in.Priority != 255 {
		// keepalived must hear the master's sequence number before it
		// may send its own.
		d.Skipf(in.statePos, "vrrp_instance %s: initial state MASTER is incompatible with AH authentication; BACKUP is used, as keepalived does", in.Name)
		in.InitialState = StateBackup
	}
}

func validateSyncGroups(c *Config, d *Diagnostics) {
	for _, g := range c.SyncGroups {
		if len(g.Members) == 1 {
			d.Warnf(g.Pos, "vrrp_sync_group %s has only one member", g.Name)
		}
	}
}

// resolveSyncGroups is keepalived's vrrp_sync_set_group: a member that is
// not an instance, or already in another group, is ignored; a group left
// without members is removed. Each is a skipped error. Every instance's
// SyncGroup names the group it is in.
func resolveSyncGroups(c *Config, d *Diagnostics) {
	instances := map[string]*Instance{}
	for _, in := range c.Instances {
		instances[in.Name] = in
		in.SyncGroup = ""
	}
	var groups []*SyncGroup
	for _, g := range c.SyncGroups {
		var members []string
		var pos []Pos
		for i, m := range g.Members {
			in, ok := instances[m]
			switch {
			case !ok:
				d.Skipf(g.MemberPos[i], "vrrp_sync_group %s: vrrp_instance %s is not defined; ignored, as keepalived does", g.Name, m)
			case in.SyncGroup != "":
				d.Skipf(g.MemberPos[i], "vrrp_instance %s is already in vrrp_sync_group %s; ignored in %s, as keepalived does", m, in.SyncGroup, g.Name)
			default:
				in.SyncGroup = g.Name
				members, pos = append(members, m), append(pos, g.MemberPos[i])
			}
		}
		g.Members, g.MemberPos = members, pos
		if len(members) == 0 {
			d.Skipf(g.Pos, "vrrp_sync_group %s has no instance; it is removed, as keepalived does", g.Name)
			continue
		}
		groups = append(groups, g)
	}
	c.SyncGroups = groups
}

// completeInstances applies keepalived 2.2.7's vrrp_complete_instance and
// sync_group_tracking_init to the model, in their order, so that lvsd runs
// what keepalived runs: strict mode, default priority and state,
// preemption, accept mode, GARP and advert rules under strict mode, and
// tracking under sync groups and address owners. What keepalived reports
// as a configuration error and runs past is a Skipf here, with the value
// keepalived uses.
func completeInstances(c *Config, scripts map[string]bool, d *Diagnostics) {
	weightOf := map[string]int{}
	for _, s := range c.Scripts {
		weightOf[s.Name] = s.Weight
	}
	resolveSyncGroups(c, d)
	groups := map[string]*SyncGroup{}
	for _, g := range c.SyncGroups {
		groups[g.Name] = g
	}
	for _, in := range c.Instances {
		in.StrictMode = c.Global.VRRPStrict
		if in.strictSet {
			in.StrictMode = in.strictOwn
		}
		if in.IPv6() && in.Version != 3 {
			if in.StrictMode && in.versionPos.Line != 0 {
				d.Skipf(in.versionPos, "vrrp_instance %s: IPv6 cannot use VRRP version 2; version 3 is used, as keepalived does", in.Name)
			}
			in.Version = 3
		}
		// No priority: the address owner's 255 for state MASTER, else 100.
		if in.priorityPos.Line == 0 {
			in.Priority = 100
			if in.InitialState == StateMaster {
				in.Priority = 255
			}
		}
		if in.statePos.Line == 0 {
			in.InitialState = StateBackup
			if in.Priority == 255 {
				in.InitialState = StateMaster
			}
		} else if in.StrictMode && (in.InitialState == StateMaster) != (in.Priority == 255) {
			want := StateBackup
			if in.Priority == 255 {
				want = StateMaster
			}
			d.Skipf(in.statePos, "vrrp_instance %s: in strict mode state MASTER must match being the address owner (priority 255); state %s is used, as keepalived does", in.Name, want)
			in.InitialState = want
		}
		validateAuth(in, d)
		completeVMAC(c, in, d)
		in.TrackScripts = knownTracks(in.TrackScripts, scripts, "vrrp_instance "+in.Name, d)
		if in.StrictMode && len(in.UnicastPeers) > 0 {
			d.Warnf(in.Pos, "vrrp_instance %s: strict mode forbids unicast peers where the interface can multicast; keepalived 2.2.7 does not enforce it at start-up (only at reload), lvsd runs the instance unicast", in.Name)
		}
		if in.Priority == 255 && in.NoPreempt {
			d.Skipf(in.nopreemptPos, "vrrp_instance %s: nopreempt is incompatible with priority 255; cleared, as keepalived does", in.Name)
			in.NoPreempt = false
		}
		if in.InitialState == StateMaster {
			if in.NoPreempt {
				d.Skipf(in.nopreemptPos, "vrrp_instance %s: nopreempt does not work with initial state MASTER; cleared, as keepalived does", in.Name)
				in.NoPreempt = false
			}
			if in.PreemptDelay > 0 {
				d.Skipf(in.preemptDelayPos, "vrrp_instance %s: preempt_delay does not work with initial state MASTER; cleared, as keepalived does", in.Name)
				in.PreemptDelay = 0
			}
		}
		if in.PreemptDelay > 0 && in.StrictMode {
			d.Skipf(in.preemptDelayPos, "vrrp_instance %s: preempt_delay is incompatible with strict mode; cleared, as keepalived does", in.Name)
			in.PreemptDelay = 0
		}
		if in.DownTimerAdverts == 0 {
			in.DownTimerAdverts = 3 // VRRP_DOWN_TIMER_ADVERTS, RFC 5798 6.1
		}
		if in.DownTimerAdverts != 3 && in.StrictMode {
			pos := in.downTimerAdvertsPos
			if pos.Line == 0 {
				pos = in.Pos
			}
			d.Skipf(pos, "vrrp_instance %s: down_timer_adverts is incompatible with strict mode; 3 is used, as keepalived does", in.Name)
			in.DownTimerAdverts = 3
		}
		if in.PreemptDelay > 0 && in.NoPreempt {
			d.Skipf(in.preemptDelayPos, "vrrp_instance %s: preempt_delay is incompatible with nopreempt; cleared, as keepalived does", in.Name)
			in.PreemptDelay = 0
		}
		// Accept mode: by default on, off in strict mode unless the
		// address owner; VRRPv2 strict mode never accepts (RFC 3768).
		in.Accept = in.Priority == 255 || !in.StrictMode
		if in.acceptSet {
			in.Accept = in.acceptOwn
		}
		if in.Accept && in.Priority != 255 && in.StrictMode && in.Version == 2 {
			if in.acceptSet {
				d.Skipf(in.Pos, "vrrp_instance %s: accept mode with VRRP version 2 does not comply with RFC 3768 in strict mode; cleared, as keepalived does", in.Name)
			}
			in.Accept = false
		}
		if !in.Accept {
			d.Warnf(in.Pos, "vrrp_instance %s: no_accept (strict mode's default): keepalived installs nftables rules dropping traffic to the virtual addresses of a non-owner; lvsd does not install them, so the addresses accept traffic", in.Name)
		}
		if in.StrictMode {
			zero := func(pos Pos, what string) {
				if pos.Line != 0 {
					d.Skipf(pos, "vrrp_instance %s: strict mode requires %s 0; reset, as keepalived does", in.Name, what)
				}
			}
			if in.GARPLowerPrioRepeat != 0 {
				zero(in.garpLowerPrioRepeatPos, "garp_lower_prio_repeat")
			}
			if in.GARPLowerPrioDelay != 0 {
				zero(in.garpLowerPrioDelayPos, "garp_lower_prio_delay")
			}
			in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay = 0, 0
			if in.LowerPrioNoAdvert != nil && !*in.LowerPrioNoAdvert {
				d.Skipf(in.Pos, "vrrp_instance %s: strict mode requires lower_prio_no_advert; set, as keepalived does", in.Name)
			}
			if in.HigherPrioSendAdvert != nil && *in.HigherPrioSendAdvert {
				d.Skipf(in.Pos, "vrrp_instance %s: strict mode requires higher_prio_send_advert off; cleared, as keepalived does", in.Name)
			}
			t, f := true, false
			in.LowerPrioNoAdvert, in.HigherPrioSendAdvert = &t, &f
		}
		// A sync group member without sync_group_tracking_weight, and the
		// address owner, run no weights: weighted interfaces become
		// unweighted (FAULT) trackers in a group and are dropped for the
		// owner; weighted scripts are dropped.
		g := groups[in.SyncGroup]
		noWeights := g != nil && !g.GlobalTracking
		if noWeights || in.Priority == 255 {
			why := "it is the address owner (priority 255)"
			if noWeights {
				why = "it is in vrrp_sync_group " + g.Name + " without sync_group_tracking_weight"
			}
			var ifs []TrackItem
			for _, t := range in.TrackInterfaces {
				if t.Weight != 0 {
					if noWeights {
						d.Skipf(t.Pos, "vrrp_instance %s: track_interface %s weight %d is ignored because %s: the interface faults the instance when down, as keepalived does", in.Name, t.Name, t.Weight, why)
						t.Weight, t.WeightReverse = 0, false
					} else {
						d.Skipf(t.Pos, "vrrp_instance %s: weighted track_interface %s is dropped because %s, as keepalived does", in.Name, t.Name, why)
						continue
					}
				}
				ifs = append(ifs, t)
			}
			in.TrackInterfaces = ifs
			var scs []TrackItem
			for _, t := range in.TrackScripts {
				w := weightOf[t.Name]
				if t.HasWeight {
					w = t.Weight
				}
				if w != 0 {
					d.Skipf(t.Pos, "vrrp_instance %s: track_script %s has weight %d and is dropped because %s, as keepalived does", in.Name, t.Name, w, why)
					continue
				}
				scs = append(scs, t)
			}
			in.TrackScripts = scs
			// Track files (keepalived 2.2.7 vrrp_complete_instance): the
			// default weight 1 becomes 0 (the file faults the instance),
			// any other weight drops the entry.
			var tfs []TrackItem
			for _, t := range in.TrackFiles {
				switch t.Weight {
				case 0:
				case 1:
					d.Skipf(t.Pos, "vrrp_instance %s: the weight of track_file %s is ignored because %s (specify weight 0): a non-zero value faults the instance, as keepalived does", in.Name, t.Name, why)
					t.Weight = 0
				default:
					d.Skipf(t.Pos, "vrrp_instance %s: track_file %s has weight %d and is dropped because %s, as keepalived does", in.Name, t.Name, t.Weight, why)
					continue
				}
				tfs = append(tfs, t)
			}
			in.TrackFiles = tfs
			in.TrackBFDs = dropWeightedBFDs(in, why, d)
		}
	}
	for _, g := range c.SyncGroups {
		g.TrackScripts = knownTracks(g.TrackScripts, scripts, "vrrp_sync_group "+g.Name, d)
		owner := false
		for _, in := range c.Instances {
			if in.SyncGroup == g.Name && in.Priority == 255 {
				owner = true
			}
		}
		if !owner {
			continue
		}
		for i, t := range g.TrackProcesses {
			if t.Weight != 0 {
				d.Skipf(t.Pos, "vrrp_sync_group %s: track_process %s weight %d is set to 0 because a member has priority 255: losing quorum faults the group, as keepalived does", g.Name, t.Name, t.Weight)
				g.TrackProcesses[i].Weight = 0
			}
		}
		for i, t := range g.TrackFiles {
			if t.Weight != 0 {
				d.Skipf(t.Pos, "vrrp_sync_group %s: track_file %s weight %d is set to 0 because a member has priority 255: a non-zero value faults the group, as keepalived does", g.Name, t.Name, t.Weight)
				g.TrackFiles[i].Weight = 0
			}
		}
		zeroGroupBFDWeights(g, d)
		for i, t := range g.TrackScripts {
			w := weightOf[t.Name]
			if t.HasWeight {
				w = t.Weight
			}
			if w != 0 {
				d.Skipf(t.Pos, "vrrp_sync_group %s: track_script %s weight %d is cleared because a member has priority 255: it faults the group, as keepalived does", g.Name, t.Name, w)
				g.TrackScripts[i].Weight, g.TrackScripts[i].HasWeight, g.TrackScripts[i].WeightReverse = 0, true, false
			}
		}
	}
}

// knownTracks drops track_script entries naming no vrrp_script (undefined,
// or removed for having no script) and repeated ones, as keepalived does
// ("track script X not found, ignoring...").
func knownTracks(items []TrackItem, scripts map[string]bool, owner string, d *Diagnostics) []TrackItem {
	var out []TrackItem
	seen := map[string]bool{}
	for _, t := range items {
		switch {
		case !scripts[t.Name]:
			d.Skipf(t.Pos, "%s tracks vrrp_script %s, which is not defined; the entry is ignored, as keepalived does", owner, t.Name)
		case seen[t.Name]:
			d.Skipf(t.Pos, "%s tracks vrrp_script %s twice; the repeat is ignored, as keepalived does", owner, t.Name)
		default:
			seen[t.Name] = true
			out = append(out, t)
		}
	}
	return out
}
