package config

// validate runs the semantic checks that need the whole model.
func validate(c *Config, d *Diagnostics) {
	validateInstances(c, d)
	validateSyncGroups(c, d)
	validateVirtualServers(c, d)
	validateSyncDaemon(c, d)
	resolveInstances(c)
	resolveFamilies(c)
	resolveSMTPAlerts(c)
}
