package config

import (
	"strings"
	"testing"
	"time"
)

// TestVRRPCompleteInstance checks keepalived 2.2.7's vrrp_complete_instance
// rules as applied at load: each case is an instance body (and optional
// global_defs / extra blocks), the values lvsd then runs, and the
// diagnostics. skipped: keepalived -t fails on it but keepalived runs
// (check-config fails, lvsd run runs); fatal: keepalived does not start.
func TestVRRPCompleteInstance(t *testing.T) {
	type want struct {
		priority   int
		state      string
		interval   time.Duration
		version    int
		nopreempt  bool
		delay      time.Duration
		auth, pass string
		accept     bool
		strict     bool
	}
	def := want{priority: 100, state: "BACKUP", interval: time.Second, version: 2, accept: true}
	cases := []struct {
		name    string
		global  string
		body    string
		extra   string
		want    func(w *want)
		skipped []string // substrings of Skipf diagnostics, in any order
		fatal   string
		check   func(t *testing.T, in *Instance, c *Config)
	}{
		{name: "defaults", want: func(w *want) {}},
		{name: "state MASTER without priority is the owner", body: "state MASTER",
			want: func(w *want) { w.priority, w.state = 255, "MASTER" }},
		{name: "priority 255 without state starts MASTER", body: "priority 255",
			want: func(w *want) { w.priority, w.state = 255, "MASTER" }},
		{name: "state MASTER with priority keeps it", body: "state MASTER\npriority 150",
			want: func(w *want) { w.priority, w.state = 150, "MASTER" }},
		{name: "lower-case state is BACKUP", body: "state master",
			want: func(w *want) {}, skipped: []string{"write MASTER"}},
		{name: "BACKUP after MASTER is ignored", body: "state MASTER\nstate BACKUP",
			want: func(w *want) { w.priority, w.state = 255, "MASTER" }, skipped: []string{"previously set as MASTER"}},
		{name: "invalid priority is 100, also with state MASTER", body: "state MASTER\npriority 300",
			want: func(w *want) { w.state = "MASTER" }, skipped: []string{"default 100"}},
		{name: "v2 advert_int 0.3 rounds up to 1 s", body: "advert_int 0.3",
			want: func(w *want) {}, skipped: []string{"rounded to 1s"}},
		{name: "v2 advert_int 1.5 rounds to 2 s", body: "advert_int 1.5",
			want: func(w *want) { w.interval = 2 * time.Second }, skipped: []string{"rounded to 2s"}},
		{name: "v2 advert_int 2.4 rounds to 2 s", body: "advert_int 2.4",
			want: func(w *want) { w.interval = 2 * time.Second }, skipped: []string{"rounded to 2s"}},
		{name: "v3 sub-second kept", body: "version 3\nadvert_int 0.25",
			want: func(w *want) { w.version, w.interval = 3, 250*time.Millisecond }},
		{name: "v3 rounds to centiseconds", body: "version 3\nadvert_int 0.255",
			want: func(w *want) { w.version, w.interval = 3, 260*time.Millisecond }, skipped: []string{"units of 10 ms"}},
		{name: "v3 capped at 40.95 s", body: "version 3\nadvert_int 50",
			want: func(w *want) { w.version, w.interval = 3, 40950*time.Millisecond }, skipped: []string{"40.95"}},
		{name: "advert_int below 0.01 ignored", body: "advert_int 0.001",
			want: func(w *want) {}, skipped: []string{"not 0.01..255"}},
		{name: "nopreempt with MASTER cleared", body: "state MASTER\npriority 150\nnopreempt\npreempt_delay 10",
			want:    func(w *want) { w.priority, w.state = 150, "MASTER" },
			skipped: []string{"nopreempt does not work with initial state MASTER", "preempt_delay does not work with initial state MASTER"}},
		{name: "nopreempt with priority 255 cleared", body: "priority 255\nnopreempt",
			want: func(w *want) { w.priority, w.state = 255, "MASTER" }, skipped: []string{"nopreempt is incompatible with priority 255"}},
		{name: "nopreempt with BACKUP kept", body: "state BACKUP\nnopreempt",
			want: func(w *want) { w.nopreempt = true }},
		{name: "preempt_delay with BACKUP kept", body: "state BACKUP\npreempt_delay 30",
			want: func(w *want) { w.delay = 30 * time.Second }},
		{name: "preempt_delay with nopreempt cleared", body: "nopreempt\npreempt_delay 30",
			want: func(w *want) { w.nopreempt = true }, skipped: []string{"incompatible with nopreempt"}},
		{name: "PASS", body: "authentication {\nauth_type PASS\nauth_pass secret\n}",
			want: func(w *want) { w.auth, w.pass = "PASS", "secret" }},
		{name: "long password truncated", body: "authentication {\nauth_type PASS\nauth_pass 0123456789abc\n}",
			want: func(w *want) { w.auth, w.pass = "PASS", "01234567" }, skipped: []string{"truncated"}},
		{name: "lower-case pass is no authentication", body: "authentication {\nauth_type pass\nauth_pass secret\n}",
			want: func(w *want) {}, skipped: []string{`write PASS`}},
		{name: "PASS without password is off", body: "authentication {\nauth_type PASS\n}",
			want: func(w *want) {}, skipped: []string{"without auth_pass"}},
		{name: "AH", body: "authentication {\nauth_type AH\nauth_pass secret\n}",
			want: func(w *want) { w.auth, w.pass = "AH", "secret" }},
		{name: "AH starts BACKUP unless the owner", body: "state MASTER\npriority 150\nauthentication {\nauth_type AH\nauth_pass secret\n}",
			want: func(w *want) { w.auth, w.pass, w.priority = "AH", "secret", 150 }, skipped: []string{"incompatible with AH"}},
		{name: "AH owner starts MASTER", body: "state MASTER\nauthentication {\nauth_type AH\nauth_pass secret\n}",
			want: func(w *want) { w.auth, w.pass, w.priority, w.state = "AH", "secret", 255, "MASTER" }},
		{name: "AH with IPv6 is off", body: "#vip6 authentication {\nauth_type AH\nauth_pass secret\n}",
			want: func(w *want) { w.version = 3 }, skipped: []string{"VRRPv3 has no authentication"}},
		{name: "v3 drops authentication", body: "version 3\nauthentication {\nauth_type PASS\nauth_pass secret\n}",
			want: func(w *want) { w.version = 3 }, skipped: []string{"VRRPv3 has no authentication"}},
		{name: "vrrp_strict: no authentication, no accept, no preempt_delay", global: "vrrp_strict",
			body:    "authentication {\nauth_type PASS\nauth_pass secret\n}\npreempt_delay 5",
			want:    func(w *want) { w.strict, w.accept = true, false },
			skipped: []string{"strict mode does not support authentication", "preempt_delay is incompatible with strict mode"}},
		{name: "strict_mode in the instance", body: "strict_mode\nauthentication {\nauth_type PASS\nauth_pass secret\n}",
			want: func(w *want) { w.strict, w.accept = true, false }, skipped: []string{"strict mode does not support authentication"}},
		{name: "strict_mode off overrides vrrp_strict", global: "vrrp_strict", body: "strict_mode off",
			want: func(w *want) {}},
		{name: "strict owner accepts", global: "vrrp_strict", body: "state MASTER",
			want: func(w *want) { w.strict, w.priority, w.state = true, 255, "MASTER" }},
		{name: "strict v2 accept is cleared", global: "vrrp_strict", body: "accept",
			want: func(w *want) { w.strict, w.accept = true, false }, skipped: []string{"RFC 3768"}},
		{name: "strict v3 accept is kept", global: "vrrp_strict", body: "version 3\naccept",
			want: func(w *want) { w.strict, w.version = true, 3 }},
		{name: "strict state MASTER must be the owner", global: "vrrp_strict", body: "state MASTER\npriority 200",
			want: func(w *want) { w.strict, w.accept, w.priority = true, false, 200 }, skipped: []string{"must match being the address owner"}},
		{name: "strict GARP and advert rules", global: "vrrp_strict", body: "garp_lower_prio_repeat 3\nhigher_prio_send_advert",
			want:    func(w *want) { w.strict, w.accept = true, false },
			skipped: []string{"garp_lower_prio_repeat 0", "higher_prio_send_advert off"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if in.GARPLowerPrioRepeat != 0 || in.GARPLowerPrioDelay != 0 || !*in.LowerPrioNoAdvert || *in.HigherPrioSendAdvert {
					t.Errorf("strict GARP/advert: repeat %d delay %s lower_prio_no_advert %v higher_prio_send_advert %v",
						in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay, *in.LowerPrioNoAdvert, *in.HigherPrioSendAdvert)
				}
			}},
		{name: "strict without VIP is fatal", global: "vrrp_strict", body: "#novip", fatal: "at least one"},
		{name: "v3 without VIP is fatal", body: "version 3\n#novip", fatal: "at least one"},
		{name: "vrrp_script without script is removed with its tracking",
			extra: "vrrp_script chk {\ninterval 2\n}",
			body:  "track_script {\nchk\n}", want: func(w *want) {},
			skipped: []string{"has no script", "which is not defined"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(c.Scripts) != 0 || len(in.TrackScripts) != 0 {
					t.Errorf("scripts %d, tracked %d: want 0, 0", len(c.Scripts), len(in.TrackScripts))
				}
			}},
		{name: "use_vmac on a VIP is accepted", body: "#vip use_vmac", want: func(w *want) {}},
		{name: "VIP option without its value skips the address", body: "#vip dev", want: func(w *want) {},
			skipped: []string{"dev needs a value"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.VIPs) != 0 {
					t.Errorf("VIPs %v, want none", in.VIPs)
				}
			}},
		{name: "IPv6 VIP: brd skips it, label is dropped", body: "version 3\nvirtual_ipaddress {\nfd00::1/64 label eth0:x\nfd00::2/64 brd fd00::ff\n}\n#novip",
			want: func(w *want) { w.version = 3 }, skipped: []string{"take no scope or label", "has no broadcast"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.VIPs) != 1 || in.VIPs[0].Label != "" {
					t.Errorf("VIPs %+v, want fd00::1/64 without label", in.VIPs)
				}
			}},
		{name: "a VIP of the other family is ignored", body: "virtual_ipaddress {\n10.0.0.1/24\nfd00::1/64\n10.0.0.2/24\n}\n#novip",
			want: func(w *want) {}, skipped: []string{"not of the instance's family"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.VIPs) != 2 || in.VIPs[1].Prefix.String() != "10.0.0.2/24" {
					t.Errorf("VIPs %v", in.VIPs)
				}
			}},
		{name: "unknown VIP option is ignored", body: "#vip frobnicate", want: func(w *want) {}, skipped: []string{"frobnicate"}},
		{name: "sync group member: weights become FAULT trackers, weighted scripts dropped",
			extra: "vrrp_script chk {\nscript /bin/true\nweight -20\n}\nvrrp_script chk0 {\nscript /bin/true\n}\n" +
				"vrrp_sync_group G {\ngroup {\nVI\nVI2\n}\n}\nvrrp_instance VI2 {\ninterface eth0\nvirtual_router_id 2\nvirtual_ipaddress {\n10.0.0.2\n}\n}",
			body: "track_interface {\neth1 weight -30\neth2\n}\ntrack_script {\nchk\nchk0\n}", want: func(w *want) {},
			skipped: []string{"track_interface eth1 weight -30 is ignored", "track_script chk has weight -20 and is dropped"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.TrackInterfaces) != 2 || in.TrackInterfaces[0].Weight != 0 || len(in.TrackScripts) != 1 || in.TrackScripts[0].Name != "chk0" {
					t.Errorf("tracking: %+v %+v", in.TrackInterfaces, in.TrackScripts)
				}
			}},
		{name: "sync_group_tracking_weight keeps weights",
			extra: "vrrp_script chk {\nscript /bin/true\nweight -20\n}\n" +
				"vrrp_sync_group G {\ngroup {\nVI\nVI2\n}\nsync_group_tracking_weight\n}\nvrrp_instance VI2 {\ninterface eth0\nvirtual_router_id 2\nvirtual_ipaddress {\n10.0.0.2\n}\n}",
			body: "track_interface {\neth1 weight -30\n}\ntrack_script {\nchk\n}", want: func(w *want) {},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.TrackInterfaces) != 1 || in.TrackInterfaces[0].Weight != -30 || len(in.TrackScripts) != 1 {
					t.Errorf("tracking: %+v %+v", in.TrackInterfaces, in.TrackScripts)
				}
			}},
		{name: "global_tracking is deprecated but keeps weights",
			extra: "vrrp_script chk {\nscript /bin/true\nweight -20\n}\n" +
				"vrrp_sync_group G {\ngroup {\nVI\nVI2\n}\nglobal_tracking\n}\nvrrp_instance VI2 {\ninterface eth0\nvirtual_router_id 2\nvirtual_ipaddress {\n10.0.0.2\n}\n}",
			body: "track_script {\nchk\n}", want: func(w *want) {}, skipped: []string{"global_tracking is deprecated"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(in.TrackScripts) != 1 {
					t.Errorf("tracking: %+v", in.TrackScripts)
				}
			}},
		{name: "sync group members that are not instances or are taken are ignored",
			extra: "vrrp_sync_group G {\ngroup {\nVI\nNOPE\n}\n}\nvrrp_sync_group H {\ngroup {\nVI\n}\n}\nvrrp_sync_group E {\n}",
			want:  func(w *want) {}, skipped: []string{"NOPE is not defined", "already in vrrp_sync_group G", "H has no instance", "E has no group"},
			check: func(t *testing.T, in *Instance, c *Config) {
				if len(c.SyncGroups) != 1 || c.SyncGroups[0].Name != "G" || len(c.SyncGroups[0].Members) != 1 || in.SyncGroup != "G" {
					t.Errorf("sync groups %+v, instance in %q", c.SyncGroups, in.SyncGroup)
				}
			}},
		{name: "unicast instances share a VRID with different peers",
			extra: "vrrp_instance VI2 {\ninterface eth0\nvirtual_router_id 1\nunicast_peer {\n10.0.0.8\n}\nvirtual_ipaddress {\n10.0.0.2\n}\n}",
			body:  "unicast_peer {\n10.0.0.9\n}", want: func(w *want) {}},
		{name: "unicast instances with a common peer clash",
			extra: "vrrp_instance VI2 {\ninterface eth0\nvirtual_router_id 1\nunicast_peer {\n10.0.0.9\n}\nvirtual_ipaddress {\n10.0.0.2\n}\n}",
			body:  "unicast_peer {\n10.0.0.9\n}", fatal: "already used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vip := "virtual_ipaddress {\n10.0.0.1/24\n}"
			body := tc.body
			if strings.Contains(body, "#novip") {
				vip = ""
			}
			if strings.HasPrefix(body, "#vip6 ") {
				vip = "virtual_ipaddress {\nfe80::1/64\n}"
				body = body[6:]
			}
			if i := strings.Index(body, "#vip "); i >= 0 {
				vip = "virtual_ipaddress {\n10.0.0.1/24 " + body[i+5:] + "\n}"
				body = body[:i]
			}
			src := "global_defs {\n" + tc.global + "\n}\n" + tc.extra + "\nvrrp_instance VI {\ninterface eth0\nvirtual_router_id 1\n" +
				body + "\n" + vip + "\n}\n"
			res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": src}})
			var skipped, fatal []string
			for _, d := range res.Diags.Sorted() {
				if d.Severity != SeverityError {
					continue
				}
				if d.Skipped {
					skipped = append(skipped, d.Message)
				} else {
					fatal = append(fatal, d.Message)
				}
			}
			if tc.fatal != "" {
				if len(fatal) != 1 || !strings.Contains(fatal[0], tc.fatal) {
					t.Fatalf("want one fatal error with %q, got %q", tc.fatal, fatal)
				}
				return
			}
			if len(fatal) > 0 {
				t.Fatalf("fatal errors: %q\n%s", fatal, src)
			}
			if len(skipped) != len(tc.skipped) {
				t.Errorf("skipped errors %q, want %d matching %q", skipped, len(tc.skipped), tc.skipped)
			}
			for _, w := range tc.skipped {
				found := false
				for _, s := range skipped {
					found = found || strings.Contains(s, w)
				}
				if !found {
					t.Errorf("no skipped error with %q in %q", w, skipped)
				}
			}
			var in *Instance
			for _, i := range res.Config.Instances {
				if i.Name == "VI" {
					in = i
				}
			}
			w := def
			tc.want(&w)
			got := want{priority: in.Priority, state: in.InitialState.String(), interval: in.AdvertInterval, version: in.Version,
				nopreempt: in.NoPreempt, delay: in.PreemptDelay, auth: in.AuthType.String(), pass: in.AuthPass, accept: in.Accept, strict: in.StrictMode}
			if got != w {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if tc.check != nil {
				tc.check(t, in, res.Config)
			}
		})
	}
}
