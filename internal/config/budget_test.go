package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bound: a configuration past the budget is one error, with its
// position, within 5 s and 256 MiB. Time is CPU time (the machine is
// shared; a load that blocks is caught by a deadline instead). Memory is
// allocation (TotalAlloc, in check-config's mode) and peak RSS, which is
// bounded closer (the bombs peak at 14-40 MiB): a load that holds what it
// should let go (statement batches of unbounded size did, 186 MiB) fails.
const (
	bombTime  = 5 * time.Second
	bombAlloc = 256 << 20
	bombRSS   = 96 << 20
)

// bomb is one hostile configuration. Each runs in a child process (this
// test binary again, see TestBudgetChild): before the budget they ran for
// minutes, blocked for ever or died of a stack overflow or out of memory,
// and a child can be killed and its death reported as a failure.
type bomb struct {
	name string
	// setup writes the configuration into dir and returns the path to load.
	setup func(t *testing.T, dir string) string
	// want is in the one error diagnostic.
	want string
	// line is the diagnostic's line; 0 means a position with no line (the
	// main file itself).
	line int
	// maxErrors > 1 admits the errors a bomb makes on its way to the limit.
	maxErrors int
	// heavy bombs take most of a second to reach their limit, and many
	// under the race detector (-short skips them: the race pass runs with
	// -short, and the lexer has no goroutines for it to check).
	heavy bool
}

func testdataBomb(name string) func(*testing.T, string) string {
	return func(t *testing.T, dir string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "budget", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bombs() []bomb {
	return []bomb{
		{name: "nesting", setup: testdataBomb("nesting.conf"), want: "nests blocks deeper than 64 levels", line: 4},
		{name: "exponential", setup: testdataBomb("exponential.conf"), want: "longer than 64 KiB", line: 10},
		{name: "seq-in-def", setup: testdataBomb("seq-in-def.conf"), want: "more than 2000000 tokens", line: 4, heavy: true},
		{name: "tokens", setup: testdataBomb("tokens.conf"), want: "more than 2000000 tokens", line: 4, heavy: true},
		{name: "bytes", setup: testdataBomb("bytes.conf"), want: "more than 32 MiB of text", line: 4, heavy: true},
		{name: "mixed", setup: testdataBomb("mixed.conf"), want: "more than", line: 4, heavy: true},
		{name: "self-lines", setup: testdataBomb("self-lines.conf"), want: "nested deeper than 32 levels", line: 5},
		{name: "dev-zero", setup: testdataBomb("zero.conf"), want: "is a character device, not a regular file", line: 2},
		{name: "fifo-include", setup: func(t *testing.T, dir string) string {
			mkfifo(t, filepath.Join(dir, "pipe"))
			p := filepath.Join(dir, "main.conf")
			write(t, p, "global_defs {\n}\nincluder pipe\n")
			return p
		}, want: "is a named pipe (FIFO), not a regular file", line: 3},
		{name: "fifo-main", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keepalived.conf")
			mkfifo(t, p)
			return p
		}, want: "is a named pipe (FIFO), not a regular file"},
		{name: "directory-main", setup: func(t *testing.T, dir string) string {
			return dir
		}, want: "is a directory, not a regular file"},
		{name: "big-file", setup: func(t *testing.T, dir string) string {
			// Sparse: 1 GiB of zeros that take no disk.
			big := filepath.Join(dir, "big.log")
			f, err := os.Create(big)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(1 << 30); err != nil {
				t.Fatal(err)
			}
			f.Close()
			p := filepath.Join(dir, "main.conf")
			write(t, p, "include big.log\n")
			return p
		}, want: "larger than 16 MiB", line: 1},
		{name: "glob-matches", setup: func(t *testing.T, dir string) string {
			// More files than a configuration may read: the pattern is
			// refused before any is read.
			d := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 5000 {
				write(t, filepath.Join(d, fmt.Sprintf("%05d.conf", i)), "!\n")
			}
			p := filepath.Join(dir, "main.conf")
			write(t, p, "include conf.d/*.conf\n")
			return p
		}, want: "reads more than 4096 files", line: 1, heavy: true},
		{name: "glob-entries", setup: func(t *testing.T, dir string) string {
			// A pattern that matches nothing, repeated: each one reads the
			// whole directory again.
			d := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 3000 {
				write(t, filepath.Join(d, fmt.Sprintf("%05d.txt", i)), "")
			}
			p := filepath.Join(dir, "main.conf")
			write(t, p, "~SEQ(i,1,1000000) include conf.d/*.none\n")
			return p
		}, want: "more than 131072 directory entries", line: 1, heavy: true},
		{name: "include-depth", setup: func(t *testing.T, dir string) string {
			// y1..y8 are links back to the directory, so y3/y1/y8/a.conf
			// is a new path every time: cycle detection does not see it,
			// and 8 includes per level, 32 levels deep, never end.
			links(t, dir)
			write(t, filepath.Join(dir, "a.conf"), "include y*/a.conf\n")
			return filepath.Join(dir, "a.conf")
		}, want: "include nesting deeper than 32 files", line: 1},
		{name: "include-fan-out", setup: func(t *testing.T, dir string) string {
			// The same within the depth limit: l0 includes 8 l1, each
			// includes 8 l2... 8^8 files.
			links(t, dir)
			for k := range 8 {
				write(t, filepath.Join(dir, fmt.Sprintf("l%d.conf", k)), fmt.Sprintf("include y*/l%d.conf\n", k+1))
			}
			write(t, filepath.Join(dir, "l8.conf"), "!\n")
			return filepath.Join(dir, "l0.conf")
		}, want: "reads more than 4096 files", line: 1, heavy: true},
		{name: "error-cascade", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "main.conf")
			write(t, p, "~SEQ(i,1,1000000) x \"unterminated\n")
			return p
		}, want: "more than 1000 errors", line: 1, maxErrors: 1001},
	}
}

func links(t *testing.T, dir string) {
	t.Helper()
	for i := 1; i <= 8; i++ {
		if err := os.Symlink(".", filepath.Join(dir, fmt.Sprintf("y%d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// childReport is what the child prints.
type childReport struct {
	Elapsed time.Duration
	CPU     time.Duration // user+system, all threads (the collector's too)
	Alloc   uint64
	Live    uint64 // heap the result holds, after a collection
	// HWM is the child's own peak RSS (VmHWM): the rusage a parent gets
	// also counts the parent's pages, which the child shared until exec.
	HWM   uint64
	OK    bool
	Diags []childDiag
}

// childDiag is a Diagnostic as JSON has it (Severity has no UnmarshalText).
type childDiag struct {
	Pos      Pos
	Severity string
	Message  string
}

// TestBudgetChild is the child's side: it loads BUDGET_CHILD_PATH and
// reports. It does nothing in a normal run.
func TestBudgetChild(t *testing.T) {
	path := os.Getenv("BUDGET_CHILD_PATH")
	if path == "" {
		t.Skip("only run as the child of TestBudgetBombs")
	}
	if !raceEnabled {
		// Before the budget, bombs took gigabytes: die early instead.
		// (The race detector reserves terabytes of address space.)
		lim := &syscall.Rlimit{Cur: 2 << 30, Max: 2 << 30}
		_ = syscall.Setrlimit(syscall.RLIMIT_AS, lim)
	}
	if os.Getenv("BUDGET_CHILD_MODE") == "check-config" {
		// As check-config (cmd/lvsd/checkconfig.go).
		debug.SetGCPercent(CheckConfigGCPercent)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start, cpu0 := time.Now(), cpuTime()
	res := Load(path, Options{ConfigID: "x"})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	runtime.ReadMemStats(&after)
	rep := childReport{Elapsed: elapsed, CPU: cpu, Alloc: after.TotalAlloc - before.TotalAlloc, OK: res.OK()}
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.Live = after.HeapAlloc
	rep.HWM = vmHWM()
	runtime.KeepAlive(res)
	for _, d := range res.Diags.Sorted() {
		rep.Diags = append(rep.Diags, childDiag{d.Pos, d.Severity.String(), d.Message})
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("\nBUDGET-REPORT %s\n", b)
}

func TestBudgetBombs(t *testing.T) {
	// check-config runs with CheckConfigGCPercent, the daemon's reload
	// with the default.
	limit, modes := bombTime, []string{"check-config", "reload"}
	if raceEnabled {
		// The race detector multiplies time and memory several times
		// over: only the outcome is checked, and the deadline.
		limit, modes = 10*bombTime, modes[:1]
	}
	for _, bb := range bombs() {
		t.Run(bb.name, func(t *testing.T) {
			if bb.heavy && testing.Short() {
				t.Skip("heavy; -short")
			}
			dir := t.TempDir()
			path := bb.setup(t, dir)
			for _, mode := range modes {
				rep, rss := runChild(t, path, dir, mode, limit)
				if rep.HWM > 0 {
					rss = int64(rep.HWM) // the child's own, see childReport
				}
				t.Logf("%s: %v (%v CPU), %d MiB allocated, peak RSS %d MiB", mode, rep.Elapsed.Round(time.Millisecond), rep.CPU.Round(time.Millisecond), rep.Alloc>>20, rss>>20)
				// CPU, not wall time: the machine is shared, and a load
				// that blocks is caught by runChild's deadline.
				if !raceEnabled && rep.CPU > limit {
					t.Errorf("%s: took %v of CPU; the bound is %v", mode, rep.CPU, limit)
				}
				if !raceEnabled && mode == "check-config" && rep.Alloc > bombAlloc {
					t.Errorf("%s: allocated %d MiB; the bound is %d MiB", mode, rep.Alloc>>20, bombAlloc>>20)
				}
				if !raceEnabled && rss > bombRSS {
					t.Errorf("%s: peak RSS %d MiB; the bound is %d MiB", mode, rss>>20, bombRSS>>20)
				}
				checkOneError(t, bb, rep)
			}
		})
	}
}

// runChild loads path in a child process and returns its report and peak
// RSS; a child that crashes or outlives limit fails the test.
func runChild(t *testing.T, path, dir, mode string, limit time.Duration) (childReport, int64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestBudgetChild$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "BUDGET_CHILD_PATH="+path, "BUDGET_CHILD_MODE="+mode, "GOTRACEBACK=single")
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(limit + 10*time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still loading after %v; killed", mode, limit+10*time.Second)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	_, js, found := strings.Cut(out.String(), "BUDGET-REPORT ")
	if err != nil || !found {
		t.Fatalf("%s: child failed (%v, peak RSS %d MiB):\n%s", mode, err, rss>>20, firstLines(out.String(), 4))
	}
	js, _, _ = strings.Cut(js, "\n")
	var rep childReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	return rep, rss
}

// checkOneError: the load failed with one error (or bb.maxErrors), the
// one that names the limit, at the bomb's line.
func checkOneError(t *testing.T, bb bomb, rep childReport) {
	t.Helper()
	if rep.OK {
		t.Errorf("loaded without error")
	}
	var errs []childDiag
	for _, d := range rep.Diags {
		if d.Severity == "error" {
			errs = append(errs, d)
		}
	}
	maxErrors := max(bb.maxErrors, 1)
	if len(errs) == 0 || len(errs) > maxErrors {
		t.Fatalf("want 1..%d errors, got %d: %v", maxErrors, len(errs), errs[:min(5, len(errs))])
	}
	last := errs[0]
	for _, d := range errs {
		if strings.Contains(d.Message, bb.want) {
			last = d
		}
	}
	if !strings.Contains(last.Message, bb.want) {
		t.Errorf("error %q does not contain %q", last, bb.want)
	}
	if last.Pos.File == "" || last.Pos.Line != bb.line || (bb.line > 0 && last.Pos.Col == 0) {
		t.Errorf("error at %s; want line %d of a file", last.Pos, bb.line)
	}
}

// cpuTime is the CPU the process has used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// firstLines: a runtime crash says what it was first, then dumps stacks.
func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func head(ds []Diagnostic, n int) []Diagnostic {
	return ds[:min(n, len(ds))]
}

// usage lexes with the default budget and returns what the load used.
func usage(t *testing.T, fsys FileSystem, path string) (*lexer, *Diagnostics) {
	t.Helper()
	d := &Diagnostics{}
	lx := &lexer{fs: fsys, configID: "x", diags: d, defs: map[string]*definition{}, b: &defaultBudget}
	lx.toks.max = lx.b.Tokens
	lx.readFile(path, Pos{})
	if lx.aborted {
		t.Fatalf("%s: aborted: %v", path, d.Sorted())
	}
	return lx, d
}

// TestBudgetRealConfigs: real configurations, and genconfig's 300,000-line
// one, use at most half of every limit.
func TestBudgetRealConfigs(t *testing.T) {
	var paths []string
	for _, pattern := range []string{
		"testdata/golden/*.conf",
		"../../../shared/corpus/keepalived-samples/keepalived.conf.*",
		"/usr/share/doc/keepalived/samples/keepalived.conf.*", // Debian's keepalived: the same samples, for a clone elsewhere
	} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Fatal("no sample configurations")
	}
	big := filepath.Join(t.TempDir(), "big.conf")
	write(t, big, GenerateLargeConfig(10000))
	paths = append(paths, big)
	b := defaultBudget
	var most lexer
	for _, p := range paths {
		lx, _ := usage(t, osFS{}, p)
		check := func(what string, used, limit int64) {
			if used*2 > limit {
				t.Errorf("%s: %s %d is more than half of the limit %d", p, what, used, limit)
			}
		}
		check("tokens", int64(lx.toks.n), int64(b.Tokens))
		check("bytes", lx.bytes, b.Bytes)
		check("lines", int64(lx.lines), int64(b.Lines))
		check("file bytes", lx.fileBytes, b.FileBytes)
		check("files", int64(len(lx.files)), int64(b.Files))
		check("~SEQ lines", lx.seqIters, b.SeqIterations)
		check("glob entries", int64(lx.globbed), int64(b.GlobEntries))
		check("errors", int64(lx.errors), int64(b.Errors))
		most.toks.n = max(most.toks.n, lx.toks.n)
		most.bytes = max(most.bytes, lx.bytes)
		most.lines = max(most.lines, lx.lines)
	}
	t.Logf("%d configurations; the largest: %d tokens, %d bytes, %d lines", len(paths), most.toks.n, most.bytes, most.lines)
	// The block depth the samples reach, against BlockDepth.
	for _, p := range paths {
		d := &Diagnostics{}
		toks, _ := lex(osFS{}, p, "x", d)
		depth, deepest := 0, 0
		for _, tk := range toks {
			switch tk.Kind {
			case TokOpen:
				depth++
				deepest = max(deepest, depth)
			case TokClose:
				depth = max(depth-1, 0)
			}
		}
		if deepest*2 > b.BlockDepth {
			t.Errorf("%s nests %d blocks deep", p, deepest)
		}
	}
}

// TestBudgetLimits crosses each limit of a small budget by one, through
// MapFS, and finds one error and no tokens; one under passes.
func TestBudgetLimits(t *testing.T) {
	small := budget{
		LineBytes: 1024, LineExpandedBytes: 200, ExpandDepth: 4, Bytes: 400, Lines: 10,
		SeqIterations: 5, Tokens: 30, BlockDepth: 3, IncludeDepth: 2, Files: 3,
		FileBytes: 200, TotalFileBytes: 300, GlobEntries: 20, Errors: 2,
	}
	tests := []struct {
		name      string
		files     MapFS
		want      string // "" means no error
		wantLine  int
		wantFile  string
		maxErrors int
	}{
		{name: "depth at limit", files: MapFS{"/m": "a { b { c {\n}}}\n"}},
		{name: "depth past limit", files: MapFS{"/m": "a { b { c {\nd {\n}}}}\n"}, want: "deeper than 3 levels", wantLine: 2},
		{name: "anonymous blocks count", files: MapFS{"/m": "{{{{\n"}, want: "deeper than 3 levels", wantLine: 1},
		{name: "closed blocks do not", files: MapFS{"/m": "a {}\na {}\na {}\na {}\n"}},
		{name: "tokens at limit", files: MapFS{"/m": strings.Repeat("w ", 29) + "\n"}},
		{name: "tokens past limit", files: MapFS{"/m": "w\n" + strings.Repeat("w ", 29) + "\n"}, want: "more than 30 tokens", wantLine: 2},
		{name: "lines past limit", files: MapFS{"/m": strings.Repeat("!\n", 11)}, want: "more than 10 lines", wantLine: 11},
		{name: "seq at limit", files: MapFS{"/m": "~SEQ(i,5) k$i\n"}},
		{name: "seq past limit", files: MapFS{"/m": "~SEQ(i,6) !\n"}, want: "the limit is 5", wantLine: 1},
		{name: "seq across the load", files: MapFS{"/m": "~SEQ(i,3) !\n~LST(v,a,b,c) !\n"}, want: "more than 5 lines", wantLine: 2},
		{name: "seq int64 range", files: MapFS{"/m": "~SEQ(i,-9223372036854775808,9223372036854775807) !\n"}, want: "the limit is 5", wantLine: 1},
		{name: "text past limit", files: MapFS{"/m": "$A=" + strings.Repeat("x", 90) + "\n~SEQ(i,5) $A\n"}, want: "more than 400 bytes of text", wantLine: 2},
		{name: "line expansion past limit", files: MapFS{"/m": "$A=" + strings.Repeat("x", 90) + "\n$A $A $A\n"}, want: "longer than 200 bytes", wantLine: 2},
		{name: "expansion depth", files: MapFS{"/m": "$A=$B\n$B=$C\n$C=$D\n$D=$E\n$E=$F\n$F=x\n$A\n"}, want: "nested deeper than 4 levels", wantLine: 7},
		{name: "file size", files: MapFS{"/m": "include /i\n", "/i": strings.Repeat("!", 200) + "\n"}, want: "larger than 200 bytes", wantLine: 1, wantFile: "/m"},
		{name: "total file size", files: MapFS{"/m": "include /i\ninclude /j\n", "/i": strings.Repeat("!", 159) + "\n", "/j": strings.Repeat("!", 159) + "\n"}, want: "more than 300 bytes", wantLine: 2, wantFile: "/m"},
		{name: "include depth", files: MapFS{"/m": "include /i\n", "/i": "include /j\n", "/j": "x\n"}, want: "include nesting deeper than 2", wantLine: 1, wantFile: "/i"},
		{name: "files", files: MapFS{"/m": "include /i\ninclude /j\ninclude /k\n", "/i": "", "/j": "", "/k": ""}, want: "more than 3 files", wantLine: 3},
		{name: "glob matches", files: MapFS{"/m": "include /c/*\n", "/c/1": "", "/c/2": "", "/c/3": ""}, want: "reads more than 3 files", wantLine: 1},
		{name: "glob entries", files: MapFS{"/m": "~SEQ(i,4) include /none*\n", "/a": "", "/b": "", "/c": "", "/d": "", "/e": ""}, want: "more than 20 directory entries", wantLine: 1},
		{name: "errors", files: MapFS{"/m": "~SEQ(i,5) \"x\n"}, want: "more than 2 errors", wantLine: 1, maxErrors: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Diagnostics{}
			toks, _ := lexBudget(tt.files, "/m", "x", d, &small)
			var errs []Diagnostic
			for _, dg := range d.list {
				if dg.Severity == SeverityError {
					errs = append(errs, dg)
				}
			}
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors %v", errs)
				}
				nodes := parseTree(toks, d)
				if len(d.list) != 0 || len(nodes) == 0 {
					t.Fatalf("tree: %v", d.list)
				}
				return
			}
			if len(errs) == 0 || len(errs) > max(tt.maxErrors, 1) {
				t.Fatalf("want one error %q, got %v", tt.want, errs)
			}
			last := errs[len(errs)-1]
			if !strings.Contains(last.Message, tt.want) {
				t.Errorf("error %q, want %q", last.Message, tt.want)
			}
			file := tt.wantFile
			if file == "" {
				file = "/m"
			}
			if last.Pos.File != file || last.Pos.Line != tt.wantLine || last.Pos.Col == 0 {
				t.Errorf("error at %s, want %s:%d", last.Pos, file, tt.wantLine)
			}
			if toks != nil {
				t.Errorf("%d tokens after the budget was crossed", len(toks))
			}
		})
	}
}

// TestParseTreeDepth: the tree parser's own guard, for a stream that did
// not come from the lexer.
func TestParseTreeDepth(t *testing.T) {
	var toks []Token
	for i := range 100_000 {
		toks = append(toks, Token{Kind: TokWord, Text: "k", Pos: Pos{File: "f", Line: i + 1, Col: 1}},
			Token{Kind: TokOpen, Text: "{", Pos: Pos{File: "f", Line: i + 1, Col: 3}})
	}
	d := &Diagnostics{}
	parseTree(toks, d)
	if len(d.list) != 1 || !strings.Contains(d.list[0].Message, "deeper than 64") || d.list[0].Pos.Line != 65 {
		t.Fatalf("diagnostics %v", head(d.list, 3))
	}
}

// TestGlobMatchesFilepathGlob: the bounded glob finds what filepath.Glob
// finds, in the same order.
func TestGlobMatchesFilepathGlob(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/1.conf", "a/2.conf", "a/x.txt", "b/3.conf", "b/c/4.conf", "[x]/5.conf", ".h.conf"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, full, "")
	}
	for _, pat := range []string{"*/*.conf", "a/*", "*/c/*.conf", "?/[12].conf", `\[x\]/*`, "*.conf", "none/*", "a/1.conf", "a/9.conf", "*/*/*"} {
		pattern := filepath.Join(dir, pat)
		want, werr := filepath.Glob(pattern)
		got, err := osFS{}.Glob(pattern)
		if fmt.Sprint(got) != fmt.Sprint(want) || (err == nil) != (werr == nil) {
			t.Errorf("%s: got %v %v, want %v %v", pat, got, err, want, werr)
		}
	}
	if _, err := (osFS{}).Glob(filepath.Join(dir, "[")); !errors.Is(err, filepath.ErrBadPattern) {
		t.Errorf("bad pattern: %v", err)
	}
}

// vmHWM is this process's peak resident set (/proc/self/status VmHWM).
func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
