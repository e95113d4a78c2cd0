package config

import (
	"strings"
	"testing"
)

// TestDownTimerAdverts: down_timer_adverts and vrrp_down_timer_adverts as
// keepalived 2.2.7 resolves them: the global value as it stands when the
// instance's block begins (alloc_vrrp), the instance's own over it, 3 by
// default and in strict mode (reported), 1..100.
func TestDownTimerAdverts(t *testing.T) {
	inst := func(name, extra string) string {
		return "vrrp_instance " + name + " {\n interface eth0\n virtual_router_id 51\n" + extra + " virtual_ipaddress { 10.0.0.1 }\n}\n"
	}
	cases := []struct {
		name, src string
		want      int
		diag      string
	}{
		{"default", inst("VI_1", ""), 3, ""},
		{"global", "global_defs {\n vrrp_down_timer_adverts 5\n}\n" + inst("VI_1", ""), 5, ""},
		{"the instance's over the global", "global_defs {\n vrrp_down_timer_adverts 5\n}\n" + inst("VI_1", " down_timer_adverts 7\n"), 7, ""},
		{"a global after the block does not reach it", inst("VI_1", "") + "global_defs {\n vrrp_down_timer_adverts 5\n}\n", 3, ""},
		{"strict mode resets it", inst("VI_1", " strict_mode\n down_timer_adverts 7\n"), 3, "down_timer_adverts is incompatible with strict mode"},
		{"out of range", inst("VI_1", " down_timer_adverts 101\n"), 3, "101"},
		{"the longest", inst("VI_1", " down_timer_adverts 100\n"), 100, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{FS: MapFS{"k.conf": tc.src}})
			if len(res.Config.Instances) != 1 {
				t.Fatalf("%d instances", len(res.Config.Instances))
			}
			if got := res.Config.Instances[0].DownTimerAdverts; got != tc.want {
				t.Errorf("down_timer_adverts %d, want %d", got, tc.want)
			}
			var msgs []string
			for _, d := range res.Diags.Sorted() {
				if strings.Contains(d.String(), "down_timer") || strings.Contains(d.String(), "101") {
					msgs = append(msgs, d.String())
				}
			}
			if (tc.diag == "") != (len(msgs) == 0) || tc.diag != "" && !strings.Contains(strings.Join(msgs, "\n"), tc.diag) {
				t.Errorf("diagnostics %q, want one containing %q", msgs, tc.diag)
			}
		})
	}
}
