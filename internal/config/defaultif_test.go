package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStaticAddressDefaultInterface: a static_ipaddress without dev goes
// on default_interface, else eth0, as keepalived 2.2.7's get_default_if;
// the first such address fixes the interface.
func TestStaticAddressDefaultInterface(t *testing.T) {
	cases := []struct {
		name, src string
		devs      []string
		skipped   string
	}{
		{"eth0 by default", "static_ipaddress {\n 10.0.0.1/32\n 10.0.0.2/32 dev lo\n}\n", []string{"eth0", "lo"}, ""},
		{"default_interface", "global_defs {\n default_interface bond0\n}\nstatic_ipaddress {\n 10.0.0.1/32\n}\n", []string{"bond0"}, ""},
		{"fixed by the first address", "static_ipaddress {\n 10.0.0.1/32\n}\nglobal_defs {\n default_interface bond0\n}\nstatic_ipaddress {\n 10.0.0.2/32\n}\n", []string{"eth0", "eth0"}, ""},
		{"no name", "global_defs {\n default_interface\n}\nstatic_ipaddress {\n 10.0.0.1/32\n}\n", []string{"eth0"}, "default_interface requires interface name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{FS: MapFS{"k.conf": tc.src}})
			var devs []string
			for _, a := range res.Config.StaticAddresses {
				devs = append(devs, a.Dev)
			}
			if strings.Join(devs, ",") != strings.Join(tc.devs, ",") {
				t.Errorf("devs %v, want %v", devs, tc.devs)
			}
			diags := res.Diags.Sorted()
			switch {
			case tc.skipped == "" && res.Diags.HasErrors():
				t.Errorf("diagnostics: %v", diags)
			case tc.skipped != "":
				if len(diags) != 1 || !diags[0].Skipped || !strings.Contains(diags[0].Message, tc.skipped) {
					t.Errorf("diagnostics %v, want one skipped error %q", diags, tc.skipped)
				}
			}
		})
	}
}

// TestPromoteSecondaries: promote_secondaries sets the instance's flag;
// with use_vmac keepalived 2.2.7 reports it and clears it.
func TestPromoteSecondaries(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n promote_secondaries\n%s virtual_ipaddress { 10.0.0.1 }\n}\n"
	for _, tc := range []struct {
		name, extra string
		want        bool
		skipped     string
	}{
		{"set", "", true, ""},
		{"use_vmac", " use_vmac\n", false, "(VI_1) promote_secondaries is automatically set for vmacs - ignoring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{FS: MapFS{"k.conf": strings.Replace(inst, "%s", tc.extra, 1)}})
			if got := res.Config.Instances[0].PromoteSecondaries; got != tc.want {
				t.Errorf("PromoteSecondaries %v, want %v", got, tc.want)
			}
			diags := res.Diags.Sorted()
			if tc.skipped == "" && len(diags) != 0 {
				t.Errorf("diagnostics: %v", diags)
			}
			if tc.skipped != "" && (len(diags) != 1 || !diags[0].Skipped || diags[0].Message != tc.skipped) {
				t.Errorf("diagnostics %v, want one skipped error %q", diags, tc.skipped)
			}
		})
	}
}

// TestLifecycleScriptKeywords: startup_script and shutdown_script as
// keepalived 2.2.7's startup_shutdown_script reads them: the first one
// given counts, the timeout defaults to 10 s, a timeout outside 1-1000 is
// skipped.
func TestLifecycleScriptKeywords(t *testing.T) {
	res := Load("k.conf", Options{FS: MapFS{"k.conf": `global_defs {
 startup_script "/bin/start now" root
 startup_script /bin/other
 shutdown_script /bin/stop
 shutdown_script_timeout 1001
 startup_script_timeout 30
}
`}})
	g := res.Config.Global
	if g.StartupScript == nil || strings.Join(g.StartupScript.Argv, " ") != "/bin/start now" || g.StartupScript.User != "root" || g.StartupScriptTimeout != 30*time.Second {
		t.Errorf("startup %+v, timeout %s", g.StartupScript, g.StartupScriptTimeout)
	}
	if g.ShutdownScript == nil || g.ShutdownScript.Argv[0] != "/bin/stop" || g.ShutdownScriptTimeout != 10*time.Second {
		t.Errorf("shutdown %+v, timeout %s", g.ShutdownScript, g.ShutdownScriptTimeout)
	}
	var msgs []string
	for _, d := range res.Diags.Sorted() {
		if !d.Skipped {
			t.Errorf("not skipped: %v", d)
		}
		msgs = append(msgs, d.Message)
	}
	if want := "startup script already specified|shutdown_script_timeout '1001' must be in [1, 1000] - ignoring"; strings.Join(msgs, "|") != want {
		t.Errorf("diagnostics %q, want %q", strings.Join(msgs, "|"), want)
	}
}

// TestMcastDstIP: mcast_dst_ip as keepalived 2.2.7 checks it; each bad
// value is skipped with its message and the instance keeps the default
// group.
func TestMcastDstIP(t *testing.T) {
	for _, tc := range []struct {
		value, extra, want, skipped string
	}{
		{"224.0.0.19", "", "224.0.0.19", ""},
		{"224.0.0.19/24", "", "224.0.0.19", ""},
		{"10.0.0.1", "", "", "(VI_1) mcast_dst_ip 10.0.0.1 not multicast. Skipping..."},
		{"ff05::12", "", "", "(VI_1) mcast_dst_ip ff05::12 not link-local multicast. Skipping..."},
		{"ff02::12", "", "", "(VI_1) mcast dest address ff02::12 MUST match VRRP instance family. Skipping..."},
		{"bogus", "", "", "(VI_1) malformed mcast dest address bogus. Skipping..."},
		{"224.0.0.19", " unicast_peer {\n 10.0.0.9\n }\n", "", "(VI_1) multicast destination specified with unicast - ignoring"},
	} {
		t.Run(tc.value+tc.extra, func(t *testing.T) {
			src := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n mcast_dst_ip " + tc.value + "\n" + tc.extra + " virtual_ipaddress { 10.0.0.1 }\n}\n"
			res := Load("k.conf", Options{FS: MapFS{"k.conf": src}})
			got := ""
			if a := res.Config.Instances[0].McastDstIP; a.IsValid() {
				got = a.String()
			}
			if got != tc.want {
				t.Errorf("mcast_dst_ip %q, want %q", got, tc.want)
			}
			var msgs []string
			for _, d := range res.Diags.Sorted() {
				msgs = append(msgs, d.Message)
			}
			if want := tc.skipped; strings.Join(msgs, "|") != want {
				t.Errorf("diagnostics %q, want %q", msgs, want)
			}
		})
	}
}

// TestUnicastPeerTTL: a unicast_peer's min_ttl/max_ttl as keepalived
// 2.2.7's alloc_vrrp_unicast_peer reads them.
func TestUnicastPeerTTL(t *testing.T) {
	for _, tc := range []struct {
		peer, ttls, skipped string
		check               bool
	}{
		{"10.0.0.9", "", "", false},
		{"10.0.0.9 min_ttl 200", "10.0.0.9 200-255", "", true},
		{"10.0.0.9 max_ttl 100 min_ttl 50", "10.0.0.9 50-100", "", true},
		{"10.0.0.9 min_ttl x", "", "", false},
		{"10.0.0.9 min_ttl", "", "(VI_1) min_ttl is missing a value", false},
		{"10.0.0.9 ttl 5", "", "(VI_1) unknown unicast_peer option ttl", false},
		{"10.0.0.9 min_ttl 9 max_ttl 3", "10.0.0.9 9-3", "(VI_1) min_ttl 9 > max_ttl 3 - all packets will be discarded", true},
	} {
		t.Run(tc.peer, func(t *testing.T) {
			src := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n unicast_peer {\n " + tc.peer + "\n }\n virtual_ipaddress { 10.0.0.1 }\n}\n"
			res := Load("k.conf", Options{FS: MapFS{"k.conf": src}})
			in := res.Config.Instances[0]
			var ttls []string
			for _, p := range in.UnicastPeerTTLs {
				ttls = append(ttls, fmt.Sprintf("%s %d-%d", p.Peer, p.Min, p.Max))
			}
			if strings.Join(ttls, ",") != tc.ttls || in.CheckUnicastSrc != tc.check || len(in.UnicastPeers) != 1 {
				t.Errorf("ttls %q check %v peers %v; want %q %v", ttls, in.CheckUnicastSrc, in.UnicastPeers, tc.ttls, tc.check)
			}
			var msgs []string
			for _, d := range res.Diags.Sorted() {
				msgs = append(msgs, d.Message)
			}
			if strings.Join(msgs, "|") != tc.skipped {
				t.Errorf("diagnostics %q, want %q", msgs, tc.skipped)
			}
		})
	}
}
