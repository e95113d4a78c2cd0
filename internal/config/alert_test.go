package config

import (
	"strings"
	"testing"
	"time"
)

func init() {
	for k, v := range map[string]string{
		"global_defs notification_email":      "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs notification_email_from": "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_server":             "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_helo_name":          "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_connect_timeout":    "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"global_defs smtp_alert":              "internal/alert.TestSpecFrom:Global.SMTPAlert",
		"global_defs smtp_alert_vrrp":         "internal/alert.TestSpecFrom:Global.SMTPAlertVRRP",
		"global_defs smtp_alert_checker":      "internal/alert.TestSpecFrom:Global.SMTPAlertChecker",
		"global_defs no_email_faults":         "internal/config.TestSMTPKeywords",
		"global_defs no_checker_emails":       "internal/config.TestSMTPKeywords",
		"vrrp_instance smtp_alert":            "cmd/lvsd.TestSMTPAlertsMatchKeepalived",
		"vrrp_sync_group smtp_alert":          "internal/config.TestSMTPKeywords",
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
