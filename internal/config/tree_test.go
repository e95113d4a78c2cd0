package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestStreamedLoadMatchesBatch: Load (lexer, parser and builder in step,
// the parser's statements carved again once built, the builder's virtual
// servers, real servers and checkers maybe allocated ahead) gives
// the model and diagnostics of lexing, parsing and building one after the
// other, each statement its own. A builder that kept a *Node, []Token or
// []*Node of a statement past its top-level statement would see it
// overwritten by the next one, and differ here.
func TestStreamedLoadMatchesBatch(t *testing.T) {
	t.Run("as loaded", testStreamedLoadMatchesBatch)
	// Every batch with its model objects allocated ahead (modelAhead),
	// which a load does only while the builder is behind.
	saved := aheadQueue
	aheadQueue = 0
	defer func() { aheadQueue = saved }()
	t.Run("objects ahead", testStreamedLoadMatchesBatch)
}

func testStreamedLoadMatchesBatch(t *testing.T) {
	var confs []string
	for _, pattern := range []string{"testdata/golden/*.conf", "../../testdata/acceptance/*.conf", "../../configs/*.conf"} {
		m, _ := filepath.Glob(pattern)
		confs = append(confs, m...)
	}
	big := filepath.Join(t.TempDir(), "big.conf")
	write(t, big, GenerateLargeConfig(300))
	confs = append(confs, big)
	if len(confs) < 20 {
		t.Fatalf("only %d configurations found", len(confs))
	}
	for _, conf := range confs {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			if _, err := os.Stat(conf); err != nil {
				t.Fatal(err)
			}
			res := Load(conf, Options{ConfigID: "lvs1"})

			d := &Diagnostics{}
			toks, files := lexChecked(osFS{}, conf, "lvs1", d, loadBudget, 0)
			cfg := build(parseTree(toks, d), d)
			cfg.Files = files
			validate(cfg, d)

			if got, want := res.Diags.Sorted(), d.Sorted(); !reflect.DeepEqual(got, want) {
				t.Errorf("diagnostics differ:\nstreamed %v\nbatch    %v", got, want)
			}
			got, err := json.Marshal(res.Config)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(cfg)
			if string(got) != string(want) {
				t.Errorf("models differ:\nstreamed %s\nbatch    %s", got, want)
			}
			if res.Hash != hashTokens(toks) {
				t.Errorf("hash %s, the batch token stream's %s", res.Hash, hashTokens(toks))
			}
		})
	}
}
