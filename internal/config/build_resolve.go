package config

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
