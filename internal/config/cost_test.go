package config

import (
	"path/filepath"
	"testing"
	"time"
)

// Issue 15's cost bound, kept from rotting: check-config of genconfig -n
// 10000 (10,000 virtual servers with 40,000 TCP_CHECKed real servers) took
// several times keepalived 2.2.7's peak RSS while the lexer collected every
// token and the parser the whole tree before the model was built, with the
// collector off (docs/benchmarks.md, "Configuration parsing"). Load now
// streams them.
//
// The load runs in a child process (TestBudgetChild in check-config's
// mode: CheckConfigGCPercent, a fresh heap), and three things are
// bounded, none of them a wall-clock time: the bytes allocated (a token
// stream or tree held whole again shows here first), the heap the result
// holds (the model), and the child's peak RSS (its VmHWM: the rusage a
// parent sees also counts the parent's own pages, shared with the child
// until its exec). Each bound is about 1.5 times what the streaming load
// measures (see the log line), so a regression fails and the collector's
// timing does not.
const (
	costAllocBound = 66 << 20 // measured 44 MiB (99 MiB before the parser's slabs were reused, 200 MiB before the stream)
	costLiveBound  = 53 << 20 // measured 34 MiB
	costRSSBound   = 76 << 20 // measured 52-54 MiB, the test binary's own ~10 MiB included
)

func TestLoadCost10000x4(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector multiplies memory several times over")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.conf")
	write(t, path, GenerateLargeConfig(10000))
	rep, _ := runChild(t, path, dir, "check-config", time.Minute)
	rss := int64(rep.HWM)
	t.Logf("genconfig -n 10000: %d MiB allocated, %d MiB held by the result, peak RSS %d MiB, %v of CPU",
		rep.Alloc>>20, rep.Live>>20, rss>>20, rep.CPU.Round(time.Millisecond))
	if !rep.OK || len(rep.Diags) != 0 {
		t.Fatalf("the configuration does not load cleanly: %+v", rep.Diags)
	}
	if rep.Alloc > costAllocBound {
		t.Errorf("a load allocated %d MiB; the bound is %d MiB (a token stream or statement tree held whole again?)", rep.Alloc>>20, costAllocBound>>20)
	}
	if rep.Live > costLiveBound {
		t.Errorf("the loaded configuration holds %d MiB of heap; the bound is %d MiB", rep.Live>>20, costLiveBound>>20)
	}
	if rss > costRSSBound {
		t.Errorf("peak RSS %d MiB; the bound is %d MiB", rss>>20, costRSSBound>>20)
	}
}
