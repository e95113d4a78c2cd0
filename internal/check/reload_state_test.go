package check

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

func loadState(t *testing.T, src string) *config.Config {
	t.Helper()
	res := config.Load("t.conf", config.Options{ConfigID: "t", FS: config.MapFS{"t.conf": src}})
	if res.Config == nil {
		t.Fatal("config does not load")
	}
	return res.Config
}

// TestUpdateKeepsStateOfConfiguredRealServersOnly: after each reload the
// real servers with a state (rsUp, and what the snapshot answers) and
// the quorums are exactly those configured, whether real servers stay,
// leave or come back, and whether or not two virtual servers share a key.
func TestUpdateKeepsStateOfConfiguredRealServersOnly(t *testing.T) {
	vs := func(addr string, rss ...string) string {
		var b strings.Builder
		b.WriteString("virtual_server " + addr + " 80 {\n  protocol TCP\n")
		for _, rs := range rss {
			b.WriteString("  real_server " + rs + " 80 { weight 1 }\n")
		}
		b.WriteString("}\n")
		return b.String()
	}
	steps := []string{
		vs("10.0.0.1", "10.0.1.1", "10.0.1.2") + vs("10.0.0.2", "10.0.1.1"),
		vs("10.0.0.1", "10.0.1.1", "10.0.1.2") + vs("10.0.0.2", "10.0.1.1"), // the same
		vs("10.0.0.1", "10.0.1.1") + vs("10.0.0.2", "10.0.1.1"),             // one leaves
		vs("10.0.0.1", "10.0.1.1") + vs("10.0.0.3", "10.0.1.1"),             // one replaced
		vs("10.0.0.1", "10.0.1.1", "10.0.1.2") + vs("10.0.0.3", "10.0.1.1"), // comes back
		vs("10.0.0.1", "10.0.1.3") + vs("10.0.0.1", "10.0.1.4"),             // one key twice, if config lets it
		vs("10.0.0.1", "10.0.1.1"),
		"",
	}
	m := NewManager(nil, nil, 1, nil)
	for i, src := range steps {
		cfg := loadState(t, src)
		if err := m.Update(cfg, time.Now()); err != nil {
			t.Fatal(err)
		}
		var wantRS []rsKey
		wantVS := map[string]bool{}
		for _, v := range cfg.VirtualServers {
			wantVS[v.Key()] = true
			for _, rs := range v.RealServers {
				wantRS = append(wantRS, rsKey{v.Key(), netip.AddrPortFrom(rs.Addr, rs.Port)})
			}
		}
		m.mu.Lock()
		gotRS := slices.Collect(maps.Keys(m.rsUp))
		gotVS := slices.Collect(maps.Keys(m.quorum))
		for _, rk := range wantRS {
			if up, ok := m.rsUp[rk]; !ok || !up {
				t.Errorf("step %d: %v: state %v %v, want up", i, rk, up, ok)
			}
		}
		m.mu.Unlock()
		if len(gotRS) != len(slices.Compact(sortedRS(wantRS))) {
			t.Errorf("step %d: real servers with a state %v, want %v", i, gotRS, wantRS)
		}
		if len(gotVS) != len(wantVS) {
			t.Errorf("step %d: quorums %v, want %v", i, gotVS, wantVS)
		}
	}
}

func sortedRS(l []rsKey) []rsKey {
	slices.SortFunc(l, func(a, b rsKey) int {
		if c := strings.Compare(a.VS, b.VS); c != 0 {
			return c
		}
		return a.RS.Compare(b.RS)
	})
	return l
}
