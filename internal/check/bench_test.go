package check

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// BenchmarkTCPCheckers10k runs 10,000 TCP_CHECK checkers with delay_loop 1
// against one loopback listener (accepting and closing, in this process)
// and reports the check rate, the connect time the checkers saw and the
// CPU of the whole process. One iteration is 10 s.
func BenchmarkTCPCheckers10k(b *testing.B) {
	// Listening on every address: the targets are 127.0.x.y.
	port := newServerAt(b, "0.0.0.0:0", nil).port()
	var cfgText strings.Builder
	for v := range 100 {
		fmt.Fprintf(&cfgText, "virtual_server 10.60.%d.1 80 {\n delay_loop 1\n protocol TCP\n", v)
		for r := range 100 {
			fmt.Fprintf(&cfgText, " real_server 10.61.%d.%d 80 {\n  TCP_CHECK {\n connect_ip 127.0.%d.%d\n connect_port %s\n connect_timeout 3\n }\n }\n", v, r+1, v, r+1, port)
		}
		cfgText.WriteString("}\n")
	}
	cfg := labtest.Config(b, cfgText.String())
	for b.Loop() {
		m, _ := startManager(b, cfg)
		time.Sleep(3 * time.Second) // past the first, spread-out round
		checks0 := totalChecks(m)
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		time.Sleep(10 * time.Second)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		elapsed := time.Since(start).Seconds()
		var durs []time.Duration
		for _, st := range m.Status() {
			durs = append(durs, st.LastDuration)
		}
		slices.Sort(durs)
		b.ReportMetric(float64(totalChecks(m)-checks0)/elapsed, "checks/s")
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-connect-µs")
		b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-connect-µs")
		cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()).Seconds() / elapsed
		b.ReportMetric(100*cpu, "%cpu")
	}
}

func totalChecks(m *Manager) (n uint64) {
	for _, st := range m.Status() {
		n += st.Checks
	}
	return n
}
