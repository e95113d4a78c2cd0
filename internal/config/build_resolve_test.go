package config

import (
	"testing"
	"time"
)

func init() {
	// Resolved once, at load, into the instance (issue 15: one resolved
	// spec per consumer); internal/vrrp reads the instance's field.
	for f, into := range map[string]string{
		"Global.VRRPVersion":               "Instance.Version",
		"Global.GARPMasterDelay":           "Instance.GARPMasterDelay",
		"Global.GARPMasterRepeat":          "Instance.GARPMasterRepeat",
		"Global.GARPMasterRefresh":         "Instance.GARPMasterRefresh",
		"Global.GARPMasterRefreshRep":      "Instance.GARPMasterRefreshRep",
		"Global.GARPLowerPrioDelay":        "Instance.GARPLowerPrioDelay",
		"Global.GARPLowerPrioRepeat":       "Instance.GARPLowerPrioRepeat",
		"Global.HigherPrioSendAdvert":      "Instance.HigherPrioSendAdvert",
		"Global.LowerPrioNoAdvert":         "Instance.LowerPrioNoAdvert",
		"Global.VRRPNotifyPriorityChanges": "Instance.NotifyPriorityChanges",
		"SyncGroup.NotifyPriorityChanges":  "Instance.NotifyPriorityChanges",
		"Instance.SyncGroup":               "Instance.NotifyPriorityChanges (the sync group's setting)",
		"Global.SMTPAlert":                 "Instance/SyncGroup/VirtualServer/RealServer.SMTPAlert",
		"Global.SMTPAlertVRRP":             "Instance/SyncGroup.SMTPAlert",
		"Global.SMTPAlertChecker":          "VirtualServer/RealServer.SMTPAlert",
	} {
		unreadFieldsAllowed[f] = "resolved at load (build_resolve.go, applyDefaults) into " + into + ", which its consumer (internal/vrrp, internal/alert) reads"
	}
	unreadFieldsAllowed["RealServer.Alpha"] = "inherited at load into Checker.Alpha (resolveRealServer), which the checkers read"
}

// TestLoadResolvesInstances: config.Load leaves no unresolved sentinel
// in an instance (version 0, GARP -1, nil advert/notify flags), whatever
// global_defs and sync groups say, and resolves each from the instance,
// then its sync group, then global_defs.
func TestLoadResolvesInstances(t *testing.T) {
	for _, tc := range []struct {
		name, global, group, inst string
		check                     func(t *testing.T, in *Instance)
	}{
		{name: "defaults", check: func(t *testing.T, in *Instance) {
			if in.Version != 2 || !*in.HigherPrioSendAdvert || *in.LowerPrioNoAdvert || *in.NotifyPriorityChanges ||
				in.GARPLowerPrioDelay != in.GARPMasterDelay || in.GARPLowerPrioRepeat != in.GARPMasterRepeat {
				t.Errorf("%+v", in)
			}
		}},
		{name: "global", global: "vrrp_version 3\nvrrp_higher_prio_send_advert false\nvrrp_lower_prio_no_advert\nvrrp_notify_priority_changes\nvrrp_garp_master_repeat 7\nvrrp_garp_lower_prio_repeat 2",
			check: func(t *testing.T, in *Instance) {
				if in.Version != 3 || *in.HigherPrioSendAdvert || !*in.LowerPrioNoAdvert || !*in.NotifyPriorityChanges ||
					in.GARPMasterRepeat != 7 || in.GARPLowerPrioRepeat != 2 {
					t.Errorf("%+v", in)
				}
			}},
		{name: "sync group", global: "vrrp_notify_priority_changes", group: "notify_priority_changes false",
			check: func(t *testing.T, in *Instance) {
				if *in.NotifyPriorityChanges {
					t.Error("the sync group's notify_priority_changes false did not win over global_defs")
				}
			}},
		{name: "instance", global: "vrrp_version 3\nvrrp_higher_prio_send_advert false\nvrrp_notify_priority_changes", group: "notify_priority_changes",
			inst: "version 2\nhigher_prio_send_advert true\nnotify_priority_changes false\ngarp_master_repeat 9",
			check: func(t *testing.T, in *Instance) {
				if in.Version != 2 || !*in.HigherPrioSendAdvert || *in.NotifyPriorityChanges || in.GARPMasterRepeat != 9 || in.GARPLowerPrioRepeat != 9 {
					t.Errorf("%+v", in)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "global_defs {\n" + tc.global + "\n}\nvrrp_sync_group G {\ngroup {\nVI\nVJ\n}\n" + tc.group + "\n}\n" +
				"vrrp_instance VI {\ninterface lo\nvirtual_router_id 1\nvirtual_ipaddress {\n10.9.9.9/32\n}\n" + tc.inst + "\n}\n" +
				"vrrp_instance VJ {\ninterface lo\nvirtual_router_id 2\nvirtual_ipaddress {\n10.9.9.8/32\n}\n}\n"
			cfg, diags := buildOne(t, src)
			for _, d := range diags {
				if d.Severity == SeverityError {
					t.Fatalf("%s\n%v", src, diags)
				}
			}
			for _, in := range cfg.Instances {
				if in.Version != 2 && in.Version != 3 || in.GARPMasterDelay < 0 || in.GARPMasterRepeat < 0 || in.GARPMasterRefresh < 0 ||
					in.GARPMasterRefreshRep < 0 || in.GARPLowerPrioDelay < 0 || in.GARPLowerPrioRepeat < 0 ||
					in.HigherPrioSendAdvert == nil || in.LowerPrioNoAdvert == nil || in.NotifyPriorityChanges == nil ||
					in.InitialState == StateUnset {
					t.Errorf("%s: unresolved %+v", in.Name, in)
				}
			}
			tc.check(t, cfg.Instances[0])
		})
	}
}

// TestLoadResolvesFamilies: a fwmark or group virtual server without
// ip_family leaves Load with keepalived 2.2.7's family (check_parser.c
// rs_end_handler, vs_end_handler).
func TestLoadResolvesFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, vs, body string
		want           Family
	}{
		{"ip_family written", "fwmark 1", "ip_family inet6\nreal_server 10.0.1.1 80 {\n}", FamilyInet6},
		{"first real server", "fwmark 1", "real_server 2001:db8::1 80 {\n}", FamilyInet6},
		{"first not tunnelled", "fwmark 1", "real_server 10.0.1.1 80 {\nlvs_method TUN\n}\nreal_server 2001:db8::1 80 {\n}", FamilyInet6},
		{"all tunnelled, one family", "fwmark 1", "lvs_method TUN\nreal_server 2001:db8::1 80 {\n}\nreal_server 2001:db8::2 80 {\n}", FamilyInet6},
		{"all tunnelled, mixed", "fwmark 1", "lvs_method TUN\nreal_server 2001:db8::1 80 {\n}\nreal_server 10.0.1.1 80 {\n}", FamilyInet},
		{"tunnelled, sorry server not", "fwmark 1", "lvs_method TUN\nsorry_server 2001:db8::9 80\nsorry_server_lvs_method DR\nreal_server 10.0.1.1 80 {\n}", FamilyInet6},
		{"address", "2001:db8::100 80", "real_server 2001:db8::1 80 {\n}", FamilyAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "virtual_server " + tc.vs + " {\nprotocol TCP\n" + tc.body + "\n}\n"
			cfg, diags := buildOne(t, src)
			if len(cfg.VirtualServers) != 1 {
				t.Fatalf("%s\n%v", src, diags)
			}
			if got := cfg.VirtualServers[0].IPFamily; got != tc.want {
				t.Errorf("family %q, want %q\n%v", got, tc.want, diags)
			}
		})
	}
}

// TestCheckerDefaultsAnyOrder: a checker's settings not given take its
// real server's, then its virtual server's, wherever in their blocks they
// are written (keepalived 2.2.7 resolves them in validate_check_config,
// after reading the configuration); so do a real server's alpha and
// inhibit_on_failure.
func TestCheckerDefaultsAnyOrder(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"before", `virtual_server 10.0.0.1 80 {
  protocol TCP
  delay_loop 7
  inhibit_on_failure
  connect_timeout 4
  real_server 10.0.1.1 80 {
    retry 5
    alpha
    delay_before_retry 2
    TCP_CHECK {
      warmup 1
    }
  }
}`},
		{"after", `virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 10.0.1.1 80 {
    TCP_CHECK {
      warmup 1
    }
    retry 5
    alpha
    delay_before_retry 2
  }
  delay_loop 7
  inhibit_on_failure
  connect_timeout 4
}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := buildOne(t, tc.src)
			rs := cfg.VirtualServers[0].RealServers[0]
			c := rs.Checkers[0]
			if c.Retry != 5 || !c.Alpha || c.DelayLoop != 7*time.Second || c.ConnectTimeout != 4*time.Second ||
				c.DelayBeforeRetry != 2*time.Second || c.Warmup != time.Second || !rs.Alpha || !rs.InhibitOnFailure {
				t.Errorf("checker retry %d alpha %v delay_loop %v connect_timeout %v delay_before_retry %v warmup %v; real server alpha %v inhibit %v\n%v",
					c.Retry, c.Alpha, c.DelayLoop, c.ConnectTimeout, c.DelayBeforeRetry, c.Warmup, rs.Alpha, rs.InhibitOnFailure, diags)
			}
		})
	}
}

// TestLoadResolvesSMTPAlerts: every instance, sync group, virtual server
// and real server leaves Load with its smtp_alert resolved as keepalived
// 2.2.7 does (internal/alert.TestSpecFrom checks the mails follow).
func TestLoadResolvesSMTPAlerts(t *testing.T) {
	for _, tc := range []struct {
		global                   string
		inst, grp, vs, rs, rsOff bool
	}{
		{"", false, false, false, true, false},
		{"smtp_alert", true, true, true, true, false},
		{"smtp_alert off", false, false, false, false, false},
		{"smtp_alert_vrrp\nsmtp_alert off", true, true, false, false, false},
		{"smtp_alert_checker off\nsmtp_alert", true, true, false, false, false},
	} {
		src := "global_defs {\n" + tc.global + "\n}\nvrrp_sync_group G {\ngroup {\nVI\n}\n}\n" +
			"vrrp_instance VI {\ninterface lo\nvirtual_router_id 1\nvirtual_ipaddress {\n10.9.9.9/32\n}\n}\n" +
			"virtual_server 10.0.0.1 80 {\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}\nreal_server 10.0.1.2 80 {\nsmtp_alert off\n}\n}\n"
		cfg, _ := buildOne(t, src)
		vs := cfg.VirtualServers[0]
		for _, p := range []*bool{cfg.Instances[0].SMTPAlert, cfg.SyncGroups[0].SMTPAlert, vs.SMTPAlert, vs.RealServers[0].SMTPAlert, vs.RealServers[1].SMTPAlert} {
			if p == nil {
				t.Fatalf("%q: an smtp_alert is left unresolved", tc.global)
			}
		}
		got := [5]bool{*cfg.Instances[0].SMTPAlert, *cfg.SyncGroups[0].SMTPAlert, *vs.SMTPAlert, *vs.RealServers[0].SMTPAlert, *vs.RealServers[1].SMTPAlert}
		if want := [5]bool{tc.inst, tc.grp, tc.vs, tc.rs, tc.rsOff}; got != want {
			t.Errorf("%q: instance, group, virtual server, real server, real server off = %v, want %v", tc.global, got, want)
		}
	}
}
