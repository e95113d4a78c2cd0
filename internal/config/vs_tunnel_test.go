package config

import (
	"strings"
	"testing"
)

func init() {
	for k, v := range map[string]string{
		"virtual_server/real_server lvs_method":  "internal/config.TestTunnelOptions",
		"virtual_server lvs_method":              "internal/config.TestTunnelOptions",
		"virtual_server sorry_server_lvs_method": "internal/config.TestTunnelOptions",
	} {
		keywordBehaviourTests[k] = v
	}
}

// TestTunnelOptions: "lvs_method TUN type ipip|gue|gre port N
// nocsum|csum|remcsum" as keepalived 2.2.7's svr_forwarding_handler reads
// it, at virtual server (the default of its real and sorry servers), real
// server and sorry server level. Each bad line is one keepalived -t
// reports (measured: "Unknown tunnel type foo for real server.", "gue
// tunnels require port, otherwise cannot have port.", ...) and runs past
// with the method set and the tunnel as before: lvsd skips it (check-config
// fails, run runs) with the same model.
func TestTunnelOptions(t *testing.T) {
	const base = `
virtual_server 10.7.0.1 80 {
    protocol TCP
    lvs_sched rr
    lvs_method VSM
    sorry_server 10.7.9.9 80
    SSM
    real_server 10.7.1.1 80 {
        RSM
    }
    real_server 10.7.1.2 80 {
    }
}
`
	cases := []struct {
		name, vs, rs, ss string
		// want: the first real server's, the second's (inherits the
		// virtual server's) and the sorry server's tunnel and method.
		rs0, rs1, sorry Tunnel
		rs0Method       string
		skipped         string // "" when the config is clean
	}{
		{name: "default ipip", vs: "TUN", rs0Method: "TUN"},
		{name: "rs gue port csum", vs: "TUN", rs: "lvs_method TUN type gue port 6080 csum",
			rs0: Tunnel{Type: TunnelGUE, Port: 6080, Flags: TunnelCsum}, rs0Method: "TUN"},
		{name: "rs gre remcsum rejected", vs: "TUN", rs: "lvs_method TUN type gre remcsum",
			rs0Method: "TUN", skipped: "gre tunnels do not support remcsum"},
		{name: "rs gre csum", vs: "NAT", rs: "lvs_method TUN type gre csum",
			rs0: Tunnel{Type: TunnelGRE, Flags: TunnelCsum}, rs0Method: "TUN"},
		{name: "vs gue inherited, rs resets to ipip", vs: "TUN type gue port 5555 remcsum", rs: "lvs_method TUN",
			rs1: Tunnel{Type: TunnelGUE, Port: 5555, Flags: TunnelRemCsum}, sorry: Tunnel{Type: TunnelGUE, Port: 5555, Flags: TunnelRemCsum}, rs0Method: "TUN"},
		{name: "sorry server own", vs: "DR", ss: "sorry_server_lvs_method TUN type gre nocsum",
			sorry: Tunnel{Type: TunnelGRE}, rs0Method: "DR"},
		{name: "unknown type keeps method", vs: "DR", rs: "lvs_method TUN type foo", rs0Method: "TUN", skipped: `unknown tunnel type "foo"`},
		{name: "type is case sensitive", vs: "DR", rs: "lvs_method TUN type GUE port 6080", rs0Method: "TUN", skipped: `unknown tunnel type "GUE"`},
		{name: "gue needs port", vs: "DR", rs: "lvs_method TUN type gue", rs0Method: "TUN", skipped: "gue tunnels require a port"},
		{name: "port without gue", vs: "DR", rs: "lvs_method TUN port 5", rs0Method: "TUN", skipped: "gue tunnels require a port"},
		{name: "ipip csum", vs: "DR", rs: "lvs_method TUN type ipip csum", rs0Method: "TUN", skipped: "ipip tunnels do not support"},
		{name: "missing type", vs: "DR", rs: "lvs_method TUN type", rs0Method: "TUN", skipped: "missing tunnel type"},
		{name: "missing port", vs: "DR", rs: "lvs_method TUN type gue port", rs0Method: "TUN", skipped: "missing port"},
		{name: "port 0", vs: "DR", rs: "lvs_method TUN type gue port 0", rs0Method: "TUN", skipped: "invalid gue tunnel port"},
		{name: "port 65536", vs: "DR", rs: "lvs_method TUN type gue port 65536", rs0Method: "TUN", skipped: "invalid gue tunnel port"},
		{name: "bad option", vs: "DR", rs: "lvs_method TUN tpye gue", rs0Method: "TUN", skipped: `invalid tunnel option "tpye"`},
		// keepalived's rs starts from the virtual server's tunnel; an
		// error keeps it (lvsd: the real server keeps its zero tunnel,
		// the virtual server's applies only without its own lvs_method).
		{name: "vs error keeps previous", vs: "TUN type gue port 6080 bogus", rs0Method: "TUN", skipped: "invalid tunnel option"},
		{name: "rs error keeps the virtual server's", vs: "TUN type gue port 6080", rs: "lvs_method TUN type gre bogus",
			rs0: Tunnel{Type: TunnelGUE, Port: 6080}, rs1: Tunnel{Type: TunnelGUE, Port: 6080}, sorry: Tunnel{Type: TunnelGUE, Port: 6080}, rs0Method: "TUN", skipped: `invalid tunnel option "bogus"`},
		{name: "unknown method", vs: "DR", rs: "lvs_method TUNNEL type gue port 5", rs0Method: "DR", skipped: `"TUNNEL" is not NAT, DR or TUN`},
	}
	t.Run("all levels", func(t *testing.T) {
		c := mustLoadTunnel(t, `
virtual_server 10.7.0.1 80 {
    protocol UDP
    lvs_sched rr
    lvs_method TUN type gue port 6080 nocsum
    sorry_server 10.7.9.9 80
    sorry_server_lvs_method TUN type gre csum
    real_server 10.7.1.1 80 {
        lvs_method TUN type gre
    }
    real_server 10.7.1.2 80 {
    }
}
`)
		vs := c.VirtualServers[0]
		for i, want := range []Tunnel{{Type: TunnelGRE}, {Type: TunnelGUE, Port: 6080}} {
			if got := vs.RealServers[i].Tunnel; got != want {
				t.Errorf("real server %d: %+v, want %+v", i, got, want)
			}
		}
		if got, want := vs.SorryServer.Tunnel, (Tunnel{Type: TunnelGRE, Flags: TunnelCsum}); got != want {
			t.Errorf("sorry server: %+v, want %+v", got, want)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("VSM", tc.vs, "RSM", tc.rs, "SSM", tc.ss).Replace(base)
			res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
			if !res.Runnable() {
				t.Fatalf("not runnable: %v", res.Diags.Sorted())
			}
			var errs []string
			for _, d := range res.Diags.Sorted() {
				if d.Severity == SeverityError {
					errs = append(errs, d.Message)
				}
			}
			switch {
			case tc.skipped == "" && len(errs) > 0:
				t.Fatalf("errors: %v", errs)
			case tc.skipped != "" && (len(errs) != 1 || !strings.Contains(errs[0], tc.skipped)):
				t.Fatalf("errors %q, want one with %q", errs, tc.skipped)
			}
			vs := res.Config.VirtualServers[0]
			if got := vs.RealServers[0]; got.Tunnel != tc.rs0 || got.Method.String() != tc.rs0Method {
				t.Errorf("real server 1: %s %+v, want %s %+v", got.Method, got.Tunnel, tc.rs0Method, tc.rs0)
			}
			if got := vs.RealServers[1].Tunnel; got != tc.rs1 {
				t.Errorf("real server 2 (inherits): %+v, want %+v", got, tc.rs1)
			}
			if got := vs.SorryServer.Tunnel; got != tc.sorry {
				t.Errorf("sorry server: %+v, want %+v", got, tc.sorry)
			}
		})
	}
}

func mustLoadTunnel(t *testing.T, src string) *Config {
	t.Helper()
	res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
	if !res.OK() {
		t.Fatalf("errors: %v", res.Diags.Sorted())
	}
	return res.Config
}
