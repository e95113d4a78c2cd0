package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestManPages generates the man pages as the package build does and
// checks that every command has its page naming each of its flags, that
// man(1) renders each without a warning, and that two runs with the same
// SOURCE_DATE_EPOCH give the same bytes (reproducible package).
func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764547200")
	gen := func() (string, *cobra.Command) {
		dir := t.TempDir()
		root := newRootCommand()
		if err := writeManPages(root, dir); err != nil {
			t.Fatal(err)
		}
		return dir, root
	}
	dir, root := gen()
	dir2, _ := gen()
	var walk func(c *cobra.Command)
	pages := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			if c.Name() == "man" && !c.Hidden {
				t.Errorf("lvsd man is not hidden")
			}
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".8"
		page, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: no man page: %v", c.CommandPath(), err)
			return
		}
		pages++
		again, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(page, again) {
			t.Errorf("%s: two generations differ", name)
		}
		if !bytes.Contains(page, []byte(`.TH "`+strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-"))+`" "8" "Dec 2025"`)) {
			t.Errorf("%s: header: %q", name, page[:min(len(page), 120)])
		}
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !bytes.Contains(page, []byte(`\fB--`+f.Name+`\fP`)) {
				t.Errorf("%s: flag --%s not documented", name, f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, want := range []string{"lvsd.8", "lvsd-run.8", "lvsd-check-config.8", "lvsd-genhash.8", "lvsd-status.8", "lvsd-realserver-up.8", "lvsd-completion-bash.8"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("missing %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "lvsd-man.8")); err == nil {
		t.Errorf("the hidden man command has a page")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != pages {
		t.Errorf("%d files for %d commands", len(ents), pages)
	}
	man := labtest.NeedBinary(t, "man")
	for _, e := range ents {
		cmd := exec.Command(man, "--warnings", "-l", filepath.Join(dir, e.Name()))
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8", "MANPAGER=cat", "PAGER=cat")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || !bytes.Contains(out, []byte("NAME")) {
			t.Errorf("man %s: %v, warnings %q", e.Name(), err, stderr.String())
		}
	}
}

// TestCompletions: cobra's completion command writes the bash, zsh and
// fish scripts the package installs; bash parses its own.
func TestCompletions(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		cmd := exec.Command(self, "completion", sh)
		cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, []byte("lvsd")) || len(out) < 1000 {
			t.Fatalf("completion %s: %v, %d bytes", sh, err, len(out))
		}
		if sh == "bash" {
			check := exec.Command("bash", "-n")
			check.Stdin = bytes.NewReader(out)
			if msg, err := check.CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v %s", err, msg)
			}
		}
	}
}
