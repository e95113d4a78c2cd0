package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config --host applies the runner's rules (keepalived 2.2.7's
// check_script_secure): owners count, a file's sticky bit excuses
// nothing, a sticky directory must still be owned by root, users must
// exist.
func TestCheckScriptHost(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, and CI=true allows no skip")
		}
		t.Skip("needs root (file ownership)")
	}
	const nobody = 65534
	base, err := os.MkdirTemp("", "lvsd-checkscript-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	mk := func(t *testing.T, p string, dir bool, mode os.FileMode, uid int) string {
		t.Helper()
		var err error
		if dir {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o700)
		}
		if err == nil {
			err = os.Chown(p, uid, 0)
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		global string
		user   string // vrrp_script's user line
		setup  func(t *testing.T, dir string) string
		sev    string // "" none, "error", "warning"
		want   string
	}{
		{name: "safe", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, 0) }},
		{name: "file owned by another user", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, nobody) },
			sev:   "error", want: "s.sh is owned by uid 65534, not root: enable_script_security refuses it"},
		{name: "file owned by another user, no security", global: "script_user root",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, nobody) },
			sev:   "warning", want: "enable_script_security would refuse it"},
		{name: "world-writable file with the sticky bit", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string {
				return mk(t, filepath.Join(d, "s.sh"), false, os.ModeSticky|0o777, 0)
			}, sev: "error", want: "s.sh is writable by others (mode 1777)"},
		{name: "sticky directory owned by root", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string {
				dd := mk(t, filepath.Join(d, "d"), true, os.ModeSticky|0o777, 0)
				return mk(t, filepath.Join(dd, "s.sh"), false, 0o755, 0)
			}},
		{name: "sticky directory owned by another user", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string {
				dd := mk(t, filepath.Join(d, "d"), true, os.ModeSticky|0o777, nobody)
				return mk(t, filepath.Join(dd, "s.sh"), false, 0o755, 0)
			}, sev: "error", want: "/d is owned by uid 65534, not root"},
		{name: "world-writable directory", global: "script_user root\nenable_script_security",
			setup: func(t *testing.T, d string) string {
				dd := mk(t, filepath.Join(d, "d"), true, 0o777, 0)
				return mk(t, filepath.Join(dd, "s.sh"), false, 0o755, 0)
			}, sev: "error", want: "/d is writable by others (mode 0777)"},
		{name: "runs as nobody: not checked", global: "script_user nobody\nenable_script_security",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o777, nobody) }},
		{name: "own user root overrides script_user nobody", global: "script_user nobody\nenable_script_security", user: "user root",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o777, 0) },
			sev:   "error", want: "writable by others"},
		{name: "script_user does not exist", global: "script_user lvsd-no-such-user",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, 0) },
			sev:   "error", want: `script_user: user "lvsd-no-such-user" does not exist`},
		{name: "script_user group does not exist", global: "script_user root lvsd-no-such-group",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, 0) },
			sev:   "error", want: `script_user: group "lvsd-no-such-group" does not exist`},
		{name: "own user does not exist", user: "user lvsd-no-such-user",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, 0) },
			sev:   "error", want: `user: user "lvsd-no-such-user" does not exist`},
		{name: "not executable", global: "script_user root",
			setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o644, 0) },
			sev:   "error", want: "is not executable for uid:gid 0:0"},
	}
	if _, err := os.Stat("/etc/passwd"); err == nil {
		if data, _ := os.ReadFile("/etc/passwd"); !strings.Contains(string(data), "\nkeepalived_script:") && !strings.HasPrefix(string(data), "keepalived_script:") {
			cases = append(cases, struct {
				name   string
				global string
				user   string
				setup  func(t *testing.T, dir string) string
				sev    string
				want   string
			}{name: "no user named, no keepalived_script, security on", global: "enable_script_security",
				setup: func(t *testing.T, d string) string { return mk(t, filepath.Join(d, "s.sh"), false, 0o755, 0) },
				sev:   "error", want: `default script user: user "keepalived_script" does not exist, and enable_script_security forbids`})
		}
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := mk(t, filepath.Join(base, string(rune('a'+i))), true, 0o755, 0)
			path := tc.setup(t, dir)
			conf := "global_defs {\n" + tc.global + "\n}\nvrrp_script chk {\n script \"" + path + "\"\n " + tc.user + "\n}\n"
			res := Load("k.conf", Options{FS: MapFS{"k.conf": conf}, Host: LocalHost{}})
			var got []Diagnostic
			for _, d := range res.Diags.Sorted() {
				if strings.Contains(d.Message, "script") {
					got = append(got, d)
				}
			}
			if tc.sev == "" {
				if len(got) != 0 {
					t.Fatalf("want no script diagnostics, got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity.String() != tc.sev || !strings.Contains(got[0].Message, tc.want) {
				t.Fatalf("want one %s saying %q, got %v", tc.sev, tc.want, got)
			}
		})
	}
}
