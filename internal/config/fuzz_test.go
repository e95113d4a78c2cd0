package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addSeeds(f *testing.F) {
	for _, s := range []string{
		"vrrp_instance V { interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1/24 dev eth0 }\n}\n",
		"$A=${A}\n${A}\n", "~SEQ(i,1,3) ~SEQ(j,1,3) x$i$j\n", "include main.conf\n", "@x a\n@^x b\n",
		"\"unterminated\n", "}}}{{{\n", "a \"b\\x41\\101\" 'c d'\n", "~LST({A,B},{1,2}) $A $B\n",
		"$M=\\\n a \\\n $M\n$M\n",
		"includem main.conf\nincludeb {a,main}.conf\nincludea *.conf\nincludew x*\n",
		"global_defs {\ninclude_check -read +match brace_match\n}\ninclude none\n",
		"$F=1\n$L=3\n~SEQ(i, $F, $L) x ${i}\n~SEQx(i, ${F})\n", "$V=a \\\n# c\n b\nx $V\n",
	} {
		f.Add(s)
	}
	samples, _ := filepath.Glob("testdata/golden/*.conf")
	bombs, _ := filepath.Glob("testdata/budget/*.conf")
	for _, p := range append(samples, bombs...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
}

// fuzzBudget is defaultBudget at 1/256 for everything that costs time or
// memory, the same for what shapes the language (line length, nesting), so
// that an input at the limits costs milliseconds and the fuzzers keep
// their pace: at the real limits one input is most of a second of work,
// several under the fuzzers' instrumentation.
var fuzzBudget = func() budget {
	b := defaultBudget
	b.Bytes /= 256
	b.Lines /= 256
	b.SeqIterations /= 256
	b.Tokens /= 256
	b.Files /= 256
	b.FileBytes /= 256
	b.TotalFileBytes /= 256
	b.GlobEntries /= 256
	b.Errors /= 10
	return b
}()

// fuzzCPU bounds one input. At fuzzBudget the worst input costs a few
// milliseconds; this is CPU time, because wall time on a shared machine
// is not the program's (a 13-byte input once "took" 2 s of it).
const fuzzCPU = time.Second

// useFuzzBudget makes Load use fuzzBudget for the rest of f, and keeps the
// minimizer brief.
func useFuzzBudget(f *testing.F) {
	minimizeBriefly()
	saved := loadBudget
	loadBudget = &fuzzBudget
	f.Cleanup(func() { loadBudget = saved })
}

// minimizeBriefly sets -fuzzminimizetime to 2s unless it was given. Go
// minimizes every new interesting input for up to 60 s, and for inputs the
// size of the seeds (keepalived.conf files of 1-2 KB) its pass that tries
// every byte range is quadratic and always uses all of it: with both
// workers minimizing, a 20-second run spent three quarters of its time at
// 0 execs/sec.
func minimizeBriefly() {
	given := false
	flag.Visit(func(fl *flag.Flag) { given = given || fl.Name == "test.fuzzminimizetime" })
	if !given {
		_ = flag.Set("test.fuzzminimizetime", "2s")
	}
}

// FuzzLexer: no input may panic, hang or expand without bound; past a
// limit the load stops with no tokens and at most one error more.
func FuzzLexer(f *testing.F) {
	addSeeds(f)
	useFuzzBudget(f)
	f.Fuzz(func(t *testing.T, in string) {
		d := &Diagnostics{}
		start := cpuTime()
		toks, _ := lex(MapFS{"/c/main.conf": in, "/c/b.conf": in}, "/c/main.conf", "x", d)
		if el := cpuTime() - start; el > fuzzCPU {
			t.Fatalf("lexing %d bytes took %s of CPU", len(in), el)
		}
		if len(toks) > fuzzBudget.Tokens {
			t.Fatalf("%d tokens", len(toks))
		}
		errs := 0
		for _, dg := range d.list {
			if dg.Severity == SeverityError {
				errs++
			}
			if dg.Pos.File == "" {
				t.Fatalf("diagnostic without a file: %v", dg)
			}
		}
		if errs > fuzzBudget.Errors+1 {
			t.Fatalf("%d errors", errs)
		}
		depth := 0
		for _, tk := range toks {
			switch tk.Kind {
			case TokOpen:
				if depth++; depth > fuzzBudget.BlockDepth {
					t.Fatalf("tokens nest %d deep", depth)
				}
			case TokClose:
				depth = max(depth-1, 0)
			}
		}
	})
}

// FuzzParse runs the whole pipeline: tree, model, validation, host checks.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	useFuzzBudget(f)
	f.Fuzz(func(t *testing.T, in string) {
		start := cpuTime()
		res := Load("/c/main.conf", Options{ConfigID: "x", FS: MapFS{"/c/main.conf": in}})
		_ = res.Diags.Sorted()
		if el := cpuTime() - start; el > fuzzCPU {
			t.Fatalf("loading %d bytes took %s of CPU", len(in), el)
		}
	})
}
