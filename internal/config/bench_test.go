package config

import (
	"os"
	"path/filepath"
	"strings"
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
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			Load(path, Options{ConfigID: "x"})
		}
	})
	lines := strings.Count(src, "\n")
	per := r.T / time.Duration(max(r.N, 1))
	t.Logf("%d lines: %s per load", lines, per)
	if per > time.Second {
		t.Errorf("parse+validate of %d lines took %v per run; the bound is 1s", lines, per)
	}
}
