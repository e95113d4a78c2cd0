package script

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// A cancelled script's whole process group ends within the grace: the
// children it put in the background too, and those that ignore SIGTERM
// (SIGKILL after the grace).
func TestRunKillsProcessGroup(t *testing.T) {
	const timeout, grace = 300 * time.Millisecond, 400 * time.Millisecond
	const rec = `echo $! >> "$1"; `
	cases := []struct {
		name string
		body string
		// minGrace: the group ignores SIGTERM, so Run must take the
		// grace before SIGKILL.
		minGrace bool
	}{
		{"background children", `sleep 60 & ` + rec + `sleep 60 & ` + rec + `sleep 60`, false},
		{"grandchildren in a subshell", `( sleep 60 & ` + rec + `sleep 60 ) & ` + rec + `sleep 60`, false},
		{"everything ignores SIGTERM", `trap '' TERM; sleep 60 & ` + rec + `sleep 60 & ` + rec + `while :; do sleep 1; done`, true},
		{"leader dies, children ignore SIGTERM", `(trap '' TERM; exec sleep 60) & ` + rec + `(trap '' TERM; exec sleep 60) & ` + rec + `sleep 60`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := baseDir(t)
			pidFile := filepath.Join(dir, "pid")
			s := &config.Script{Argv: []string{writeScript(t, filepath.Join(dir, "s.sh"),
				`echo $$ > "$1"`+"\n"+tc.body, 0o755, os.Getuid(), os.Getgid())}}
			r, _ := newRunner(Settings{})
			r.Grace = grace
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			code, err := runUnderTest(r)(ctx, s, pidFile)
			took := time.Since(start)
			pids := readPIDs(t, pidFile)
			pgid := pids[0]
			t.Cleanup(func() {
				for _, p := range pids {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			})
			if err == nil || code != -1 {
				t.Errorf("Run = %d, %v; want -1 and the context's error", code, err)
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run error %v does not wrap context.DeadlineExceeded", err)
			}
			if max := timeout + grace + reapWait + 700*time.Millisecond; took > max {
				t.Errorf("Run took %v, want at most %v", took, max)
			}
			if tc.minGrace && took < timeout+grace-50*time.Millisecond {
				t.Errorf("Run took %v: SIGKILL before the grace of %v", took, grace)
			}
			if len(pids) < 3 {
				t.Fatalf("the script recorded %d pids, want itself and 2 children", len(pids))
			}
			deadline := time.Now().Add(2 * time.Second)
			for _, p := range pids {
				for labtest.ProcessAlive(p) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if labtest.ProcessAlive(p) {
					t.Errorf("process %d of the script is still alive", p)
				}
			}
			for len(labtest.GroupMembers(pgid)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if live := describeGroup(pgid); live != "" {
				t.Fatalf("process group %d still has live processes: %s", pgid, live)
			}
			if err := syscall.Kill(-pgid, 0); err != syscall.ESRCH {
				t.Errorf("kill(-%d, 0) = %v, want ESRCH", pgid, err)
			}
		})
	}
}

// A script that ends by itself leaves its background children alone (a
// notify script may start a daemon), and its exit code is returned.
func TestRunExitCode(t *testing.T) {
	dir := baseDir(t)
	cases := []struct {
		body string
		args []string
		want int
	}{
		{`exit 0`, nil, 0},
		{`exit 3`, nil, 3},
		{`[ "$1" = a ] && [ "$2" = "b c" ] && exit 7`, []string{"a", "b c"}, 7},
	}
	for i, tc := range cases {
		s := &config.Script{Argv: []string{writeScript(t, filepath.Join(dir, strconv.Itoa(i)+".sh"), tc.body, 0o755, os.Getuid(), os.Getgid())}}
		r, _ := newRunner(Settings{})
		code, err := runUnderTest(r)(context.Background(), s, tc.args...)
		if err != nil || code != tc.want {
			t.Errorf("%q: Run = %d, %v; want %d", tc.body, code, err, tc.want)
		}
	}
}

// keepalived 2.2.7's check_script_secure/check_security: a script run as
// root must be a regular file executable by its user, and it and every
// directory above it owned by root and not writable by others, nor by a
// group other than root, except directories with the sticky bit (which
// must still be owned by root). enable_script_security refuses an unsafe
// script; without it the script runs, with a warning logged once.
func TestSecurity(t *testing.T) {
	needRoot(t)
	const nobody, nogroup = 65534, 65534
	type fixture func(t *testing.T, base string) string
	script := func(mode os.FileMode, uid, gid int) fixture {
		return func(t *testing.T, base string) string {
			return writeScript(t, filepath.Join(base, "s.sh"), "exit 0", mode, uid, gid)
		}
	}
	inDir := func(mode os.FileMode, uid int) fixture {
		return func(t *testing.T, base string) string {
			d := mkdir(t, filepath.Join(base, "d"), mode, uid, 0)
			return writeScript(t, filepath.Join(d, "s.sh"), "exit 0", 0o755, 0, 0)
		}
	}
	cases := []struct {
		name  string
		setup fixture
		user  string // the script's own user; empty: root (script_user root)
		// unsafe: refused under enable_script_security, run (with one
		// warning) without; broken: refused whatever the setting.
		unsafe, broken bool
		reason         string // in the refusal
	}{
		{name: "safe", setup: script(0o755, 0, 0)},
		{name: "world-writable file", setup: script(0o777, 0, 0), unsafe: true, reason: "s.sh is writable by others (mode 0777)"},
		{name: "group-writable file, group root", setup: script(0o775, 0, 0)},
		{name: "group-writable file, other group", setup: script(0o775, 0, nogroup), unsafe: true, reason: "is writable by group nogroup"},
		{name: "world-writable file with sticky bit", setup: script(0o1777, 0, 0), unsafe: true, reason: "s.sh is writable by others (mode 1777)"},
		{name: "file owned by another user", setup: script(0o755, nobody, 0), unsafe: true, reason: "s.sh is owned by uid 65534, not root"},
		{name: "world-writable directory", setup: inDir(0o777, 0), unsafe: true, reason: "/d is writable by others (mode 0777)"},
		{name: "sticky world-writable directory owned by root", setup: inDir(0o1777, 0)},
		{name: "sticky world-writable directory owned by another user", setup: inDir(0o1777, nobody), unsafe: true, reason: "/d is owned by uid 65534, not root"},
		{name: "directory owned by another user", setup: inDir(0o755, nobody), unsafe: true, reason: "/d is owned by uid 65534, not root"},
		{name: "symlink in an unsafe directory to a safe file", setup: func(t *testing.T, base string) string {
			target := writeScript(t, filepath.Join(base, "s.sh"), "exit 0", 0o755, 0, 0)
			d := mkdir(t, filepath.Join(base, "d"), 0o777, 0, 0)
			link := filepath.Join(d, "link.sh")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{name: "symlink to a file in an unsafe directory", setup: func(t *testing.T, base string) string {
			d := mkdir(t, filepath.Join(base, "d"), 0o777, 0, 0)
			target := writeScript(t, filepath.Join(d, "s.sh"), "exit 0", 0o755, 0, 0)
			link := filepath.Join(base, "link.sh")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, unsafe: true, reason: "/d is writable by others"},
		{name: "set-uid root file run as nobody in an unsafe directory", user: "nobody", setup: func(t *testing.T, base string) string {
			d := mkdir(t, filepath.Join(base, "d"), 0o777, 0, 0)
			return writeScript(t, filepath.Join(d, "s.sh"), "exit 0", 0o4755, 0, 0)
		}, unsafe: true, reason: "/d is writable by others"},
		{name: "unsafe file run as nobody is not checked", user: "nobody", setup: script(0o777, nobody, nogroup)},
		{name: "not executable", setup: script(0o644, 0, 0), broken: true, reason: "is not executable for uid:gid 0:0"},
		{name: "not executable by its user", user: "nobody", setup: script(0o750, 0, 0), broken: true, reason: "is not executable for uid:gid 65534:65534"},
		{name: "missing", setup: func(t *testing.T, base string) string { return filepath.Join(base, "missing.sh") },
			broken: true, reason: "cannot be accessed: no such file or directory"},
		{name: "not a regular file", setup: func(t *testing.T, base string) string { return mkdir(t, filepath.Join(base, "dir.sh"), 0o755, 0, 0) },
			broken: true, reason: "is not a regular file"},
	}
	for _, tc := range cases {
		for _, security := range []bool{true, false} {
			name := tc.name + "/security=" + strconv.FormatBool(security)
			t.Run(name, func(t *testing.T) {
				path := tc.setup(t, baseDir(t))
				r, logs := newRunner(Settings{User: "root", Security: security})
				run := runUnderTest(r)
				s := &config.Script{Argv: []string{path}, User: tc.user}
				refused := tc.broken || (tc.unsafe && security)
				for i := range 2 {
					code, err := run(context.Background(), s)
					if !refused {
						if err != nil || code != 0 {
							t.Fatalf("run %d: Run = %d, %v; want it to run and exit 0", i, code, err)
						}
						continue
					}
					var re *RefusedError
					if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || code != -1 {
						t.Fatalf("run %d: Run = %d, %v; want -1 and a RefusedError", i, code, err)
					}
					if !strings.Contains(err.Error(), tc.reason) {
						t.Errorf("refusal %q does not give the reason %q", err, tc.reason)
					}
				}
				// Reasons are logged once per script, not every run.
				switch {
				case refused:
					if n := logs.count("script not run"); n != 1 {
						t.Errorf("refusal logged %d times in 2 runs, want 1:\n%s", n, logs)
					}
				case tc.unsafe:
					if n := logs.count("would refuse it"); n != 1 {
						t.Errorf("unsafe permissions logged %d times in 2 runs, want 1:\n%s", n, logs)
					}
				default:
					if n := logs.count("would refuse it") + logs.count("not run"); n != 0 {
						t.Errorf("a safe script was complained about:\n%s", logs)
					}
				}
				if n := logs.count("SECURITY VIOLATION"); (n == 1) == security || n > 1 {
					t.Errorf("SECURITY VIOLATION logged %d times with enable_script_security=%v, want once when off:\n%s", n, security, logs)
				}
			})
		}
	}
}

// Who scripts run as: the script's own user [group], else script_user
// [group], else keepalived_script if it exists, else root unless
// enable_script_security is set; supplementary groups are cleared. A
// user that does not exist is refused with the reason, and logged.
func TestUsers(t *testing.T) {
	user, group, uid, gid, sgid := tempUser(t)
	base := baseDir(t)
	out := mkdir(t, filepath.Join(base, "out"), 0o1777, 0, 0)
	path := writeScript(t, filepath.Join(base, "id.sh"), `id -u > "$1"; id -g >> "$1"; id -G >> "$1"`, 0o755, 0, 0)
	cases := []struct {
		name      string
		set       Settings
		def       string // the default user (keepalived_script)
		own, ownG string
		want      string // "uid gid groups", or a refusal reason
		refused   bool
	}{
		{name: "script_user", set: Settings{User: user}, want: ids(uid, gid, gid)},
		{name: "script_user with group", set: Settings{User: user, Group: group}, want: ids(uid, sgid, sgid)},
		{name: "the script's own user wins", set: Settings{User: "root"}, own: user, want: ids(uid, gid, gid)},
		{name: "the script's own user and group", set: Settings{User: "root", Group: "root"}, own: user, ownG: group, want: ids(uid, sgid, sgid)},
		{name: "own user without group takes its primary group, not script_user's", set: Settings{User: "root", Group: group}, own: "nobody", want: ids(65534, 65534, 65534)},
		{name: "default user exists", def: user, want: ids(uid, gid, gid)},
		{name: "default user exists, security on", set: Settings{Security: true}, def: user, want: ids(uid, gid, gid)},
		{name: "default user missing: root", want: ids(0, 0, 0)},
		{name: "default user missing, security on", set: Settings{Security: true}, refused: true,
			want: `default script user: user "lvsd-test-no-such-user" does not exist, and enable_script_security forbids`},
		{name: "missing script_user", set: Settings{User: "lvsd-no-such-user"}, refused: true,
			want: `script_user: user "lvsd-no-such-user" does not exist`},
		{name: "missing script_user group", set: Settings{User: user, Group: "lvsd-no-such-group"}, refused: true,
			want: `script_user: group "lvsd-no-such-group" does not exist`},
		{name: "missing own user", own: "lvsd-no-such-user", refused: true, want: `user: user "lvsd-no-such-user" does not exist`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, logs := newRunner(tc.set)
			if tc.def != "" {
				r.DefaultUser = tc.def
			}
			file := filepath.Join(out, strconv.Itoa(i))
			code, err := runUnderTest(r)(context.Background(), &config.Script{Argv: []string{path}, User: tc.own, Group: tc.ownG}, file)
			if tc.refused {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run = %d, %v; want a refusal saying %q", code, err, tc.want)
				}
				if !strings.Contains(logs.String(), tc.want) {
					t.Errorf("the refusal is not logged:\n%s", logs)
				}
				return
			}
			if err != nil || code != 0 {
				t.Fatalf("Run = %d, %v", code, err)
			}
			if got := readIDs(t, file); got != tc.want {
				t.Errorf("ran as uid gid groups %q, want %q", got, tc.want)
			}
		})
	}
}

// A reload (Configure) changes the user of later runs.
func TestConfigureAppliesToLaterRuns(t *testing.T) {
	user, _, uid, gid, _ := tempUser(t)
	base := baseDir(t)
	out := mkdir(t, filepath.Join(base, "out"), 0o1777, 0, 0)
	path := writeScript(t, filepath.Join(base, "id.sh"), `id -u > "$1"; id -g >> "$1"; id -G >> "$1"`, 0o755, 0, 0)
	r, _ := newRunner(Settings{User: "root"})
	run := runUnderTest(r)
	s := &config.Script{Argv: []string{path}}
	steps := []struct {
		global *config.Global
		want   string
	}{
		{&config.Global{ScriptUser: "root"}, ids(0, 0, 0)},
		{&config.Global{ScriptUser: user}, ids(uid, gid, gid)},
		{&config.Global{ScriptUser: user, ScriptGroup: "root"}, ids(uid, 0, 0)},
		{&config.Global{ScriptUser: "root", EnableScriptSecurity: true}, ids(0, 0, 0)},
	}
	for i, st := range steps {
		r.Configure(st.global)
		file := filepath.Join(out, strconv.Itoa(i))
		if code, err := run(context.Background(), s, file); err != nil || code != 0 {
			t.Fatalf("step %d: Run = %d, %v", i, code, err)
		}
		if got := readIDs(t, file); got != st.want {
			t.Errorf("step %d (%+v): ran as %q, want %q", i, *st.global, got, st.want)
		}
	}
	// A file made unsafe is refused once security is on, without a
	// reload: the rules are applied at each run.
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), s, filepath.Join(out, "x")); !errors.Is(err, ErrRefused) {
		t.Errorf("unsafe script after chmod: err %v, want a refusal", err)
	}
}

func ids(uid, gid int, groups ...int) string {
	s := strconv.Itoa(uid) + " " + strconv.Itoa(gid)
	for _, g := range groups {
		s += " " + strconv.Itoa(g)
	}
	return s
}

func readIDs(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("script output: %v", err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
