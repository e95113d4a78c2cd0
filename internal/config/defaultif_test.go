package config

import (
	"strings"
	"testing"
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
