package config

import (
	"encoding/json"
	"strings"
	"testing"
)

func init() {
	for k, v := range map[string]string{
		"vrrp_instance use_vmac":       "cmd/lvsd.TestUseVMACMatchesKeepalived",
		"vrrp_instance vmac_xmit_base": "cmd/lvsd.TestUseVMACMatchesKeepalived",
		"vrrp_instance use_vmac_addr":  "internal/config.TestVMACResolve",
	} {
		keywordBehaviourTests[k] = v
	}
	for _, f := range []string{"Instance.VMAC", "Instance.UseVMACAddr", "VIP.UseVMAC"} {
		unreadFieldsAllowed[f] = "resolved at load (vmac.go completeVMAC) into Instance.VMACs and the VIPs' Dev, which the VRRP router reads"
	}
}

func vmacLoad(t *testing.T, body string) (*Result, *Instance) {
	t.Helper()
	src := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" + body + "\n}\n"
	res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
	if !res.Runnable() {
		t.Fatalf("not runnable: %v", res.Diags.Sorted())
	}
	return res, res.Config.Instances[0]
}

func vmacJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVMACResolve(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		vmacs      string // JSON of Instance.VMACs
		devs       string // the VIPs' devs, space separated
		skipped    string // a skipped error containing this ("" none)
	}{
		{name: "default", body: "use_vmac\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true}]`, devs: "vrrp.51"},
		{name: "ipv6", body: "use_vmac\n virtual_ipaddress { fe80::1/64\n 2001:db8::1/64 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:02:33","ipv6":true,"instance":true,"enable_ipv6":true}]`, devs: "vrrp.51 vrrp.51"},
		{name: "name and mac", body: "use_vmac 02:01:02:03:04:05 vm1\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vm1","parent":"eth0","mac":"02:01:02:03:04:05","instance":true}]`, devs: "vm1"},
		{name: "five octets take the vrid", body: "use_vmac vm1 02:01:02:03:04\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vm1","parent":"eth0","mac":"02:01:02:03:04:33","instance":true}]`, devs: "vm1"},
		{name: "multicast mac", body: "use_vmac 01:01:02:03:04:05\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true}]`, devs: "vrrp.51", skipped: "multicast"},
		{name: "rfc mac", body: "use_vmac 00:00:5e:00:01:05\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true}]`, devs: "vrrp.51", skipped: "RFC 5798"},
		{name: "bad name", body: "use_vmac a/b\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true}]`, devs: "vrrp.51", skipped: "invalid characters"},
		{name: "xmit base", body: "use_vmac\n vmac_xmit_base\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true,"xmit_base":true}]`, devs: "vrrp.51"},
		{name: "xmit base alone", body: "vmac_xmit_base\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `null`, devs: "", skipped: "only valid with a vmac"},
		{name: "strict clears xmit base and mac", body: "strict_mode on\n use_vmac 02:01:02:03:04:05\n vmac_xmit_base\n virtual_ipaddress { 10.0.0.1/24 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true}]`, devs: "vrrp.51", skipped: "strict mode"},
		{name: "vip option on another interface", body: "virtual_ipaddress { 10.0.0.1/24\n 10.1.0.1/24 dev eth1 use_vmac\n 10.1.0.2/24 dev eth1 use_vmac }",
			vmacs: `[{"name":"vrrp.51","parent":"eth1","mac":"00:00:5e:00:01:33"}]`, devs: " vrrp.51 vrrp.51"},
		{name: "vip option and instance vmac", body: "use_vmac\n virtual_ipaddress { 10.0.0.1/24 use_vmac\n 10.1.0.1/24 dev eth1 use_vmac }",
			vmacs: `[{"name":"vrrp.51","parent":"eth0","mac":"00:00:5e:00:01:33","instance":true},{"name":"vrrp1.51","parent":"eth1","mac":"00:00:5e:00:01:33"}]`,
			devs:  "vrrp.51 vrrp1.51", skipped: "use_vmac given for virtual address"},
		{name: "use_vmac_addr", body: "use_vmac_addr\n virtual_ipaddress { 10.0.0.1/24\n 10.1.0.1/24 dev eth1 }\n virtual_ipaddress_excluded { 2001:db8::1/64 }",
			vmacs: `[{"name":"vrrp.51","parent":"eth1","mac":"00:00:5e:00:01:33"},{"name":"vrrp6.51","parent":"eth0","mac":"00:00:5e:00:02:33","ipv6":true,"enable_ipv6":true}]`,
			devs:  " vrrp.51 vrrp6.51"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, in := vmacLoad(t, tc.body)
			if got := vmacJSON(t, in.VMACs); got != tc.vmacs {
				t.Errorf("VMACs\n got %s\nwant %s", got, tc.vmacs)
			}
			var devs []string
			for _, l := range [][]VIP{in.VIPs, in.ExcludedVIPs} {
				for _, v := range l {
					devs = append(devs, v.Dev)
				}
			}
			if got := strings.Join(devs, " "); got != tc.devs {
				t.Errorf("devs %q, want %q", got, tc.devs)
			}
			var skipped []string
			for _, d := range res.Diags.Sorted() {
				skipped = append(skipped, d.Message)
			}
			if tc.skipped == "" && len(skipped) > 0 {
				t.Errorf("diagnostics: %q", skipped)
			}
			if tc.skipped != "" && !anyContains(skipped, tc.skipped) {
				t.Errorf("no diagnostic with %q in %q", tc.skipped, skipped)
			}
		})
	}
}

func TestVMACNamesUnique(t *testing.T) {
	src := `vrrp_instance A { interface eth0
 virtual_router_id 51
 use_vmac
 virtual_ipaddress { 10.0.0.1/24 } }
vrrp_instance B { interface eth1
 virtual_router_id 51
 use_vmac
 virtual_ipaddress { 10.1.0.1/24 } }
vrrp_instance C { interface eth0
 virtual_router_id 51
 use_vmac
 virtual_ipaddress { 2001:db8::1/64 } }
vrrp_instance D { interface eth1
 virtual_router_id 52
 use_vmac vrrp.51
 virtual_ipaddress { 10.2.0.1/24 } }
vrrp_instance E { interface eth1
 virtual_router_id 53
 use_vmac vrrp.51
 virtual_ipaddress { 10.3.0.1/24 } }
`
	res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
	var names []string
	for _, in := range res.Config.Instances {
		names = append(names, in.VMACs[0].Name)
	}
	if got := strings.Join(names, " "); got != "vrrp1.51 vrrp2.51 vrrp6.51 vrrp.51 vrrp.53" {
		t.Errorf("names %q", got)
	}
}

func TestParseVMACMAC(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok, vr bool
		want   [6]byte
	}{
		{"02:00:00:00:00:01", true, false, [6]byte{2, 0, 0, 0, 0, 1}},
		{"2:a:b:c:d", true, true, [6]byte{2, 0xa, 0xb, 0xc, 0xd, 0}},
		{"2:a:b:c:d:", true, true, [6]byte{2, 0xa, 0xb, 0xc, 0xd, 0}},
		{"2:a:b:c", false, false, [6]byte{}},
		{"2:a:b:c:d:e:f", false, false, [6]byte{}},
		{"2:a:b:c:d:123", false, false, [6]byte{}},
		{"2:a:b:c:d:xx", false, false, [6]byte{}},
		{"2::b:c:d:e", false, false, [6]byte{}},
	} {
		got, vr, ok := parseVMACMAC(tc.in)
		if ok != tc.ok || ok && (got != tc.want || vr != tc.vr) {
			t.Errorf("%q: %v %v %v", tc.in, got, vr, ok)
		}
	}
}

func FuzzParseVMACMAC(f *testing.F) {
	f.Add("02:00:00:00:00:01")
	f.Add("2:a:b:c:d")
	f.Fuzz(func(t *testing.T, s string) {
		mac, _, ok := parseVMACMAC(s)
		if ok && strings.Trim(s, "0123456789ABCDEFabcdef:") != "" {
			t.Fatalf("%q accepted as %v", s, mac)
		}
	})
}
