package config

import (
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
	} {
		f.Add(s)
	}
	samples, _ := filepath.Glob("testdata/golden/*.conf")
	for _, p := range samples {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
}

// FuzzLexer: no input may panic, hang or expand without bound.
func FuzzLexer(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		d := &Diagnostics{}
		start := time.Now()
		toks, _ := lex(MapFS{"/c/main.conf": in, "/c/b.conf": in}, "/c/main.conf", "x", d)
		if time.Since(start) > 5*time.Second {
			t.Fatalf("lexing %d bytes took %s", len(in), time.Since(start))
		}
		if len(toks) > 64*maxTotalLines {
			t.Fatalf("%d tokens", len(toks))
		}
	})
}

// FuzzParse runs the whole pipeline: tree, model, validation, host checks.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		res := Load("/c/main.conf", Options{ConfigID: "x", FS: MapFS{"/c/main.conf": in}})
		_ = res.Diags.Sorted()
	})
}
