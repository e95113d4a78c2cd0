package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestArchitectureDocMatchesImports: docs/architecture.md's import table
// lists every package of cmd/ and internal/ with exactly the lvsd packages
// it imports (go list, non-test files), so the layering it describes is
// the code's.
func TestArchitectureDocMatchesImports(t *testing.T) {
	root := labtest.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	begin, end := strings.Index(text, "<!-- imports: begin -->"), strings.Index(text, "<!-- imports: end -->")
	if begin < 0 || end < begin {
		t.Fatal("docs/architecture.md has no imports table between <!-- imports: begin --> and <!-- imports: end -->")
	}
	documented := map[string][]string{}
	for _, line := range strings.Split(text[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.TrimSpace(cells[1]) == "package" || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		var imports []string
		for _, imp := range strings.Split(cells[2], ",") {
			if imp = strings.TrimSpace(imp); imp != "" {
				imports = append(imports, imp)
			}
		}
		documented[strings.TrimSpace(cells[1])] = imports
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./cmd/...", "./internal/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/lvsd/lvsd/"
	actual := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		var imports []string
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module) {
				imports = append(imports, strings.TrimPrefix(imp, module))
			}
		}
		slices.Sort(imports)
		actual[pkg] = imports
	}
	for pkg, imports := range actual {
		doc, ok := documented[pkg]
		if !ok {
			t.Errorf("docs/architecture.md: %s is missing from the imports table (it imports %s)", pkg, strings.Join(imports, ", "))
			continue
		}
		slices.Sort(doc)
		if !slices.Equal(doc, imports) {
			t.Errorf("docs/architecture.md: %s imports %q, the table says %q", pkg, imports, doc)
		}
	}
	for pkg := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("docs/architecture.md: the imports table names %s, which is not a package", pkg)
		}
	}
}
