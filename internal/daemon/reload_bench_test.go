package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
)

// reloadBenchConfig is scripts/bench-lab.sh's gen_sync: n virtual servers
// × 4 real servers, no checkers.
func reloadBenchConfig(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "virtual_server 10.%d.%d.1 80 {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", i/250, i%250)
		for r := 1; r <= 4; r++ {
			fmt.Fprintf(&b, "  real_server 172.16.%d.%d 80 {\n    weight %d\n  }\n", i%250, r, r)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// BenchmarkReloadOneWeight10k: SIGHUP after one weight changed in a
// 10,000 × 4 configuration, to the write in the (fake) kernel: the
// reload's own cost (parse, resolve, diff), without the kernel's. The lab
// figure beside keepalived is scripts/bench-lab.sh ipvs.
func BenchmarkReloadOneWeight10k(b *testing.B) {
	dir := b.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := reloadBenchConfig(10000)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	kernel := ipvs.NewFakeKernel()
	signals, done := make(chan os.Signal, 1), make(chan error, 1)
	opts := Options{ConfigFile: conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { return kernel, nil }, Sysctl: newFakeSysctl()}
	go func() { done <- Run(context.Background(), opts, signals) }()
	defer func() { signals <- syscall.SIGTERM; <-done }()
	waitFor := func(n int) {
		for end := time.Now().Add(5 * time.Minute); kernel.WriteCount() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				b.Fatalf("writes %d, want %d", kernel.WriteCount(), n)
			}
		}
	}
	waitFor(50000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := kernel.WriteCount()
		weight := 9 + i%2
		next := strings.Replace(text, "weight 1\n", fmt.Sprintf("weight %d\n", weight), 1)
		if err := os.WriteFile(conf, []byte(next), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		signals <- syscall.SIGHUP
		waitFor(w + 1)
	}
}
