package config

import (
	"testing"
	"time"
)

// TestVRRPMinGARP: vrrp_min_garp as keepalived 2.2.7's handler applies it,
// to what still has the default when it is read.
func TestVRRPMinGARP(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress { 10.0.0.1 }\n}\n"
	cases := []struct {
		name, global string
		repeat, rep  int
		delay        time.Duration
	}{
		{"without it", "", 5, 1, 5 * time.Second},
		{"on", "vrrp_min_garp", 1, 0, 0},
		{"true", "vrrp_min_garp true", 1, 0, 0},
		{"false", "vrrp_min_garp false", 5, 1, 5 * time.Second},
		{"a repeat written before stays", "vrrp_garp_master_repeat 3\n vrrp_min_garp", 3, 0, 0},
		{"a delay written after wins", "vrrp_min_garp\n vrrp_garp_master_delay 2", 1, 0, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{FS: MapFS{"k.conf": "global_defs {\n " + tc.global + "\n}\n" + inst}})
			if res.Diags.HasErrors() {
				t.Fatalf("diagnostics: %v", res.Diags.Sorted())
			}
			in := res.Config.Instances[0]
			if in.GARPMasterRepeat != tc.repeat || in.GARPMasterRefreshRep != tc.rep || in.GARPMasterDelay != tc.delay {
				t.Errorf("garp_master_repeat %d, refresh_repeat %d, delay %s; want %d, %d, %s",
					in.GARPMasterRepeat, in.GARPMasterRefreshRep, in.GARPMasterDelay, tc.repeat, tc.rep, tc.delay)
			}
		})
	}
}
