package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func BenchmarkLoad5000x4(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.conf")
	if err := os.WriteFile(path, []byte(GenerateLargeConfig(5000)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res := Load(path, Options{ConfigID: "x"})
		if !res.OK() || len(res.Config.VirtualServers) != 5000 {
			b.Fatalf("bad parse: %v", res.Diags.Sorted()[:1])
		}
	}
}

// TestLargeConfigUnderOneSecond is the bound, checked in every test run.
func TestLargeConfigUnderOneSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("a time bound: checked in make test's first pass, not under -race -short")
	}
	path := filepath.Join(t.TempDir(), "big.conf")
	src := GenerateLargeConfig(5000)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// make test runs this beside the lab VMs on two cores: the wall time
	// of a load then measures the other processes too. The CPU time the
	// process used per load is the work itself; either within the bound
	// passes.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	cpu0 := cpu()
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			Load(path, Options{ConfigID: "x"})
		}
	})
	lines := strings.Count(src, "\n")
	n := time.Duration(max(r.N, 1))
	per, perCPU := r.T/n, (cpu()-cpu0)/n
	t.Logf("%d lines: %s per load, %s of CPU", lines, per, perCPU)
	if per > time.Second && perCPU > time.Second {
		t.Errorf("parse+validate of %d lines took %v per run (%v of CPU); the bound is 1s", lines, per, perCPU)
	}
}

func BenchmarkLoad10000x4(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.conf")
	if err := os.WriteFile(path, []byte(GenerateLargeConfig(10000)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res := Load(path, Options{ConfigID: "x"})
		if !res.OK() || len(res.Config.VirtualServers) != 10000 {
			b.Fatalf("bad parse: %v", res.Diags.Sorted()[:1])
		}
	}
}
