package announce

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// health says which real servers are down and which services lost quorum.
type health struct {
	down     map[string]bool // "vsKey rsAddr"
	noQuorum map[string]bool // vs.Key()
}

func (h health) RealServerUp(vs *config.VirtualServer, rs *config.RealServer) bool {
	return !h.down[vs.Key()+" "+rs.Addr.String()]
}

type quorumHealth struct{ health }

func (h quorumHealth) QuorumUp(vs *config.VirtualServer) bool { return !h.noQuorum[vs.Key()] }

const conf = `
global_defs {
    lvsd_announce_table 210
    lvsd_announce_protocol 211
    lvsd_announce_drain_time 3
}
virtual_server_group web {
    192.0.2.20-21 80
}
virtual_server 192.0.2.10 80 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    lvsd_announce
    real_server 10.0.0.1 80 { }
    real_server 10.0.0.2 80 { }
}
virtual_server 192.0.2.10 443 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    lvsd_announce
    quorum 2
    real_server 10.0.0.1 443 { }
    real_server 10.0.0.2 443 { }
}
virtual_server 2001:db8::10 80 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    lvsd_announce
    real_server 2001:db8:1::1 80 { }
}
virtual_server 192.0.2.11 80 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    real_server 10.0.0.1 80 { }
}
virtual_server group web {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    lvsd_announce
    real_server 10.0.0.3 80 { }
}
`

func load(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	res := config.Load(path, config.Options{})
	for _, d := range res.Diags.Sorted() {
		if d.Severity == config.SeverityError {
			t.Errorf("unexpected: %s", d)
		}
	}
	if !res.Runnable() {
		t.Fatal("configuration does not load")
	}
	return res.Config
}

func TestDesired(t *testing.T) {
	cfg := load(t, conf)
	all := ipvs.DesiredTable(cfg, nil)
	for _, tc := range []struct {
		name       string
		programmed ipvs.Table
		health     ipvs.Health
		want       []string
	}{
		{"all up", all, nil, []string{"192.0.2.10/32", "192.0.2.20/32", "192.0.2.21/32", "2001:db8::10/128"}},
		{"nothing programmed", nil, nil, nil},
		{"one real server down keeps quorum 1", all, health{down: map[string]bool{"[2001:db8::10]:80/TCP 2001:db8:1::1": true}}, []string{"192.0.2.10/32", "192.0.2.20/32", "192.0.2.21/32"}},
		// 443 has quorum 2: one of its two real servers down withdraws
		// the address, though port 80 is fine.
		{"quorum lost on one port of a shared address", all, health{down: map[string]bool{"192.0.2.10:443/TCP 10.0.0.2": true}}, []string{"192.0.2.20/32", "192.0.2.21/32", "2001:db8::10/128"}},
		{"checker quorum (hysteresis) wins", all, quorumHealth{health{noQuorum: map[string]bool{"group web": true}}}, []string{"192.0.2.10/32", "2001:db8::10/128"}},
		{"not programmed", without(all, "192.0.2.20:80"), nil, []string{"192.0.2.10/32", "192.0.2.21/32", "2001:db8::10/128"}},
		{"programmed with weight 0 only", zeroWeights(all, "192.0.2.21:80"), nil, []string{"192.0.2.10/32", "192.0.2.20/32", "2001:db8::10/128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(cfg, tc.programmed, tc.health)
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if !slices.Equal(gs, tc.want) {
				t.Errorf("Desired = %v, want %v", gs, tc.want)
			}
		})
	}
}

func without(t ipvs.Table, addrPort string) ipvs.Table {
	out := ipvs.Table{}
	for k, v := range t {
		if k.FWMark == 0 && netip.AddrPortFrom(k.Addr, k.Port).String() == addrPort {
			continue
		}
		out[k] = v
	}
	return out
}

func zeroWeights(t ipvs.Table, addrPort string) ipvs.Table {
	out := ipvs.Table{}
	for k, v := range t {
		if k.FWMark == 0 && netip.AddrPortFrom(k.Addr, k.Port).String() == addrPort {
			c := *v
			c.Dests = map[ipvs.DestKey]ipvs.Dest{}
			for dk, d := range v.Dests {
				d.Weight = 0
				c.Dests[dk] = d
			}
			v = &c
		}
		out[k] = v
	}
	return out
}

func TestDesiredWithoutAnnounceIsEmpty(t *testing.T) {
	cfg := load(t, strings.ReplaceAll(conf, "lvsd_announce\n", "\n"))
	if got := Desired(cfg, ipvs.DesiredTable(cfg, nil), nil); len(got) != 0 {
		t.Errorf("Desired without lvsd_announce = %v, want nothing", got)
	}
	if cfg.Announcing() {
		t.Error("Announcing() without lvsd_announce")
	}
}

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		have    []netip.Prefix
		desired []netip.Prefix
		ops     []string
	}{
		{"first announce", nil, pfx("192.0.2.10/32", "2001:db8::10/128"), []string{"add 192.0.2.10/32", "add 2001:db8::10/128"}},
		{"no change", pfx("192.0.2.10/32"), pfx("192.0.2.10/32"), nil},
		// A restart re-adopts: the routes the dead lvsd left stay as they
		// are when still wanted, without a withdraw-announce flap.
		{"restart re-adopts", pfx("192.0.2.10/32", "192.0.2.11/32"), pfx("192.0.2.11/32", "192.0.2.10/32"), nil},
		{"withdraw before announce", pfx("192.0.2.10/32"), pfx("192.0.2.11/32"), []string{"del 192.0.2.10/32", "add 192.0.2.11/32"}},
		{"withdraw all", pfx("192.0.2.10/32", "2001:db8::10/128"), nil, []string{"del 192.0.2.10/32", "del 2001:db8::10/128"}},
		{"duplicates and unmasked", nil, pfx("192.0.2.10/32", "192.0.2.10/32"), []string{"add 192.0.2.10/32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake(tc.have...)
			a := New(f, nil)
			if _, err := a.Set(tc.desired); err != nil {
				t.Fatal(err)
			}
			if ops := f.TakeOps(); !slices.Equal(ops, tc.ops) {
				t.Errorf("ops = %q, want %q", ops, tc.ops)
			}
			want := sortedKeys(toSet(tc.desired))
			if got := f.Routes(); !slices.Equal(got, want) {
				t.Errorf("routes = %v, want %v", got, want)
			}
			// Idempotent: a second Set changes nothing.
			if ch, err := a.Set(tc.desired); err != nil || len(ch) != 0 {
				t.Errorf("second Set = %v, %v; want no change", ch, err)
			}
		})
	}
}

func toSet(ps []netip.Prefix) map[netip.Prefix]bool {
	m := map[netip.Prefix]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// TestSetRepairsAndReportsErrors: a route deleted behind lvsd's back is
// put back by the next Set; a failing route does not stop the others.
func TestSetRepairsAndReportsErrors(t *testing.T) {
	f := NewFake()
	a := New(f, nil)
	want := pfx("192.0.2.10/32", "192.0.2.11/32")
	if _, err := a.Set(want); err != nil {
		t.Fatal(err)
	}
	_ = f.Del(want[0])
	f.TakeOps()
	if _, err := a.Set(want); err != nil {
		t.Fatal(err)
	}
	if ops := f.TakeOps(); !slices.Equal(ops, []string{"add 192.0.2.10/32"}) {
		t.Errorf("repair ops = %q", ops)
	}
	f.FailDel = map[netip.Prefix]bool{want[0]: true}
	ch, err := a.Set(pfx("192.0.2.12/32"))
	if err == nil {
		t.Error("Set with a failing delete returned no error")
	}
	if got := f.Routes(); !slices.Equal(got, pfx("192.0.2.10/32", "192.0.2.12/32")) {
		t.Errorf("routes after partial failure = %v (changes %v)", got, ch)
	}
	f.FailList = true
	if _, err := a.Set(nil); err == nil {
		t.Error("Set with a failing List returned no error")
	}
}

func TestAdopt(t *testing.T) {
	f := NewFake(pfx("192.0.2.10/32", "2001:db8::10/128")...)
	a := New(f, nil)
	got, err := a.Adopt()
	if err != nil || len(got) != 2 {
		t.Fatalf("Adopt = %v, %v", got, err)
	}
	if len(f.TakeOps()) != 0 {
		t.Error("Adopt changed routes")
	}
	if !slices.Equal(a.Announced(), got) {
		t.Errorf("Announced after Adopt = %v", a.Announced())
	}
}
