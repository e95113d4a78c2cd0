package config

// The notify FIFO's event keywords (internal/vrrp/events.go).
func init() {
	for k, v := range map[string]string{
		"global_defs vrrp_notify_priority_changes": "cmd/lvsd.TestNotifyFIFOEventsMatchKeepalived",
		"vrrp_instance notify_master_rx_lower_pri": "cmd/lvsd.TestNotifyFIFOEventsMatchKeepalived",
		"vrrp_instance notify_priority_changes":    "internal/vrrp.TestResolveEvents",
		"vrrp_instance notify_deleted":             "cmd/lvsd.TestReloadRemovedInstanceMatchesKeepalived",
		"global_defs lvs_timeouts":                 "cmd/lvsd.TestVMLVSTimeoutsMatchKeepalived",
		"global_defs vrrp_down_timer_adverts":      "internal/config.TestDownTimerAdverts",
		"vrrp_instance down_timer_adverts":         "cmd/lvsd.TestDownTimerAdvertsMatchesKeepalived",
		"global_defs vrrp_min_garp":                "cmd/lvsd.TestMinGARPMatchesKeepalived",
		"global_defs vrrp_startup_delay":           "cmd/lvsd.TestStartupDelayMatchesKeepalived",
		"global_defs default_interface":            "internal/config.TestStaticAddressDefaultInterface",
		"vrrp_instance promote_secondaries":        "cmd/lvsd.TestPromoteSecondariesMatchesKeepalived",
		"global_defs checker_log_all_failures":     "cmd/lvsd.TestVMRSInitNotifiesAndLogAllFailuresMatchKeepalived",
		"global_defs rs_init_notifies":             "cmd/lvsd.TestVMRSInitNotifiesAndLogAllFailuresMatchKeepalived",
		"global_defs vrrp_check_unicast_src":       "internal/vrrp.TestRouterCheckUnicastSrc",
		"global_defs vrrp_skip_check_adv_addr":     "internal/vrrp.TestRouterSkipCheckAdvAddr",
		"vrrp_instance check_unicast_src":          "cmd/lvsd.TestUnicastChecksMatchKeepalived",
		"vrrp_instance skip_check_adv_addr":        "cmd/lvsd.TestUnicastChecksMatchKeepalived",
		"vrrp_instance unicast_fault_no_peer":      "cmd/lvsd.TestUnicastChecksMatchKeepalived",
		"global_defs startup_script":               "cmd/lvsd.TestLifecycleScriptsMatchKeepalived",
		"global_defs shutdown_script":              "cmd/lvsd.TestLifecycleScriptsMatchKeepalived",
		"global_defs startup_script_timeout":       "internal/daemon.TestStartupScriptTimeout",
		"global_defs shutdown_script_timeout":      "internal/daemon.TestLifecycleScriptsThroughARun",
		"vrrp_instance mcast_dst_ip":               "cmd/lvsd.TestMcastDstIPMatchesKeepalived",
		"global_defs dynamic_interfaces":           "cmd/lvsd.TestDynamicInterfacesMatchesKeepalived",
		"global_defs log_unknown_vrids":            "cmd/lvsd.TestLogUnknownVRIDsMatchesKeepalived",
		"vrrp_sync_group notify_priority_changes":  "internal/vrrp.TestResolveEvents",
	} {
		keywordBehaviourTests[k] = v
	}
}

// track_group (model_track.go, internal/vrrp trackgroup_test.go).
func init() {
	keywordBehaviourTests["track_group group"] = "internal/vrrp.TestRouterTrackGroup"
}

// The top-level SSL block (internal/check sslctx.go).
func init() {
	for _, k := range []string{"password", "ca", "certificate", "key"} {
		keywordBehaviourTests["SSL "+k] = "internal/check.TestSSLGetClientCertificate"
	}
}
