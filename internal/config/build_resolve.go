package config

import "net/netip"

// resolveInstances is Load's last step for VRRP instances: what a
// consumer would otherwise work out from global_defs or the instance's
// sync group is resolved here, once, so that internal/vrrp only
// translates. (Version and the GARP settings are resolved earlier, in
// applyDefaults and validateInstances.) After it, an instance's
// HigherPrioSendAdvert, LowerPrioNoAdvert and NotifyPriorityChanges are
// never nil.
func resolveInstances(c *Config) {
	g := c.Global
	groups := map[string]*SyncGroup{}
	for _, sg := range c.SyncGroups {
		groups[sg.Name] = sg
	}
	for _, in := range c.Instances {
		higher := true // lvsd's default; keepalived's is false
		if g.HigherPrioSendAdvert != nil {
			higher = *g.HigherPrioSendAdvert
		}
		if in.HigherPrioSendAdvert != nil {
			higher = *in.HigherPrioSendAdvert
		}
		lower := g.LowerPrioNoAdvert
		if in.LowerPrioNoAdvert != nil {
			lower = *in.LowerPrioNoAdvert
		}
		// notify_priority_changes: the instance's, else its sync group's,
		// else vrrp_notify_priority_changes.
		notify := g.VRRPNotifyPriorityChanges
		if in.NotifyPriorityChanges != nil {
			notify = *in.NotifyPriorityChanges
		} else if sg := groups[in.SyncGroup]; sg != nil && sg.NotifyPriorityChanges != nil {
			notify = *sg.NotifyPriorityChanges
		}
		in.HigherPrioSendAdvert, in.LowerPrioNoAdvert, in.NotifyPriorityChanges = &higher, &lower, &notify
	}
}

// resolveFamilies gives every virtual server without an address (fwmark
// or group) the address family keepalived 2.2.7 gives it when ip_family
// is not written (check_parser.c): the first real server's that is not
// tunnelled, else the sorry server's if not tunnelled; for a fwmark
// virtual server whose servers are all tunnelled, the sorry server's,
// else the real servers' if they are all of one family, else IPv4. A
// group's may stay FamilyAny (its servers are all tunnelled): its fwmark
// entries without a family are then IPv4. internal/ipvs reads IPFamily
// as it is.
func resolveFamilies(c *Config) {
	fam := func(a netip.Addr) Family {
		if a.Is6() {
			return FamilyInet6
		}
		return FamilyInet
	}
	for _, vs := range c.VirtualServers {
		if vs.IPFamily != FamilyAny || vs.Addr.IsValid() {
			continue
		}
		af := FamilyAny
		for _, rs := range vs.RealServers {
			if rs.Method != MethodTUN {
				af = fam(rs.Addr)
				break
			}
		}
		ss := vs.SorryServer
		if af == FamilyAny && ss != nil && ss.Method != MethodTUN {
			af = fam(ss.Addr)
		}
		if af == FamilyAny && vs.Group == "" {
			if ss != nil {
				af = fam(ss.Addr)
			}
			for _, rs := range vs.RealServers {
				if af == FamilyAny {
					af = fam(rs.Addr)
				} else if af != fam(rs.Addr) {
					af = FamilyInet // mixed: IPv4
					break
				}
			}
			if af == FamilyAny {
				af = FamilyInet
			}
		}
		vs.IPFamily = af
	}
}

// resolveSMTPAlerts gives every instance, sync group, virtual server and
// real server its smtp_alert as keepalived 2.2.7 resolves it
// (global_data.c, vrrp.c, check_data.c): its own, else
// smtp_alert_vrrp / smtp_alert_checker, else smtp_alert, else off — but
// on for a real server ("inconsistent with the defaults for other
// smtp_alerts in order to maintain backwards compatibility"). After it
// their SMTPAlert is never nil (a sorry server's stays as written: it
// mails nothing); internal/alert only reads it.
func resolveSMTPAlerts(c *Config) {
	g := c.Global
	pick := func(def bool, vs ...*bool) *bool {
		for _, v := range vs {
			if v != nil {
				b := *v
				return &b
			}
		}
		return &def
	}
	vrrp := *pick(false, g.SMTPAlertVRRP, g.SMTPAlert)
	for _, in := range c.Instances {
		in.SMTPAlert = pick(vrrp, in.SMTPAlert)
	}
	for _, sg := range c.SyncGroups {
		sg.SMTPAlert = pick(vrrp, sg.SMTPAlert)
	}
	vsDefault := *pick(false, g.SMTPAlertChecker, g.SMTPAlert)
	rsDefault := *pick(true, g.SMTPAlertChecker, g.SMTPAlert)
	for _, vs := range c.VirtualServers {
		vs.SMTPAlert = pick(vsDefault, vs.SMTPAlert)
		for _, rs := range vs.RealServers {
			rs.SMTPAlert = pick(rsDefault, rs.SMTPAlert)
		}
	}
}
