package config

import (
	"net/netip"
	"time"
)

func validateVirtualServers(c *Config, d *Diagnostics) {
	groups := map[string]*VSGroup{}
	keptGroups := c.VSGroups[:0]
	for _, g := range c.VSGroups {
		if _, dup := groups[g.Name]; dup {
			d.Errorf(g.Pos, "virtual_server_group %s is defined twice", g.Name)
		}
		if len(g.Entries) == 0 {
			// keepalived 2.2.7 (vsg_handler): "has no entries - removing".
			d.Skipf(g.Pos, "virtual_server_group %s has no entries - removing it (as keepalived 2.2.7 does)", g.Name)
			continue
		}
		groups[g.Name] = g
		keptGroups = append(keptGroups, g)
	}
	c.VSGroups = keptGroups
	seen := make(map[string]Pos, len(c.VirtualServers))
	kept := c.VirtualServers[:0]
	for _, vs := range c.VirtualServers {
		if !validateVirtualServer(vs, groups, seen, d) {
			continue
		}
		kept = append(kept, vs)
	}
	c.VirtualServers = kept
}

// validateVirtualServer applies keepalived 2.2.7's validate_check_config
// to one virtual server: what keepalived corrects with a logged error is
// corrected the same way (Skipf), and false means keepalived drops it.
func validateVirtualServer(vs *VirtualServer, groups map[string]*VSGroup, seen map[string]Pos, d *Diagnostics) bool {
	var g *VSGroup
	if vs.Group != "" {
		if g = groups[vs.Group]; g == nil {
			// keepalived logs "specified but not configured" and frees it.
			d.Skipf(vs.Pos, "virtual_server group %s: virtual_server_group %s is not defined (or was removed) - ignoring the virtual server", vs.Group, vs.Group)
			return false
		}
	}
	if g != nil && !groupFamilyFits(vs, g, d) {
		return false
	}
	vsV6 := vs.Addr.IsValid() && vs.Addr.Is6()
	// Real servers: duplicates and family mismatches are removed, as
	// keepalived's rs_end_handler and validate_check_config do.
	rsSeen := map[netip.AddrPort]Pos{}
	keptRS := vs.RealServers[:0]
	for _, rs := range vs.RealServers {
		if vs.Addr.IsValid() && rs.Addr.Is6() != vsV6 && rs.Method != MethodTUN {
			d.Skipf(rs.Pos, "real_server %s is not the same address family as virtual_server %s (only TUN may mix) - skipping the real server", rs.Addr, vs.Key())
			continue
		}
		k := netip.AddrPortFrom(rs.Addr, rs.Port)
		if first, dup := rsSeen[k]; dup {
			d.Skipf(rs.Pos, "real_server %s is already in virtual_server %s at line %d - removing the second", k, vs.Key(), first.Line)
			continue
		}
		rsSeen[k] = rs.Pos
		keptRS = append(keptRS, rs)
	}
	vs.RealServers = keptRS
	if len(vs.RealServers) == 0 {
		d.Skipf(vs.Pos, "virtual_server %s has no real servers - ignoring it (as keepalived 2.2.7 does)", vs.Key())
		return false
	}
	key := vs.Key()
	if vs.FWMark != 0 || vs.Group != "" {
		key += "/" + vs.Protocol.String()
	}
	if first, dup := seen[key]; dup {
		d.Errorf(vs.Pos, "virtual_server %s is already defined at %s", vs.Key(), first)
	} else {
		seen[key] = vs.Pos
	}
	hasFWMark, hasAddrs := vs.FWMark != 0, vs.Addr.IsValid()
	if g != nil {
		for _, e := range g.Entries {
			if e.FWMark != 0 {
				hasFWMark = true
			} else {
				hasAddrs = true
			}
		}
	}
	if vs.HASuspend && hasFWMark {
		d.Skipf(vs.Pos, "virtual_server %s: cannot use ha_suspend with fwmarks - clearing ha_suspend (as keepalived 2.2.7 does)", vs.Key())
		vs.HASuspend = false
	}
	if hasAddrs {
		if vs.Group != "" && vs.protocolDefaulted {
			d.Warnf(vs.Pos, "virtual_server %s has no protocol: it defaults to UDP, as in keepalived 2.2; add \"protocol TCP\" for a TCP service", vs.Key())
		}
		if vs.OPS && vs.Protocol != ProtoUDP {
			d.Skipf(vs.Pos, "virtual_server %s: one packet scheduling (ops) requires UDP - resetting it (as keepalived 2.2.7 does)", vs.Key())
			vs.OPS = false
		}
		zeroPort := vs.Addr.IsValid() && vs.Port == 0
		if g != nil {
			for _, e := range g.Entries {
				if e.FWMark == 0 && e.Port == 0 {
					zeroPort = true
				}
			}
		}
		if zeroPort && !vs.Persistent {
			d.Skipf(vs.Pos, "virtual_server %s: port 0 is only valid for persistent services - making it persistent for 360 s (as keepalived 2.2.7 does)", vs.Key())
			vs.Persistent, vs.Persistence = true, 360*time.Second
		}
	}
	for _, f := range vs.SchedFlags {
		ok := (f == "sh-port" || f == "sh-fallback") && vs.Scheduler == "sh" ||
			(f == "mh-port" || f == "mh-fallback") && vs.Scheduler == "mh" ||
			f == "flag-1" || f == "flag-2" || f == "flag-3"
		if !ok {
			d.Warnf(vs.Pos, "virtual_server %s: %s has no effect with scheduler %s", vs.Key(), f, vs.Scheduler)
		}
	}
	if vs.Granularity.IsValid() && !isNetmask(vs.Granularity) {
		d.Warnf(vs.granularityPos, "virtual_server %s: persistence_granularity %s is not a contiguous netmask; the kernel applies it bit by bit, as keepalived 2.2.7 and ipvsadm pass it", vs.Key(), vs.Granularity)
	}
	if vs.PersistenceEngine != "" && !vs.Persistent {
		d.Warnf(vs.Pos, "virtual_server %s: persistence_engine %s has no effect without persistence (keepalived 2.2.7 sends it only with persistence_timeout or persistence_granularity)", vs.Key(), vs.PersistenceEngine)
	}
	if vs.FWMark != 0 && vs.protocolPos.Line != 0 {
		d.Warnf(vs.protocolPos, "virtual_server %s: protocol has no effect on a fwmark service (the mark selects the packets); keepalived ignores it too", vs.Key())
	}
	for _, rs := range vs.RealServers {
		validateRealServer(vs, rs, d)
		if g != nil && rs.Method != MethodNAT && rs.portGiven && rs.Port != 0 {
			// keepalived 2.2.7 reports these and programs port 0 (fwmark)
			// or the entry's port, as DesiredTable does.
			for _, e := range g.Entries {
				if e.FWMark != 0 {
					d.Skipf(rs.Pos, "fwmark virtual_server %s: real_server %s has a port - it is ignored (as keepalived 2.2.7 does)", vs.Key(), rs.Addr)
					break
				}
			}
			for _, e := range g.Entries {
				if e.FWMark == 0 && e.Port != rs.Port {
					d.Skipf(rs.Pos, "virtual_server %s entry %s port %d and real_server %s port %d do not match; %s uses the entry's port", vs.Key(), e.First, e.Port, rs.Addr, rs.Port, rs.Method)
					break
				}
			}
		}
	}
	if vs.SorryServer != nil {
		if vs.Addr.IsValid() && vs.SorryServer.Addr.Is6() != vsV6 && vs.SorryServer.Method != MethodTUN {
			d.Skipf(vs.SorryServer.Pos, "sorry_server %s is not the same address family as virtual_server %s - skipping the sorry server (as keepalived 2.2.7 does)", vs.SorryServer.Addr, vs.Key())
			vs.SorryServer = nil
		} else {
			validateRealServer(vs, vs.SorryServer, d)
		}
	}
	// Quorum: keepalived 2.2.7 caps it at the real servers' total weight
	// ("otherwise we will never be able to come up"), then keeps
	// hysteresis below it.
	total := 0
	for _, rs := range vs.RealServers {
		total += rs.Weight
	}
	pos := vs.quorumPos
	if pos.Line == 0 {
		pos = vs.Pos
	}
	if vs.Quorum > total {
		d.Skipf(pos, "quorum %d for virtual_server %s exceeds the total weight of its real servers %d - reducing quorum to %d (as keepalived 2.2.7 does)", vs.Quorum, vs.Key(), total, total)
		vs.Quorum = total
	}
	if vs.Hysteresis >= vs.Quorum && vs.Hysteresis > 0 {
		h := max(vs.Quorum-1, 0)
		d.Skipf(pos, "virtual_server %s: hysteresis %d >= quorum %d - setting hysteresis to %d (as keepalived 2.2.7 does)", vs.Key(), vs.Hysteresis, vs.Quorum, h)
		vs.Hysteresis = h
	}
	return true
}

// groupFamilyFits applies keepalived 2.2.7's family rules for a virtual
// server on a group (check_parser.c vsg_handler, ipwrapper.c
// link_vsg_to_vs): the virtual server's family (ip_family, else its first
// real or sorry server not tunnelled) must match the group's; a group
// mixing IPv4 and IPv6 suits only a virtual server of no family.
// keepalived logs and ignores the virtual server otherwise.
func groupFamilyFits(vs *VirtualServer, g *VSGroup, d *Diagnostics) bool {
	have4, have6, fwmarkNoFamily := false, false, false
	for _, e := range g.Entries {
		switch {
		case e.FWMark != 0 && e.Family == FamilyAny:
			fwmarkNoFamily = true
		case e.FWMark != 0:
			have4, have6 = have4 || e.Family == FamilyInet, have6 || e.Family == FamilyInet6
		default:
			have4, have6 = have4 || e.First.Is4(), have6 || e.First.Is6()
		}
	}
	if have4 && have6 && fwmarkNoFamily {
		d.Skipf(g.Pos, "virtual_server_group %s cannot have IPv4, IPv6 and fwmark without family - ignoring virtual_server %s (as keepalived 2.2.7 does)", g.Name, vs.Key())
		return false
	}
	af := vs.IPFamily
	if af == FamilyAny {
		for _, rs := range append(append([]*RealServer{}, vs.RealServers...), vs.SorryServer) {
			if rs != nil && rs.Method != MethodTUN {
				af = map[bool]Family{true: FamilyInet6, false: FamilyInet}[rs.Addr.Is6()]
				break
			}
		}
	}
	switch {
	case af == FamilyAny:
		return true
	case have4 && have6:
		// keepalived logs these (log_message, not a configuration
		// error: keepalived -t passes) and frees the virtual server.
		d.Warnf(vs.Pos, "virtual_server_group %s has IPv4 and IPv6 entries, which do not match virtual_server %s (%s) - ignoring it (as keepalived 2.2.7 does)", g.Name, vs.Key(), af)
		return false
	case have4 && af == FamilyInet6 || have6 && af == FamilyInet:
		d.Warnf(vs.Pos, "virtual_server_group %s: address family does not match virtual_server %s (%s) - ignoring it (as keepalived 2.2.7 does)", g.Name, vs.Key(), af)
		return false
	}
	return true
}

func validateRealServer(vs *VirtualServer, rs *RealServer, d *Diagnostics) {
	if vs.FWMark != 0 && rs.portGiven && rs.Port != 0 {
		d.Warnf(rs.Pos, "real_server %s has port %d but virtual_server %s is a fwmark service: the kernel uses port 0 (keepalived clears it); checkers still use it", rs.Addr, rs.Port, vs.Key())
	}
	if (rs.Method == MethodDR || rs.Method == MethodTUN) && vs.FWMark == 0 && vs.Group == "" && rs.portGiven && rs.Port != vs.Port {
		// keepalived 2.2.7: "ports don't match - resetting".
		d.Skipf(rs.Pos, "real_server %s port %d differs from virtual_server port %d, but %s cannot remap ports (only NAT can) - using port %d (as keepalived 2.2.7 does)", rs.Addr, rs.Port, vs.Port, rs.Method, vs.Port)
		rs.Port = vs.Port
	}
	if rs.UThreshold != 0 && rs.LThreshold > rs.UThreshold {
		d.Errorf(rs.Pos, "real_server %s: lthreshold %d is above uthreshold %d", rs.Addr, rs.LThreshold, rs.UThreshold)
	}
	for _, ch := range rs.Checkers {
		if ch.ConnectPort == 0 && ch.Type != CheckMisc {
			d.Errorf(ch.Pos, "%s for real_server %s has no port to connect to (set connect_port)", ch.Type, rs.Addr)
		}
		if ch.ConnectTimeout == 0 && ch.Type != CheckMisc {
			d.Errorf(ch.Pos, "%s for real_server %s has connect_timeout 0", ch.Type, rs.Addr)
		}
	}
}

func isNetmask(a netip.Addr) bool {
	b := a.AsSlice()
	seenZero := false
	for _, x := range b {
		for i := 7; i >= 0; i-- {
			bit := x>>i&1 == 1
			if bit && seenZero {
				return false
			}
			if !bit {
				seenZero = true
			}
		}
	}
	return true
}
