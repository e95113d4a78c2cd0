package config

import (
	"strings"
	"testing"
)

// TestAcceptTopLevel: what keepalived 2.2.7 accepts, or logs and runs
// past, at the top level and in global_defs. ok is check-config's verdict
// (keepalived -t's), runnable lvsd run's (keepalived starts on all of
// these), want a diagnostic each must produce.
func TestAcceptTopLevel(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		ok       bool
		runnable bool
		want     string
	}{
		{"child_wait_time at the top level", "child_wait_time 5\n", true, true, "child_wait_time in the top level is not supported"},
		{"track_group", "track_group tg {\n group {\n  VI_1\n }\n}\n", true, true, ""},
		{"track_group without a name", "track_group {\n group {\n  VI_1\n }\n}\n", false, true, "track_group must have a name"},
		{"track_group defined twice", "track_group tg {\n group {\n  VI_1\n }\n}\ntrack_group tg {\n group {\n  VI_2\n }\n}\n", false, true, "track_group tg already defined"},
		{"linkbeat_use_polling", "linkbeat_use_polling\n", true, true, "linkbeat"},
		{"SSL block", "SSL {\n password x\n ca /etc/ssl/ca.pem\n certificate /etc/c.pem\n key /etc/k.pem\n}\n", true, true, ""},
		{"SSL unknown keyword", "SSL {\n cafile x\n}\n", false, true, `unknown keyword "cafile" in SSL`},
		{"include_check", "global_defs {\n include_check read\n}\n", true, true, ""},
		{"unknown keyword without a block", "global_defs {\n email_faults\n}\n", false, true, `unknown keyword "email_faults"`},
		{"unknown keyword with a block", "frobnicate {\n x\n}\n", false, false, "its block is skipped"},
		{"lvs_flush_onstop with an unknown type", "global_defs {\n lvs_flush_onstop ALL\n}\n", false, true, `"ALL" is not VS`},
		{"script_user without a user", "global_defs {\n script_user\n}\n", false, true, "script_user needs a user"},
		{"smtp_server without an address", "global_defs {\n smtp_server\n}\n", false, false, "keepalived 2.2.7 exits on it too"},
		{"extra closing brace", "global_defs {\n router_id x\n}\n}\n", false, true, "unexpected '}'"},
		{"missing closing brace", "global_defs {\n router_id x\n", false, true, "never closed"},
		{"numeric boolean", "global_defs {\n vrrp_strict\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  alpha 1\n }\n}\n", false, true, `"1" is not one of on|off`},
		{"type suggests auth_type", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n authentication {\n  type PASS\n  auth_pass x\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n", false, true, `did you mean "auth_type"`},
		{"password suggests auth_pass", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n authentication {\n  auth_type PASS\n  password x\n  auth_pass x\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n", false, true, `did you mean "auth_pass"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Load("/k.conf", Options{ConfigID: "h", FS: MapFS{"/k.conf": tt.in}})
			var all []string
			found := tt.want == ""
			for _, d := range res.Diags.Sorted() {
				all = append(all, d.String())
				if strings.Contains(d.Message, tt.want) {
					found = true
				}
			}
			if res.OK() != tt.ok || res.Runnable() != tt.runnable || !found {
				t.Errorf("ok=%v runnable=%v, want %v %v and a diagnostic %q; got:\n%s", res.OK(), res.Runnable(), tt.ok, tt.runnable, tt.want, strings.Join(all, "\n"))
			}
		})
	}
}

// TestAllConfig: keepalived's -e/--all-config checks every include as
// includea.
func TestAllConfig(t *testing.T) {
	fs := MapFS{"/k.conf": "include /none.conf\n"}
	if res := Load("/k.conf", Options{ConfigID: "h", FS: fs}); !res.OK() {
		t.Errorf("plain include of a missing file: want a warning only, got %v", res.Diags.Sorted())
	}
	res := Load("/k.conf", Options{ConfigID: "h", FS: fs, AllConfig: true})
	if res.Runnable() {
		t.Errorf("with AllConfig, want a fatal error, got %v", res.Diags.Sorted())
	}
}
