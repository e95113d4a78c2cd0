package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// vrrpGlobalTable is global_defs' VRRP keywords, merged into globalTable.
var vrrpGlobalTable = table[*Global]{
	"vrrp_version": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.intArg(n, 2, 3); ok {
			g.VRRPVersion = v
		}
	}},
	"vrrp_mcast_group4": {handle: func(b *builder, n *Node, g *Global) {
		if t, ok := b.arg(n); ok {
			if a, ok := b.addr(n.Key, t); ok {
				if !a.Is4() || !a.IsMulticast() {
					b.d.Errorf(t.Pos, "vrrp_mcast_group4 %s is not an IPv4 multicast address", a)
					return
				}
				g.VRRPMcastGroup4 = a
			}
		}
	}},
	"vrrp_mcast_group6": {handle: func(b *builder, n *Node, g *Global) {
		if t, ok := b.arg(n); ok {
			if a, ok := b.addr(n.Key, t); ok {
				if !a.Is6() || !a.IsMulticast() {
					b.d.Errorf(t.Pos, "vrrp_mcast_group6 %s is not an IPv6 multicast address", a)
					return
				}
				g.VRRPMcastGroup6 = a
			}
		}
	}},
	"vrrp_strict": {handle: func(b *builder, n *Node, g *Global) { g.VRRPStrict = true }},
	"vrrp_higher_prio_send_advert": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.boolArg(n); ok {
			g.HigherPrioSendAdvert = &v
		}
	}},
	"vrrp_lower_prio_no_advert": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.boolArg(n); ok {
			g.LowerPrioNoAdvert = v
		}
	}},
	"vrrp_garp_master_delay": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.timerArg(n, 0, time.Hour); ok {
			g.GARPMasterDelay = v
		}
	}},
	// vrrp_min_garp [BOOL]: one gratuitous ARP/NA on becoming master, no
	// delayed second train, no refresh repeat; global_parser.c changes
	// only what still has keepalived's default, so a setting written
	// before it stays, and one written after it wins.
	"vrrp_min_garp": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) > 0 {
			if on, ok := b.boolArg(n); !ok || !on {
				return
			}
		}
		if g.GARPMasterRepeat == 5 { // VRRP_GARP_REP
			g.GARPMasterRepeat = 1
		}
		if g.GARPMasterRefreshRep == 1 { // VRRP_GARP_REFRESH_REP
			g.GARPMasterRefreshRep = 0
		}
		if g.GARPMasterDelay == 5*time.Second { // VRRP_GARP_DELAY
			g.GARPMasterDelay = 0
		}
	}},
	// vrrp_startup_delay SECONDS (to the millisecond); keepalived logs a
	// delay of a minute or more as very large and keeps it.
	"vrrp_startup_delay": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.timerArg(n, time.Millisecond, math.MaxUint32*time.Microsecond); ok {
			g.VRRPStartupDelay = v.Round(time.Millisecond)
			if v >= time.Minute {
				b.d.Warnf(n.Pos(), "The vrrp_startup_delay is very large - %s seconds", n.Args[0].Text)
			}
		}
	}},
	"log_unknown_vrids": {handle: func(b *builder, n *Node, g *Global) { g.LogUnknownVRIDs = true }},
	// Neither takes an argument in keepalived 2.2.7 (one given is not read).
	"vrrp_check_unicast_src":   {handle: func(b *builder, n *Node, g *Global) { g.VRRPCheckUnicastSrc = true }},
	"vrrp_skip_check_adv_addr": {handle: func(b *builder, n *Node, g *Global) { g.VRRPSkipCheckAdvAddr = true }},
	"vrrp_down_timer_adverts": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.intArg(n, 1, 100); ok {
			g.VRRPDownTimerAdverts = v
		}
	}},
	"vrrp_garp_master_repeat": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.intArg(n, 1, 1<<20); ok {
			g.GARPMasterRepeat = v
		}
	}},
	"vrrp_garp_master_refresh": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.timerArg(n, 0, 24*time.Hour); ok {
			g.GARPMasterRefresh = v
		}
	}},
	"vrrp_garp_master_refresh_repeat": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.intArg(n, 1, 1<<20); ok {
			g.GARPMasterRefreshRep = v
		}
	}},
	"vrrp_garp_lower_prio_delay": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.timerArg(n, 0, time.Hour); ok {
			g.GARPLowerPrioDelay = v
		}
	}},
	"vrrp_garp_lower_prio_repeat": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.intArg(n, 0, 1<<20); ok {
			g.GARPLowerPrioRepeat = v
		}
	}},
	"vrrp_garp_interval": {handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.timerArg(n, 0, time.Minute); ok {
			g.GARPInterval = v
		}
	}},
}

// ---- vrrp_script ------------------------------------------------------

func (b *builder) vrrpScript(n *Node, c *Config) {
	name, ok := b.blockName(n, "vrrp_script")
	if !ok {
		return
	}
	s := &VRRPScript{Name: name, Interval: time.Second, Rise: 1, Fall: 1, Pos: n.Pos()}
	walk(b, n.Children, scriptTable, s, "vrrp_script "+name)
	if s.Script == nil {
		// keepalived 2.2.7 logs "No script set for vrrp_script X - removing"
		// and runs without it; what tracked it then tracks nothing
		// (validateInstances drops those entries the same way).
		b.d.Skipf(n.Pos(), "vrrp_script %s has no script; it is removed, as keepalived does, with every track_script entry naming it", name)
		return
	}
	c.Scripts = append(c.Scripts, s)
}

var scriptTable = table[*VRRPScript]{
	"script": {handle: func(b *builder, n *Node, s *VRRPScript) { s.Script = b.scriptLine(n) }},
	"interval": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if v, ok := b.timerArg(n, time.Microsecond, 24*time.Hour); ok {
			s.Interval = v
		}
	}},
	"timeout": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if v, ok := b.timerArg(n, time.Microsecond, 24*time.Hour); ok {
			s.Timeout = v
		}
	}},
	"weight": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if len(n.Args) == 0 {
			b.d.Errorf(n.Pos(), "weight needs a value")
			return
		}
		if v, ok := b.parseInt("weight", n.Args[0], -253, 253); ok {
			s.Weight = v
		}
		if len(n.Args) > 1 {
			if n.Args[1].Text == "reverse" {
				s.WeightReverse = true
			} else {
				b.d.Errorf(n.Args[1].Pos, "weight: expected \"reverse\", got %q", n.Args[1].Text)
			}
		}
	}},
	"rise": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if v, ok := b.intArg(n, 1, 1<<20); ok {
			s.Rise = v
		}
	}},
	"fall": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if v, ok := b.intArg(n, 1, 1<<20); ok {
			s.Fall = v
		}
	}},
	"init_fail": {handle: func(b *builder, n *Node, s *VRRPScript) { s.InitFail = true }},
	"user": {handle: func(b *builder, n *Node, s *VRRPScript) {
		if len(n.Args) == 0 {
			b.d.Errorf(n.Pos(), "user needs a user name")
			return
		}
		s.User = n.Args[0].Text
		if len(n.Args) > 1 {
			s.Group = n.Args[1].Text
		}
	}},
}

func (b *builder) blockName(n *Node, what string) (string, bool) {
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a name", what)
		return "", false
	}
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "%s %s has no { ... } block", what, n.Args[0].Text)
		return "", false
	}
	return n.Args[0].Text, true
}

// ---- vrrp_sync_group -------------------------------------------------

func (b *builder) syncGroup(n *Node, c *Config) {
	name, ok := b.blockName(n, "vrrp_sync_group")
	if !ok {
		return
	}
	g := &SyncGroup{Name: name, Pos: n.Pos()}
	walk(b, n.Children, syncGroupTable, g, "vrrp_sync_group "+name)
	if len(g.Members) == 0 {
		// keepalived warns of the empty group block and removes the group.
		b.d.Skipf(n.Pos(), "vrrp_sync_group %s has no group { ... } of instances; it is removed, as keepalived does", name)
		return
	}
	c.SyncGroups = append(c.SyncGroups, g)
}

var syncGroupTable = table[*SyncGroup]{
	"group": {handle: func(b *builder, n *Node, g *SyncGroup) {
		for _, m := range n.Children {
			g.Members = append(g.Members, m.Key)
			g.MemberPos = append(g.MemberPos, m.Pos())
			for _, extra := range m.Args {
				// keepalived 2.2 reports these as "Unknown keyword": several
				// names on one line are not a list.
				b.d.Skipf(extra.Pos, "vrrp_sync_group %s: put each instance on its own line (%q is ignored, as keepalived does)", g.Name, extra.Text)
			}
		}
	}},
	"notify":          {handle: func(b *builder, n *Node, g *SyncGroup) { g.Notify = b.scriptWithUser(n) }},
	"notify_master":   {handle: func(b *builder, n *Node, g *SyncGroup) { g.NotifyMaster = b.scriptWithUser(n) }},
	"notify_backup":   {handle: func(b *builder, n *Node, g *SyncGroup) { g.NotifyBackup = b.scriptWithUser(n) }},
	"notify_fault":    {handle: func(b *builder, n *Node, g *SyncGroup) { g.NotifyFault = b.scriptWithUser(n) }},
	"notify_stop":     {handle: func(b *builder, n *Node, g *SyncGroup) { g.NotifyStop = b.scriptWithUser(n) }},
	"track_script":    {handle: func(b *builder, n *Node, g *SyncGroup) { g.TrackScripts = b.trackList(n) }},
	"track_interface": {handle: func(b *builder, n *Node, g *SyncGroup) { g.TrackIfaces = b.trackList(n) }},
	"global_tracking": {handle: func(b *builder, n *Node, g *SyncGroup) {
		// keepalived 2.2.7 reports it (a config error) and applies it.
		b.d.Skipf(n.Pos(), "vrrp_sync_group %s: global_tracking is deprecated; it is applied as sync_group_tracking_weight, as keepalived does", g.Name)
		g.GlobalTracking = true
	}},
	"sync_group_tracking_weight": {handle: func(b *builder, n *Node, g *SyncGroup) { g.GlobalTracking = true }},
	"smtp_alert":                 {handle: func(b *builder, n *Node, g *SyncGroup) { optBool(b, n, &g.SMTPAlert) }},
	"notify_deleted":             {ignored: "not implemented yet"},
	"notify_priority_changes":    {handle: func(b *builder, n *Node, g *SyncGroup) { optBool(b, n, &g.NotifyPriorityChanges) }},
	"track_file": {handle: func(b *builder, n *Node, g *SyncGroup) {
		g.TrackFiles = b.trackFileList(n, "vrrp_sync_group "+g.Name, g.TrackFiles)
	}},
	"track_process": {handle: func(b *builder, n *Node, g *SyncGroup) {
		g.TrackProcesses = b.trackProcessList(n, "vrrp_sync_group "+g.Name, g.TrackProcesses)
	}},
	"track_bfd": {ignored: "BFD is not implemented"},
}

// trackList reads track_script / track_interface entries: NAME [weight N [reverse]].
func (b *builder) trackList(n *Node) []TrackItem {
	var out []TrackItem
	for _, c := range n.Children {
		it := TrackItem{Name: c.Key, Pos: c.Pos()}
		args := c.Args
		if len(args) > 0 {
			if args[0].Text != "weight" || len(args) < 2 {
				b.d.Errorf(args[0].Pos, "%s entry %s: expected \"weight N\", got %q", n.Key, c.Key, args[0].Text)
			} else if v, ok := b.parseInt("weight", args[1], -254, 254); ok {
				it.Weight, it.HasWeight = v, true
				if len(args) > 2 {
					if args[2].Text == "reverse" {
						it.WeightReverse = true
					} else {
						b.d.Errorf(args[2].Pos, "%s entry %s: expected \"reverse\", got %q", n.Key, c.Key, args[2].Text)
					}
				}
			}
		}
		if c.HasBlock {
			b.d.Errorf(c.Pos(), "%s entry %s cannot open a block", n.Key, c.Key)
		}
		out = append(out, it)
	}
	return out
}

// ---- vrrp_instance --------------------------------------------------

func (b *builder) instance(n *Node, c *Config) {
	name, ok := b.blockName(n, "vrrp_instance")
	if !ok {
		return
	}
	in := &Instance{
		Name: name, InitialState: StateBackup, Priority: 100, AdvertInterval: time.Second,
		Accept: true, Pos: n.Pos(),
		GARPMasterDelay: -1, GARPMasterRepeat: -1, GARPMasterRefresh: -1, GARPMasterRefreshRep: -1,
		GARPLowerPrioDelay: -1, GARPLowerPrioRepeat: -1,
		// keepalived takes the global value when it allocates the
		// instance (vrrp_data.c alloc_vrrp), not at the end.
		DownTimerAdverts: c.Global.VRRPDownTimerAdverts,
		SkipCheckAdvAddr: c.Global.VRRPSkipCheckAdvAddr,
	}
	walk(b, n.Children, instanceTable, in, "vrrp_instance "+name)
	c.Instances = append(c.Instances, in)
}

func instanceTimer(set func(*Instance, time.Duration), min, max time.Duration) keyword[*Instance] {
	return keyword[*Instance]{handle: func(b *builder, n *Node, in *Instance) {
		if v, ok := b.timerArg(n, min, max); ok {
			set(in, v)
		}
	}}
}

func instanceInt(set func(*Instance, int), min, max int) keyword[*Instance] {
	return keyword[*Instance]{handle: func(b *builder, n *Node, in *Instance) {
		if v, ok := b.intArg(n, min, max); ok {
			set(in, v)
		}
	}}
}

var instanceTable table[*Instance]

func init() {
	instanceTable = table[*Instance]{
		"state": {handle: func(b *builder, n *Node, in *Instance) {
			t, ok := b.arg(n)
			if !ok {
				return
			}
			// keepalived compares case-sensitively: anything else is
			// BACKUP, and BACKUP after MASTER is ignored.
			switch t.Text {
			case "MASTER":
				in.InitialState, in.statePos = StateMaster, t.Pos
			case "BACKUP":
				if in.statePos.Line != 0 && in.InitialState == StateMaster {
					b.d.Skipf(t.Pos, "state previously set as MASTER; BACKUP is ignored, as keepalived does")
					return
				}
				in.InitialState, in.statePos = StateBackup, t.Pos
			default:
				hint := ""
				if u := strings.ToUpper(t.Text); u == "MASTER" || u == "BACKUP" {
					hint = fmt.Sprintf(" (write %s: keepalived reads it case-sensitively)", u)
				}
				b.d.Skipf(t.Pos, "state %q is not MASTER or BACKUP%s; BACKUP is used, as keepalived does", t.Text, hint)
				in.InitialState, in.statePos = StateBackup, t.Pos
			}
		}},
		"interface": {handle: func(b *builder, n *Node, in *Instance) {
			if t, ok := b.arg(n); ok {
				in.Interface = t.Text
			}
		}},
		"virtual_router_id": {handle: func(b *builder, n *Node, in *Instance) {
			if t, ok := b.arg(n); ok {
				in.vridPos = t.Pos
				if v, ok := b.parseInt("virtual_router_id", t, 1, 255); ok {
					in.VRID = v
				}
			}
		}},
		"priority": {handle: func(b *builder, n *Node, in *Instance) {
			if t, ok := b.arg(n); ok {
				in.priorityPos = t.Pos
				v, err := strconv.Atoi(t.Text)
				if err != nil || v < 1 || v > 255 {
					// keepalived: "Priority not valid! must be between 1 & 255. Using default 100".
					b.d.Skipf(t.Pos, "priority %q is not 1..255; the default 100 is used, as keepalived does", t.Text)
					v = 100
				}
				in.Priority = v
			}
		}},
		"advert_int": {handle: func(b *builder, n *Node, in *Instance) {
			if t, ok := b.arg(n); ok {
				in.advertPos = t.Pos
				// keepalived reads 0.01..255 s to the microsecond and
				// ignores anything else (the default 1 s stays); the
				// version's own range and rounding are applied in
				// completeInstance, as vrrp_complete_instance does.
				f, err := strconv.ParseFloat(t.Text, 64)
				if err != nil || math.IsNaN(f) || f < 0.01 || f > 255 {
					b.d.Skipf(t.Pos, "advert_int %q is not 0.01..255 seconds; ignored, the interval stays %s, as keepalived does", t.Text, in.AdvertInterval)
					return
				}
				in.AdvertInterval = time.Duration(math.Round(f*1e6)) * time.Microsecond
			}
		}},
		"version": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.intArg(n, 2, 3); ok {
				in.Version, in.versionPos = v, n.Pos()
			}
		}},
		"authentication": {handle: func(b *builder, n *Node, in *Instance) {
			walk(b, n.Children, authTable, in, "authentication")
		}},
		"virtual_ipaddress": {handle: func(b *builder, n *Node, in *Instance) {
			in.VIPs = append(in.VIPs, b.vipList(n, false)...)
		}},
		"virtual_ipaddress_excluded": {handle: func(b *builder, n *Node, in *Instance) {
			in.ExcludedVIPs = append(in.ExcludedVIPs, b.vipList(n, true)...)
		}},
		"nopreempt": {handle: func(b *builder, n *Node, in *Instance) { in.NoPreempt, in.nopreemptPos = true, n.Pos() }},
		"preempt":   {handle: func(b *builder, n *Node, in *Instance) { in.NoPreempt = false }},
		"preempt_delay": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.timerArg(n, 0, time.Hour); ok {
				in.PreemptDelay, in.preemptDelayPos = v, n.Pos()
			}
		}},
		"mcast_src_ip": {handle: func(b *builder, n *Node, in *Instance) {
			if t, ok := b.arg(n); ok {
				if a, ok := b.addr(n.Key, t); ok {
					in.McastSrcIP = a
				}
			}
		}},
		"unicast_src_ip": {handle: func(b *builder, n *Node, in *Instance) {
			in.unicastConfigured = true // before the address is read, as keepalived
			if t, ok := b.arg(n); ok {
				if a, ok := b.addr(n.Key, t); ok {
					in.UnicastSrcIP = a
				}
			}
		}},
		"unicast_peer": {handle: func(b *builder, n *Node, in *Instance) {
			in.unicastConfigured = true // an empty block too
			for _, p := range n.Children {
				a, ok := b.addr("unicast_peer", p.KeyTok)
				if !ok {
					continue
				}
				in.UnicastPeers = append(in.UnicastPeers, a)
				// alloc_vrrp_unicast_peer: "min_ttl N" and "max_ttl N"
				// pairs; either turns check_unicast_src on. A value that
				// is no number 0-255 is passed over silently.
				ttl := PeerTTL{Peer: a, Min: 0, Max: 255}
				given := false
				for i := 0; i < len(p.Args); i += 2 {
					if i+1 >= len(p.Args) {
						b.d.Skipf(p.Args[i].Pos, "(%s) %s is missing a value", in.Name, p.Args[i].Text)
						break
					}
					v, err := strconv.ParseUint(p.Args[i+1].Text, 10, 8)
					if err != nil {
						continue
					}
					switch p.Args[i].Text {
					case "min_ttl":
						ttl.Min = int(v)
					case "max_ttl":
						ttl.Max = int(v)
					default:
						b.d.Skipf(p.Args[i].Pos, "(%s) unknown unicast_peer option %s", in.Name, p.Args[i].Text)
					}
					if p.Args[i].Text != "min_ttl" && p.Args[i].Text != "max_ttl" {
						break
					}
					given, in.CheckUnicastSrc = true, true
				}
				if ttl.Min > ttl.Max {
					b.d.Skipf(p.Pos(), "(%s) min_ttl %d > max_ttl %d - all packets will be discarded", in.Name, ttl.Min, ttl.Max)
				}
				if given {
					in.UnicastPeerTTLs = append(in.UnicastPeerTTLs, ttl)
				}
			}
		}},
		"unicast_ttl": instanceInt(func(in *Instance, v int) { in.UnicastTTL = v }, 1, 255),
		"track_interface": {handle: func(b *builder, n *Node, in *Instance) {
			in.TrackInterfaces = append(in.TrackInterfaces, b.trackList(n)...)
		}},
		"track_script":       {handle: func(b *builder, n *Node, in *Instance) { in.TrackScripts = append(in.TrackScripts, b.trackList(n)...) }},
		"dont_track_primary": {handle: func(b *builder, n *Node, in *Instance) { in.DontTrackPrimary = true }},
		"notify":             {handle: func(b *builder, n *Node, in *Instance) { in.Notify = b.scriptWithUser(n) }},
		"notify_master":      {handle: func(b *builder, n *Node, in *Instance) { in.NotifyMaster = b.scriptWithUser(n) }},
		"notify_backup":      {handle: func(b *builder, n *Node, in *Instance) { in.NotifyBackup = b.scriptWithUser(n) }},
		"notify_fault":       {handle: func(b *builder, n *Node, in *Instance) { in.NotifyFault = b.scriptWithUser(n) }},
		"notify_stop":        {handle: func(b *builder, n *Node, in *Instance) { in.NotifyStop = b.scriptWithUser(n) }},
		"notify_deleted": {handle: func(b *builder, n *Node, in *Instance) {
			// vrrp_notify_deleted_handler: a second one is reported and skipped.
			if in.NotifyDeleted {
				b.d.Skipf(n.Pos(), "(%s) notify_deleted already specified - ignoring", in.Name)
				return
			}
			in.NotifyDeleted = true
			if len(n.Args) > 0 {
				in.NotifyDeletedScript = b.scriptWithUser(n)
			}
		}},
		"garp_master_delay":          instanceTimer(func(in *Instance, v time.Duration) { in.GARPMasterDelay = v }, 0, time.Hour),
		"garp_master_repeat":         instanceInt(func(in *Instance, v int) { in.GARPMasterRepeat = v }, 1, 1<<20),
		"garp_master_refresh":        instanceTimer(func(in *Instance, v time.Duration) { in.GARPMasterRefresh = v }, 0, 24*time.Hour),
		"garp_master_refresh_repeat": instanceInt(func(in *Instance, v int) { in.GARPMasterRefreshRep = v }, 1, 1<<20),
		"garp_lower_prio_delay": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.timerArg(n, 0, time.Hour); ok {
				in.GARPLowerPrioDelay, in.garpLowerPrioDelayPos = v, n.Pos()
			}
		}},
		"garp_lower_prio_repeat": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.intArg(n, 0, 1<<20); ok {
				in.GARPLowerPrioRepeat, in.garpLowerPrioRepeatPos = v, n.Pos()
			}
		}},
		"accept":    {handle: func(b *builder, n *Node, in *Instance) { in.acceptOwn, in.acceptSet = true, true }},
		"no_accept": {handle: func(b *builder, n *Node, in *Instance) { in.acceptOwn, in.acceptSet = false, true }},
		"strict_mode": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.boolArg(n); ok {
				in.strictOwn, in.strictSet = v, true
			}
		}},
		"use_vmac":       {handle: useVMAC},
		"vmac_xmit_base": {handle: vmacXmitBase},
		"use_vmac_addr":  {handle: func(b *builder, n *Node, in *Instance) { in.UseVMACAddr = true }},
		"use_ipvlan":     {ignored: "ipvlan interfaces are not implemented"},
		"native_ipv6":    {ignored: "not implemented yet"},
		"smtp_alert":     {handle: func(b *builder, n *Node, in *Instance) { optBool(b, n, &in.SMTPAlert) }},
		"virtual_routes": {handle: func(b *builder, n *Node, in *Instance) {
			in.VirtualRoutes = append(in.VirtualRoutes, b.routeEntries(n, "vrrp_instance "+in.Name+" virtual_routes")...)
		}},
		"virtual_rules": {handle: func(b *builder, n *Node, in *Instance) {
			in.VirtualRules = append(in.VirtualRules, b.ruleEntries(n, "vrrp_instance "+in.Name+" virtual_rules")...)
		}},
		"track_file": {handle: func(b *builder, n *Node, in *Instance) {
			in.TrackFiles = b.trackFileList(n, "vrrp_instance "+in.Name, in.TrackFiles)
		}},
		"track_process": {handle: func(b *builder, n *Node, in *Instance) {
			in.TrackProcesses = b.trackProcessList(n, "vrrp_instance "+in.Name, in.TrackProcesses)
		}},
		"track_bfd":    {ignored: "BFD is not implemented"},
		"track_src_ip": {ignored: "keepalived 2.2.7 accepts it and never acts on it (keepalived_netlink.c compares the configured source's sockaddr as if it were an address, which never matches); lvsd does not act on it either"},
		"promote_secondaries": {handle: func(b *builder, n *Node, in *Instance) {
			in.PromoteSecondaries, in.promotePos = true, n.Pos()
		}},
		"lvs_sync_daemon_interface": {handle: lvsSyncDaemonInterface},
		"debug":                     {ignored: "use lvsd --log-detail"},
		"linkbeat_use_polling":      {ignored: "lvsd uses netlink link events"},
		"skip_check_adv_addr": {handle: func(b *builder, n *Node, in *Instance) {
			// vrrp_skip_check_adv_addr_handler: any true/false word turns
			// it on, "false" too (keepalived 2.2.7 through 2.3.x).
			if len(n.Args) > 0 {
				switch w := n.Args[0].Text; w {
				case "true", "on", "yes":
				case "false", "off", "no":
					b.d.Warnf(n.Args[0].Pos, "(%s) skip_check_adv_addr %s: keepalived 2.2.7 turns it on whatever the word; so does lvsd (remove the line to keep checking)", in.Name, w)
				default:
					b.d.Skipf(n.Args[0].Pos, "(%s) invalid skip_check_adv_addr %s specified", in.Name, w)
					return
				}
			}
			in.SkipCheckAdvAddr = true
		}},
		"check_unicast_src": {handle: func(b *builder, n *Node, in *Instance) {
			in.CheckUnicastSrc, in.unicastConfigured = true, true
		}},
		"unicast_fault_no_peer": {handle: func(b *builder, n *Node, in *Instance) {
			in.UnicastFaultNoPeer, in.unicastConfigured = true, true
		}},
		"old_unicast_checksum": {ignored: "not implemented yet"},
		"lower_prio_no_advert": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.boolArg(n); ok {
				in.LowerPrioNoAdvert = &v
			}
		}},
		"higher_prio_send_advert": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.boolArg(n); ok {
				in.HigherPrioSendAdvert = &v
			}
		}},
		"notify_master_rx_lower_pri": {handle: func(b *builder, n *Node, in *Instance) {
			if in.NotifyMasterRxLowerPri != nil {
				b.d.Skipf(n.Pos(), "(%s) notify_master_rx_lower_pri script already specified; this one is ignored, as keepalived does", in.Name)
				return
			}
			in.NotifyMasterRxLowerPri = b.scriptWithUser(n)
		}},
		"notify_priority_changes": {handle: func(b *builder, n *Node, in *Instance) { optBool(b, n, &in.NotifyPriorityChanges) }},
		"garp_extra_if":           {ignored: "not implemented yet"},
		"down_timer_adverts": {handle: func(b *builder, n *Node, in *Instance) {
			if v, ok := b.intArg(n, 1, 100); ok {
				in.DownTimerAdverts, in.downTimerAdvertsPos = v, n.Pos()
			}
		}},
		"kernel_rx_buf_size": {ignored: "netlink buffer tuning is automatic in lvsd"},
		"mcast_dst_ip": {handle: func(b *builder, n *Node, in *Instance) {
			// vrrp_mcast_dstip_handler: a /mask or -range is dropped; the
			// family is checked once the instance's is known (validate).
			t, ok := b.arg(n)
			if !ok {
				return
			}
			text, _, _ := strings.Cut(t.Text, "/")
			a, err := netip.ParseAddr(text)
			if err != nil || a.Zone() != "" {
				b.d.Skipf(t.Pos, "(%s) malformed mcast dest address %s. Skipping...", in.Name, t.Text)
				return
			}
			if a.Is4() && !a.IsMulticast() || a.Is6() && !a.IsLinkLocalMulticast() {
				ll := ""
				if a.Is6() {
					ll = " link-local"
				}
				b.d.Skipf(t.Pos, "(%s) mcast_dst_ip %s not%s multicast. Skipping...", in.Name, t.Text, ll)
				return
			}
			in.McastDstIP, in.mcastDstPos = a, t.Pos
		}},
		"vrf": {ignored: "not implemented yet"},
	}
}

var authTable = table[*Instance]{
	"auth_type": {handle: func(b *builder, n *Node, in *Instance) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		// keepalived compares case-sensitively and ignores anything
		// else: authentication stays off.
		switch t.Text {
		case "PASS", "AH":
			a, _ := authWords.parse("auth type", t.Text)
			in.AuthType = AuthType(a)
		default:
			hint := ""
			if u := strings.ToUpper(t.Text); u == "PASS" || u == "AH" {
				hint = fmt.Sprintf(" (write %s: keepalived reads it case-sensitively)", u)
			}
			b.d.Skipf(t.Pos, "auth_type %q is not PASS or AH%s; ignored, authentication stays off, as keepalived does", t.Text, hint)
		}
	}},
	"auth_pass": {handle: func(b *builder, n *Node, in *Instance) {
		if t, ok := b.arg(n); ok {
			in.AuthPass, in.authPassPos = t.Text, t.Pos
		}
	}},
}

// vipList parses virtual_ipaddress entries:
// <IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>] [scope <SCOPE>] [label <LABEL>] ...
func (b *builder) vipList(n *Node, excluded bool) []VIP {
	var out []VIP
	for _, e := range n.Children {
		v, ok := b.vip(e, excluded)
		if ok {
			out = append(out, v)
		}
	}
	if !n.HasBlock && len(n.Args) > 0 {
		b.d.Errorf(n.Pos(), "%s needs a { ... } block of addresses", n.Key)
	}
	return out
}

func (b *builder) vip(e *Node, excluded bool) (VIP, bool) {
	v := VIP{Excluded: excluded, Pos: e.Pos()}
	text := e.Key
	var prefix netip.Prefix
	var err error
	if strings.Contains(text, "/") {
		prefix, err = netip.ParsePrefix(text)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(text)
		if err == nil {
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		// keepalived logs it and skips the address.
		b.d.Skipf(e.Pos(), "virtual address %q is not ADDRESS[/PREFIX]", text)
		return v, false
	}
	v.Prefix = prefix
	args := e.Args
	missing := false
	for i := 0; i < len(args); i++ {
		opt := args[i]
		needValue := func() (Token, bool) {
			if i+1 >= len(args) {
				// keepalived: "No <option> parameter specified", and the
				// address is skipped.
				b.d.Skipf(opt.Pos, "%s needs a value; the address is skipped, as keepalived does", opt.Text)
				missing = true
				return Token{}, false
			}
			i++
			return args[i], true
		}
		switch opt.Text {
		case "dev":
			if t, ok := needValue(); ok {
				v.Dev = t.Text
			}
		case "label":
			if t, ok := needValue(); ok {
				v.Label = t.Text
			}
		case "brd", "broadcast":
			if t, ok := needValue(); ok {
				// keepalived skips the whole address for either.
				if prefix.Addr().Is6() {
					b.d.Skipf(t.Pos, "virtual address %s: an IPv6 address has no broadcast; the address is skipped, as keepalived does", text)
					return v, false
				}
				if t.Text != "+" && t.Text != "-" {
					if a, err := netip.ParseAddr(t.Text); err != nil || !a.Is4() {
						b.d.Skipf(t.Pos, "virtual address %s: brd %q is not an IPv4 address; the address is skipped, as keepalived does", text, t.Text)
						return v, false
					}
				}
				v.Broadcast = t.Text
			}
		case "scope":
			if t, ok := needValue(); ok {
				switch t.Text {
				case "global", "site", "link", "host", "nowhere":
					v.Scope = t.Text
				default:
					if _, err := strconv.Atoi(t.Text); err != nil {
						b.d.Errorf(t.Pos, "scope %q is not global, site, link, host, nowhere or a number", t.Text)
					}
					v.Scope = t.Text
				}
			}
		case "no_track", "home", "-nodad", "noprefixroute", "autojoin":
			// keepalived 2.2.7 knows "-nodad" only (no "nodad").
			switch opt.Text {
			case "-nodad":
				v.NoDAD = true
			case "no_track":
				v.NoTrack = true
			}
		case "preferred_lft":
			needValue()
		case "use_vmac":
			v.UseVMAC = true
		default:
			// keepalived: "Unknown configuration entry ... for ip address - ignoring".
			b.d.Skipf(opt.Pos, "unknown virtual address option %q (expected dev, label, brd, scope, ...); ignored, as keepalived does", opt.Text)
		}
	}
	if missing {
		return v, false
	}
	if prefix.Addr().Is6() && (v.Scope != "" || v.Label != "") {
		// keepalived: "Cannot specify scope/label for IPv6 addresses - ignoring".
		b.d.Skipf(e.Pos(), "virtual address %s: IPv6 addresses take no scope or label; ignored, as keepalived does", text)
		v.Scope, v.Label = "", ""
	}
	return v, true
}

// lenient makes a keyword's errors skipped errors: keepalived 2.2.7 logs
// an invalid value of these keywords and runs with the keyword ignored
// (the default stays), so lvsd run must not stop on it. The handler's
// diagnostics are collected apart and re-recorded: errors as Skipf with
// what happened, warnings as they were. A handler sets nothing when its
// value fails to parse, so the model keeps the default as keepalived does.
func lenient[T any](k keyword[T]) keyword[T] {
	h := k.handle
	if h == nil {
		return k
	}
	k.handle = func(b *builder, n *Node, x T) {
		saved := b.d
		tmp := getScratchDiags()
		b.d = tmp
		defer func() {
			b.d = saved
			for _, d := range tmp.list {
				switch {
				case d.Severity == SeverityError && !d.Skipped:
					saved.Skipf(d.Pos, "%s; ignored, as keepalived does", d.Message)
				case d.Severity == SeverityError:
					saved.Skipf(d.Pos, "%s", d.Message)
				default:
					saved.Warnf(d.Pos, "%s", d.Message)
				}
			}
			putScratchDiags(tmp)
		}()
		h(b, n, x)
	}
	return k
}

// Keywords whose invalid values keepalived ignores. Not here: what
// keepalived cannot run without (virtual_router_id), what has its own
// handling (state, priority, advert_int, authentication, addresses,
// notify scripts), and block structure.
var (
	lenientGlobal = []string{"vrrp_version", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_higher_prio_send_advert",
		"vrrp_lower_prio_no_advert", "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh",
		"vrrp_garp_master_refresh_repeat", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_garp_interval",
		"vrrp_down_timer_adverts", "vrrp_startup_delay", "vrrp_min_garp"}
	lenientInstance = []string{"version", "preempt_delay", "mcast_src_ip", "unicast_src_ip", "unicast_peer", "unicast_ttl",
		"track_interface", "track_script", "garp_master_delay", "garp_master_repeat", "garp_master_refresh",
		"garp_master_refresh_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat", "strict_mode",
		"lower_prio_no_advert", "higher_prio_send_advert", "down_timer_adverts"}
	lenientScript    = []string{"interval", "timeout", "weight", "rise", "fall"}
	lenientSyncGroup = []string{"track_script", "track_interface"}
)

func init() {
	for _, k := range lenientGlobal {
		vrrpGlobalTable[k] = lenient(mustKeyword(vrrpGlobalTable, k))
		// build.go's init merged the table before this one ran.
		globalTable[k] = vrrpGlobalTable[k]
	}
	for _, k := range lenientInstance {
		instanceTable[k] = lenient(mustKeyword(instanceTable, k))
	}
	for _, k := range lenientScript {
		scriptTable[k] = lenient(mustKeyword(scriptTable, k))
	}
	for _, k := range lenientSyncGroup {
		syncGroupTable[k] = lenient(mustKeyword(syncGroupTable, k))
	}
}

func mustKeyword[T any](t table[T], k string) keyword[T] {
	kw, ok := t[k]
	if !ok {
		panic("lenient: no keyword " + k)
	}
	return kw
}
