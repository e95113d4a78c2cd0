package secure

import (
	"os"
	"path/filepath"
	"testing"
)

// Like keepalived's check_script_secure, the script runs from its resolved
// path, keeping the configured file name when the resolved directory
// holds that name for the same file (programs that act on their name).
func TestInspectExecPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(real, "tool")
	if err := os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// real/alias is a hard link to tool: same file, other name.
	if err := os.Link(target, filepath.Join(real, "alias")); err != nil {
		t.Fatal(err)
	}
	links := filepath.Join(dir, "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]string{"tool": target, "alias": target, "other": target, "dirlink": real} {
		if err := os.Symlink(to, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	me := Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	cases := []struct{ argv0, want string }{
		{target, target},
		{filepath.Join(links, "tool"), target},
		{filepath.Join(links, "alias"), filepath.Join(real, "alias")},
		{filepath.Join(links, "other"), target},
		{filepath.Join(links, "dirlink", "tool"), target},
		{filepath.Join(real, ".", "..", "real", "tool"), target},
	}
	for _, tc := range cases {
		plan, err := Inspect(tc.argv0, me, FS{})
		if err != nil {
			t.Errorf("%s: %v", tc.argv0, err)
			continue
		}
		if plan.Exec != tc.want {
			t.Errorf("%s runs as %s, want %s", tc.argv0, plan.Exec, tc.want)
		}
	}
	plan, err := Inspect("sh", me, FS{})
	if err != nil || !plan.Searched || !filepath.IsAbs(plan.Exec) {
		t.Errorf("bare name: %+v, %v; want a PATH search to an absolute path", plan, err)
	}
}
