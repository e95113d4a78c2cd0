package config

import (
	"strings"
	"testing"
	"time"
)

func init() {
	for k, v := range map[string]string{
		"global_defs notification_email":               "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs notification_email_from":          "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_server":                      "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_helo_name":                   "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_connect_timeout":             "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_alert":                       "internal/alert.TestSpecFrom:Global.SMTPAlert",
		"global_defs smtp_alert_vrrp":                  "internal/alert.TestSpecFrom:Global.SMTPAlertVRRP",
		"global_defs smtp_alert_checker":               "internal/alert.TestSpecFrom:Global.SMTPAlertChecker",
		"global_defs no_email_faults":                  "internal/config.TestSMTPKeywords",
		"global_defs no_checker_emails":                "internal/config.TestSMTPKeywords",
		"virtual_server smtp_alert":                    "cmd/lvsd.TestSMTPCheckerAlerts",
		"virtual_server/real_server smtp_alert":        "cmd/lvsd.TestSMTPCheckerAlerts",
		"global_defs notify_fifo":                      "cmd/lvsd.TestNotifyFIFOMatchesKeepalived",
		"global_defs vrrp_notify_fifo":                 "cmd/lvsd.TestNotifyFIFOMatchesKeepalived",
		"global_defs vrrp_notify_fifo_script":          "cmd/lvsd.TestNotifyFIFOMatchesKeepalived",
		"global_defs lvs_notify_fifo":                  "cmd/lvsd.TestSMTPCheckerAlerts",
		"global_defs notify_fifo_script":               "internal/config.TestNotifyFIFOKeywords",
		"global_defs lvs_notify_fifo_script":           "internal/config.TestNotifyFIFOKeywords",
		"global_defs fifo_write_vrrp_states_on_reload": "internal/daemon.TestAlertHooksFIFOs:Global.FIFOWriteVRRPStatesOnReload",
		"vrrp_instance smtp_alert":                     "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"vrrp_sync_group smtp_alert":                   "internal/config.TestSMTPKeywords",
	} {
		keywordBehaviourTests[k] = v
	}
	// internal/alert reads them now.
	for _, f := range []string{"Global.NotificationEmail", "Global.NotificationEmailFrom", "Global.SMTPConnectTimeout", "Global.SMTPServer"} {
		delete(unreadFieldsAllowed, f)
	}
	for _, k := range []string{"global_defs notification_email", "global_defs notification_email_from", "global_defs smtp_connect_timeout", "global_defs smtp_server"} {
		delete(keywordsWithoutBehaviourTest, k)
	}
}

func loadAlertConf(t *testing.T, src string) (*Config, []Diagnostic) {
	t.Helper()
	res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": src}})
	return res.Config, res.Diags.Sorted()
}

// TestSMTPKeywords: the e-mail keywords of keepalived 2.2.7's
// global_parser.c, vrrp_parser.c and check_parser.c fill the model
// internal/alert reads; invalid values are reported and left out as
// keepalived leaves them.
func TestSMTPKeywords(t *testing.T) {
	c, diags := loadAlertConf(t, `
global_defs {
	notification_email {
		ops@example.com
		noc@example.com
	}
	notification_email_from lvs@example.com
	smtp_server 192.0.2.25 2525
	smtp_helo_name lvs1.example.com
	smtp_connect_timeout 7
	smtp_alert
	smtp_alert_vrrp off
	smtp_alert_checker yes
	no_email_faults
	no_checker_emails
}
vrrp_sync_group G {
	group {
		VI_1
	}
	smtp_alert
}
vrrp_instance VI_1 {
	interface lo
	virtual_router_id 51
	priority 100
	smtp_alert false
}
virtual_server 10.0.0.1 80 {
	protocol TCP
	smtp_alert
	real_server 10.0.1.1 80 {
		smtp_alert off
	}
}
`)
	for _, d := range diags {
		if strings.Contains(d.Message, "smtp") || strings.Contains(d.Message, "mail") {
			t.Errorf("unexpected diagnostic: %s", d.Message)
		}
	}
	g := c.Global
	if strings.Join(g.NotificationEmail, ",") != "ops@example.com,noc@example.com" || g.NotificationEmailFrom != "lvs@example.com" ||
		g.SMTPServer != "192.0.2.25" || g.SMTPPort != 2525 || g.SMTPHeloName != "lvs1.example.com" || g.SMTPConnectTimeout != 7*time.Second {
		t.Errorf("global: %+v", g)
	}
	if g.SMTPAlert == nil || !*g.SMTPAlert || g.SMTPAlertVRRP == nil || *g.SMTPAlertVRRP || g.SMTPAlertChecker == nil || !*g.SMTPAlertChecker ||
		!g.NoEmailFaults || !g.NoCheckerEmails {
		t.Errorf("global flags: %v %v %v %v %v", g.SMTPAlert, g.SMTPAlertVRRP, g.SMTPAlertChecker, g.NoEmailFaults, g.NoCheckerEmails)
	}
	if p := c.SyncGroups[0].SMTPAlert; p == nil || !*p {
		t.Error("sync group smtp_alert not on")
	}
	if p := c.Instances[0].SMTPAlert; p == nil || *p {
		t.Error("instance smtp_alert not off")
	}
	if p := c.VirtualServers[0].SMTPAlert; p == nil || !*p {
		t.Error("virtual server smtp_alert not on")
	}
	if p := c.VirtualServers[0].RealServers[0].SMTPAlert; p == nil || *p {
		t.Error("real server smtp_alert not off")
	}
}

// TestSMTPKeywordsInvalid: what keepalived 2.2.7 logs and runs past is a
// skipped error (check-config fails, lvsd run runs), with the value left
// as keepalived leaves it.
func TestSMTPKeywordsInvalid(t *testing.T) {
	for _, tc := range []struct {
		line, msg string
		check     func(*Config) bool
	}{
		{"smtp_server 192.0.2.1 notaport", "invalid port", func(c *Config) bool { return c.Global.SMTPServer == "" }},
		{"smtp_connect_timeout 0", "greater than 0", func(c *Config) bool { return c.Global.SMTPConnectTimeout == time.Second }},
		{"smtp_connect_timeout abc", "must be in", func(c *Config) bool { return c.Global.SMTPConnectTimeout == 30*time.Second }},
		{"smtp_alert maybe", "is not one of", func(c *Config) bool { return c.Global.SMTPAlert == nil }},
		{"smtp_helo_name", "needs a name", func(c *Config) bool { return c.Global.SMTPHeloName == "" }},
		{"notification_email_from", "needs an address", func(c *Config) bool { return c.Global.NotificationEmailFrom == "" }},
	} {
		res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": "global_defs {\n" + tc.line + "\n}\n"}})
		found := false
		for _, d := range res.Diags.Sorted() {
			if strings.Contains(d.Message, tc.msg) {
				found = true
			}
		}
		if !found || !res.Runnable() || res.OK() {
			t.Errorf("%s: diagnostic %q found=%v runnable=%v ok=%v: %v", tc.line, tc.msg, found, res.Runnable(), res.OK(), res.Diags.Sorted())
		}
		if !tc.check(res.Config) {
			t.Errorf("%s: value not left as keepalived leaves it: %+v", tc.line, res.Config.Global)
		}
	}
}

// TestNotifyFIFOKeywords: notify_fifo PATH [user [group]] and the
// *_script keywords (SCRIPT [user [group]]), a second one ignored with an
// error as keepalived 2.2.7's global_parser.c ignores it.
func TestNotifyFIFOKeywords(t *testing.T) {
	c, diags := loadAlertConf(t, `
global_defs {
	notify_fifo /run/all.fifo nobody nogroup
	notify_fifo_script "/usr/bin/reader -a" root
	vrrp_notify_fifo /run/vrrp.fifo
	vrrp_notify_fifo_script /usr/bin/vreader
	lvs_notify_fifo /run/lvs.fifo
	lvs_notify_fifo_script /usr/bin/lreader
	lvs_notify_fifo /run/other.fifo
	fifo_write_vrrp_states_on_reload
}
`)
	g := c.Global
	if f := g.NotifyFIFO; f == nil || f.Path != "/run/all.fifo" || f.User != "nobody" || f.Group != "nogroup" || f.Script == nil ||
		strings.Join(f.Script.Argv, " ") != "/usr/bin/reader -a" || f.Script.User != "root" {
		t.Errorf("notify_fifo: %+v", g.NotifyFIFO)
	}
	if f := g.VRRPNotifyFIFO; f == nil || f.Path != "/run/vrrp.fifo" || f.Script == nil || f.Script.Argv[0] != "/usr/bin/vreader" {
		t.Errorf("vrrp_notify_fifo: %+v", g.VRRPNotifyFIFO)
	}
	if f := g.LVSNotifyFIFO; f == nil || f.Path != "/run/lvs.fifo" || f.Script == nil || f.Script.Argv[0] != "/usr/bin/lreader" {
		t.Errorf("lvs_notify_fifo: %+v", g.LVSNotifyFIFO)
	}
	if !g.FIFOWriteVRRPStatesOnReload {
		t.Error("fifo_write_vrrp_states_on_reload not set")
	}
	found := false
	for _, d := range diags {
		if strings.Contains(d.Message, "lvs_notify_fifo already specified") && d.Skipped {
			found = true
		}
	}
	if !found {
		t.Errorf("no skipped error for the second lvs_notify_fifo: %v", diags)
	}
}
