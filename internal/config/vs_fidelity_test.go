package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vsCase is one virtual_server construct: the verdict keepalived 2.2.7's
// `keepalived -t` gives it (kOK), and the model lvsd must build. lvsd run
// must start on every case (keepalived starts on all of them: what it
// reports it corrects or skips).
type vsCase struct {
	name  string
	conf  string
	kOK   bool // keepalived -t exits 0; lvsd check-config passes iff so
	check func(t *testing.T, c *Config)
}

func vsOnly(body string) string { return body + "\n" }

func firstVS(t *testing.T, c *Config) *VirtualServer {
	t.Helper()
	if len(c.VirtualServers) == 0 {
		t.Fatal("no virtual server in the model")
	}
	return c.VirtualServers[0]
}

var vsCases = []vsCase{
	{name: "vs weight is the default real-server weight", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  weight 7
  real_server 10.0.1.1 80 { }
  real_server 10.0.1.2 80 { weight 3 }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if vs.RealServers[0].Weight != 7 || vs.RealServers[1].Weight != 3 {
			t.Errorf("weights %d %d, want 7 3", vs.RealServers[0].Weight, vs.RealServers[1].Weight)
		}
	}},
	{name: "vs weight given after the real servers still applies", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
  weight 4
}`), check: func(t *testing.T, c *Config) {
		if w := firstVS(t, c).RealServers[0].Weight; w != 4 {
			t.Errorf("weight %d, want 4", w)
		}
	}},
	{name: "vs weight out of range is ignored", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  weight 0
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if w := firstVS(t, c).RealServers[0].Weight; w != 1 {
			t.Errorf("weight %d, want 1", w)
		}
	}},
	{name: "hashed with sh is accepted and sets nothing", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  protocol TCP
  lvs_sched sh
  hashed
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if f := firstVS(t, c).SchedFlags; len(f) != 0 {
			t.Errorf("flags %v, want none", f)
		}
	}},
	{name: "hashed with another scheduler is reported and ignored", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  protocol TCP
  lvs_sched rr
  hashed
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if f := firstVS(t, c).SchedFlags; len(f) != 0 {
			t.Errorf("flags %v, want none", f)
		}
	}},
	{name: "sh-port before lvs_sched sh is ignored", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  protocol TCP
  sh-port
  lvs_sched sh
  sh-fallback
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if f := firstVS(t, c).SchedFlags; len(f) != 1 || f[0] != "sh-fallback" {
			t.Errorf("flags %v, want [sh-fallback]", f)
		}
	}},
	{name: "non-contiguous IPv4 granularity is kept as given", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  persistence_timeout 50
  persistence_granularity 255.0.255.0
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if vs.Granularity != netip.MustParseAddr("255.0.255.0") || vs.Persistence != 50*time.Second {
			t.Errorf("granularity %v timeout %v", vs.Granularity, vs.Persistence)
		}
	}},
	{name: "granularity alone makes the service persistent for 360 s", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  persistence_granularity 255.255.255.0
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if !vs.Persistent || vs.Persistence != 360*time.Second {
			t.Errorf("persistent %v for %v, want 360s", vs.Persistent, vs.Persistence)
		}
	}},
	{name: "IPv6 granularity must be a prefix length", kOK: false, conf: vsOnly(`
virtual_server 2001:db8::1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  persistence_timeout 30
  persistence_granularity ffff:ffff::
  real_server 2001:db8::2 80 { }
}`), check: func(t *testing.T, c *Config) {
		if g := firstVS(t, c).Granularity; g.IsValid() {
			t.Errorf("granularity %v, want none", g)
		}
	}},
	{name: "IPv6 granularity prefix length", kOK: true, conf: vsOnly(`
virtual_server 2001:db8::1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  persistence_granularity 64
  real_server 2001:db8::2 80 { }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if vs.Granularity != prefixMask(64) || vs.Persistence != 360*time.Second {
			t.Errorf("granularity %v timeout %v", vs.Granularity, vs.Persistence)
		}
	}},
	{name: "group entries: full range, prefix, last octet, fwmark inet6", kOK: true, conf: vsOnly(`
virtual_server_group G {
  10.0.0.250-10.0.1.2 80
  10.0.2.8/29 80
  10.0.3.1-4 80
  fwmark 7 inet
}
virtual_server_group G6 {
  2001:db8::a-f 80
  fwmark 8 inet6
}
virtual_server group G6 {
  lvs_method TUN
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 0 { }
}
virtual_server group G {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if len(c.VSGroups) != 2 || len(c.VirtualServers) != 2 {
			t.Fatalf("groups %d, virtual servers %d", len(c.VSGroups), len(c.VirtualServers))
		}
		got := ""
		for _, e := range append(c.VSGroups[0].Entries, c.VSGroups[1].Entries...) {
			if e.FWMark != 0 {
				got += fmt.Sprintf("fwmark %d %s;", e.FWMark, e.Family)
			} else {
				got += fmt.Sprintf("%s-%s %d;", e.First, e.Last, e.Port)
			}
		}
		want := "10.0.0.250-10.0.1.2 80;10.0.2.8-10.0.2.15 80;10.0.3.1-10.0.3.4 80;fwmark 7 inet;2001:db8::a-2001:db8::f 80;fwmark 8 inet6;"
		if got != want {
			t.Errorf("entries\n got %s\nwant %s", got, want)
		}
	}},
	{name: "group entries keepalived skips", kOK: false, conf: vsOnly(`
virtual_server_group G {
  10.0.0.5-5 80
  10.0.0.9-10.0.0.1 80
  10.0.2.9/29 80
  fwmark 7 ipx
  10.0.4.1 80
}
virtual_server group G {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if n := len(c.VSGroups[0].Entries); n != 1 {
			t.Errorf("%d entries kept, want 1", n)
		}
	}},
	{name: "a group's family must match the virtual server's", kOK: true, conf: vsOnly(`
virtual_server_group MIX {
  10.0.0.1 80
  2001:db8::1 80
}
virtual_server_group V6 {
  2001:db8::1 80
}
virtual_server group MIX {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}
virtual_server group V6 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}
virtual_server 10.0.0.9 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if len(c.VirtualServers) != 1 || c.VirtualServers[0].Group != "" {
			t.Errorf("virtual servers %d, want only the address one", len(c.VirtualServers))
		}
	}},
	{name: "quorum is capped at the total weight", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  quorum 10
  hysteresis 2
  real_server 10.0.1.1 80 { weight 2 }
  real_server 10.0.1.2 80 { weight 3 }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if vs.Quorum != 5 || vs.Hysteresis != 2 {
			t.Errorf("quorum %d hysteresis %d, want 5 2", vs.Quorum, vs.Hysteresis)
		}
	}},
	{name: "port 0 without persistence becomes persistent", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 0 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 0 { }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if !vs.Persistent || vs.Persistence != 360*time.Second {
			t.Errorf("persistent %v %v", vs.Persistent, vs.Persistence)
		}
	}},
	{name: "ha_suspend is cleared on a fwmark service", kOK: false, conf: vsOnly(`
virtual_server fwmark 5 {
  lvs_method NAT
  lvs_sched rr
  ha_suspend
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if firstVS(t, c).HASuspend {
			t.Error("ha_suspend kept")
		}
	}},
	{name: "ops on TCP is reset", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  ops
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if firstVS(t, c).OPS {
			t.Error("ops kept")
		}
	}},
	{name: "duplicate real server is removed", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { weight 2 }
  real_server 10.0.1.1 80 { weight 5 }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if len(vs.RealServers) != 1 || vs.RealServers[0].Weight != 2 {
			t.Errorf("real servers %d", len(vs.RealServers))
		}
	}},
	{name: "virtual server without real servers is ignored", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
}
virtual_server 10.0.0.2 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		if len(c.VirtualServers) != 1 || c.VirtualServers[0].Addr != netip.MustParseAddr("10.0.0.2") {
			t.Errorf("virtual servers %d", len(c.VirtualServers))
		}
	}},
	{name: "bad scheduler, method and protocol are ignored", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_sched wrrr
  lvs_method DRR
  protocol TCP
  protocol XTP
  real_server 10.0.1.1 80 { }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		if vs.Scheduler != "wlc" || vs.Method != MethodNAT || vs.Protocol != ProtoTCP {
			t.Errorf("sched %s method %s protocol %s", vs.Scheduler, vs.Method, vs.Protocol)
		}
	}},
	{name: "bad checker parts are skipped as keepalived skips them", kOK: false, conf: vsOnly(`
virtual_server 10.0.0.1 80 {
  lvs_method NAT
  lvs_sched rr
  protocol TCP
  real_server 10.0.1.1 80 {
    HTTP_GET {
      http_protocol 2.0
      url { path /a digest 12 status_code 200 999 }
      url { status_code 200 }
    }
    HTTP_GET { connect_timeout 3 }
    MISC_CHECK { misc_timeout 3 }
  }
}`), check: func(t *testing.T, c *Config) {
		rs := firstVS(t, c).RealServers[0]
		if len(rs.Checkers) != 1 {
			t.Fatalf("%d checkers, want 1", len(rs.Checkers))
		}
		ch := rs.Checkers[0]
		if ch.HTTPProtocol != "" || len(ch.Extra().URLs) != 1 || ch.Extra().URLs[0].Digest != "" || len(ch.Extra().URLs[0].StatusCodes) != 1 {
			t.Errorf("checker %+v", ch)
		}
	}},
	{name: "persistence_engine, omega, ha_suspend, http_protocol, fast_recovery", kOK: true, conf: vsOnly(`
virtual_server 10.0.0.1 5060 {
  lvs_method NAT
  lvs_sched rr
  protocol UDP
  persistence_timeout 30
  persistence_engine sip
  omega
  ha_suspend
  real_server 10.0.1.1 5060 {
    HTTP_GET {
      url { path / }
      http_protocol 1.0C
      fast_recovery
    }
  }
}`), check: func(t *testing.T, c *Config) {
		vs := firstVS(t, c)
		ch := vs.RealServers[0].Checkers[0]
		if vs.PersistenceEngine != "sip" || !vs.Omega || !vs.HASuspend || ch.HTTPProtocol != "1.0C" || !ch.FastRecovery {
			t.Errorf("pe %q omega %v ha_suspend %v http_protocol %q fast_recovery %v", vs.PersistenceEngine, vs.Omega, vs.HASuspend, ch.HTTPProtocol, ch.FastRecovery)
		}
	}},
}

// TestVSFidelityModel checks the model lvsd builds for each case, that
// lvsd run would start on it, and that check-config's verdict is the one
// keepalived 2.2.7 gives (recorded in kOK, and checked against the real
// keepalived by TestVSFidelityKeepalivedVerdicts).
func TestVSFidelityModel(t *testing.T) {
	for _, tc := range vsCases {
		t.Run(tc.name, func(t *testing.T) {
			res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": tc.conf}})
			if !res.Runnable() {
				t.Fatalf("lvsd run would refuse a configuration keepalived 2.2.7 runs:\n%v", res.Diags.Sorted())
			}
			if res.OK() != tc.kOK {
				t.Errorf("check-config passes=%v, keepalived -t passes=%v:\n%v", res.OK(), tc.kOK, res.Diags.Sorted())
			}
			tc.check(t, res.Config)
		})
	}
}

// TestVSFidelityKeepalivedVerdicts runs keepalived 2.2.7's `keepalived -t`
// on every case (in a network namespace of its own) and compares its
// verdict with the recorded one, so the table cannot drift from keepalived.
func TestVSFidelityKeepalivedVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs keepalived")
	}
	need := func(ok bool, why string) {
		if !ok {
			if os.Getenv("CI") == "true" {
				t.Fatal(why)
			}
			t.Skip(why)
		}
	}
	need(os.Geteuid() == 0, "must run as root")
	keepalived, err := exec.LookPath("keepalived")
	need(err == nil, "keepalived not installed")
	ns := fmt.Sprintf("lvsdvs%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	dir := t.TempDir()
	for i, tc := range vsCases {
		path := filepath.Join(dir, fmt.Sprintf("case%d.conf", i))
		if err := os.WriteFile(path, []byte(tc.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ip", "netns", "exec", ns, keepalived, "-t", "-l", "-f", path).CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("keepalived: %v", err)
		}
		if got := err == nil; got != tc.kOK {
			t.Errorf("%s: keepalived -t passes=%v, the table says %v:\n%s", tc.name, got, tc.kOK, strings.TrimSpace(string(out)))
		}
	}
}
