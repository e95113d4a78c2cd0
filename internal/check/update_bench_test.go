package check

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
)

// loadBench10k loads scripts/bench-lab.sh's gen_sync configuration:
// 10,000 virtual servers × 4 real servers, no checkers.
func loadBench10k(b *testing.B) *config.Config {
	var s strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&s, "virtual_server 10.%d.%d.1 80 {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", i/250, i%250)
		for r := 1; r <= 4; r++ {
			fmt.Fprintf(&s, "  real_server 172.16.%d.%d 80 {\n    weight %d\n  }\n", i%250, r, r)
		}
		s.WriteString("}\n")
	}
	path := filepath.Join(b.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	res := config.Load(path, config.Options{})
	if res.Config == nil {
		b.Fatal("config does not load")
	}
	return res.Config
}

// BenchmarkReloadStateNoCheckers10k is the checkers' and the desired
// table's part of a reload of 10,000 × 4 real servers without checkers
// (internal/daemon BenchmarkReloadOneWeight10k is the whole reload): a
// new configuration object each time, as after config.Load.
func BenchmarkReloadStateNoCheckers10k(b *testing.B) {
	cfgs := [2]*config.Config{loadBench10k(b), loadBench10k(b)}
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(cfgs[1], time.Now()); err != nil {
		b.Fatal(err)
	}
	prev := ipvs.DesiredTable(cfgs[1], m.Snapshot())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg := cfgs[i%2]
		if err := m.Update(cfg, time.Now()); err != nil {
			b.Fatal(err)
		}
		// As the daemon builds it: from the table last programmed.
		if prev = ipvs.DesiredTableFrom(cfg, m.Snapshot(), prev); len(prev) != 10000 {
			b.Fatalf("%d services", len(prev))
		}
	}
}
