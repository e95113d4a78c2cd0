// Package secure holds keepalived 2.2's script-security rules: who a
// script runs as (its own user, global_defs' script_user, or the
// keepalived_script default) and whether its path is safe to run with
// root's rights. Both the script runner (at run time) and check-config
// --host (ahead of time) apply them, so that they agree.
//
// It depends on nothing else of lvsd, so that the config package can use
// it.
package secure

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultUser is the user scripts run as when neither the script nor
// global_defs names one, if it exists (keepalived's get_default_script_user).
const DefaultUser = "keepalived_script"

// Cred is who a script runs as.
type Cred struct {
	UID, GID    uint32
	User, Group string // names, for messages
}

func (c Cred) String() string {
	return fmt.Sprintf("%s:%s (uid:gid %d:%d)", c.User, c.Group, c.UID, c.GID)
}

// Source says where a script's user came from.
type Source int

const (
	FromScript     Source = iota // the script's own user [group]
	FromScriptUser               // global_defs script_user [group]
	FromDefault                  // the keepalived_script user
	FromDaemon                   // no keepalived_script user: the daemon's own uid/gid
)

// UserError is a user or group that does not resolve. Keepalived disables
// every script that would run as it.
type UserError struct {
	Name    string
	IsGroup bool
	What    string // "script_user", "user", "default script user"
	Err     error  // the lookup's own error
}

func (e *UserError) Error() string {
	kind := "user"
	if e.IsGroup {
		kind = "group"
	}
	var unknown user.UnknownUserError
	var unknownGroup user.UnknownGroupError
	if errors.Is(e.Err, ErrNoDefaultUser) {
		return fmt.Sprintf("%s: %s %q %v", e.What, kind, e.Name, e.Err)
	}
	if errors.As(e.Err, &unknown) || errors.As(e.Err, &unknownGroup) {
		return fmt.Sprintf("%s: %s %q does not exist", e.What, kind, e.Name)
	}
	return fmt.Sprintf("%s: %s %q cannot be resolved: %v", e.What, kind, e.Name, e.Err)
}

func (e *UserError) Unwrap() error { return e.Err }

// ErrNoDefaultUser is returned (wrapped in a UserError) when no user is
// configured, keepalived_script does not exist and enable_script_security
// is set: keepalived then disables every script that names no user.
var ErrNoDefaultUser = errors.New("does not exist, and enable_script_security forbids running scripts as root by default; set script_user or create the user")

// Lookup resolves user [group] as keepalived's set_uid_gid does: the group
// defaults to the user's primary group.
func Lookup(userName, group, what string) (Cred, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return Cred{}, &UserError{Name: userName, What: what, Err: err}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return Cred{}, &UserError{Name: userName, What: what, Err: err}
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return Cred{}, &UserError{Name: userName, What: what, Err: err}
	}
	c := Cred{UID: uint32(uid), GID: uint32(gid), User: userName, Group: u.Gid}
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		c.Group = g.Name
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return Cred{}, &UserError{Name: group, IsGroup: true, What: what, Err: err}
		}
		gid, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return Cred{}, &UserError{Name: group, IsGroup: true, What: what, Err: err}
		}
		c.GID, c.Group = uint32(gid), group
	}
	return c, nil
}

// Users are the names that decide who a script runs as.
type Users struct {
	Own, OwnGroup       string // the script's own user [group]
	Global, GlobalGroup string // script_user [group]
	// Default replaces DefaultUser (tests); empty means DefaultUser.
	Default  string
	Security bool // enable_script_security
}

// Resolve returns who a script runs as: its own user, else script_user,
// else keepalived_script if that user exists, else the daemon's own
// uid/gid, unless enable_script_security is set, when a missing
// keepalived_script is an error (keepalived 2.2.7 lib/notify.c
// get_default_script_user and set_uid_gid). A user or group that does not
// exist is an error: keepalived disables the scripts that would run as it.
func Resolve(u Users) (Cred, Source, error) {
	switch {
	case u.Own != "":
		c, err := Lookup(u.Own, u.OwnGroup, "user")
		return c, FromScript, err
	case u.Global != "":
		c, err := Lookup(u.Global, u.GlobalGroup, "script_user")
		return c, FromScriptUser, err
	}
	name := u.Default
	if name == "" {
		name = DefaultUser
	}
	c, err := Lookup(name, "", "default script user")
	if err == nil {
		return c, FromDefault, nil
	}
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		return Cred{}, FromDefault, err
	}
	if u.Security {
		return Cred{}, FromDefault, &UserError{Name: name, What: "default script user", Err: ErrNoDefaultUser}
	}
	return Daemon(), FromDaemon, nil
}

// Daemon is the daemon's own uid/gid.
func Daemon() Cred {
	uid, gid := os.Getuid(), os.Getgid()
	c := Cred{UID: uint32(uid), GID: uint32(gid), User: strconv.Itoa(uid), Group: strconv.Itoa(gid)}
	if u, err := user.LookupId(c.User); err == nil {
		c.User = u.Username
	}
	if g, err := user.LookupGroupId(c.Group); err == nil {
		c.Group = g.Name
	}
	return c
}

// FS is the file system the path rules look at; nil fields use the real
// one.
type FS struct {
	Lstat        func(string) (fs.FileInfo, error)
	EvalSymlinks func(string) (string, error)
	LookPath     func(string) (string, error)
}

func (f FS) lstat(p string) (fs.FileInfo, error) {
	if f.Lstat != nil {
		return f.Lstat(p)
	}
	return os.Lstat(p)
}

func (f FS) evalSymlinks(p string) (string, error) {
	if f.EvalSymlinks != nil {
		return f.EvalSymlinks(p)
	}
	return filepath.EvalSymlinks(p)
}

func (f FS) lookPath(p string) (string, error) {
	if f.LookPath != nil {
		return f.LookPath(p)
	}
	return exec.LookPath(p)
}

// Problem is why a script is not run, or (Insecure) why it is unsafe to
// run as root.
type Problem struct {
	Script string // argv[0] as configured
	Path   string // the path at fault
	Reason string
	// Insecure: unsafe permissions, which only enable_script_security
	// refuses. Otherwise the script cannot run at all (not found, not
	// executable, wrong file type), and keepalived disables it whatever
	// the setting.
	Insecure bool
}

func (p *Problem) Error() string {
	if p.Insecure {
		return fmt.Sprintf("script %s: unsafe permissions: %s %s", p.Script, p.Path, p.Reason)
	}
	if p.Path == "" || p.Path == p.Script {
		return fmt.Sprintf("script %s %s", p.Script, p.Reason)
	}
	return fmt.Sprintf("script %s: %s %s", p.Script, p.Path, p.Reason)
}

// Plan is how a script is run.
type Plan struct {
	// Exec is the file to execute and the script's argv[0]: the path with
	// symbolic links resolved, as keepalived runs it (keeping the
	// configured file name when that names the same file, for programs
	// that act on their name).
	Exec string
	// Searched is set when argv[0] had no slash and was found in PATH
	// (keepalived warns: "Please specify full path").
	Searched bool
	// Checked is set when the script runs with root's rights (uid or gid
	// 0, or a set-uid/set-gid root file), so that its path was checked.
	Checked bool
	// Insecure, when not nil, is the first unsafe path component found.
	Insecure *Problem
}

// Inspect applies keepalived 2.2.7's check_script_secure (lib/notify.c) to
// argv0 run as c: it finds the file (PATH search for a bare name),
// resolves symbolic links, requires the file to be executable by c, and,
// when c is root (uid or gid 0) or the file is set-uid/set-gid root,
// checks every component of the resolved path (check_security). An error
// (a *Problem) means the script cannot run at all; Plan.Insecure reports
// unsafe permissions.
func Inspect(argv0 string, c Cred, fsys FS) (Plan, error) {
	var plan Plan
	file := argv0
	if !strings.Contains(argv0, "/") {
		p, err := fsys.lookPath(argv0)
		if err != nil {
			return plan, &Problem{Script: argv0, Reason: "is not found in PATH"}
		}
		file, plan.Searched = p, true
	}
	real, err := fsys.evalSymlinks(file)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return plan, &Problem{Script: argv0, Path: file, Reason: "cannot be accessed: " + errReason(err)}
	}
	// keepalived keeps the configured file name when the resolved
	// directory holds that name for the same file.
	plan.Exec = real
	checks := []string{real}
	if name := filepath.Base(file); name != filepath.Base(real) {
		alt := filepath.Join(filepath.Dir(real), name)
		if sameFile(fsys, alt, real) {
			plan.Exec = alt
			checks = []string{alt, real}
		}
	}
	st, err := fsys.lstat(real)
	if err != nil {
		return plan, &Problem{Script: argv0, Path: real, Reason: "cannot be accessed: " + errReason(err)}
	}
	if !st.Mode().IsRegular() {
		return plan, &Problem{Script: argv0, Path: real, Reason: "is not a regular file"}
	}
	uid, gid, ok := owner(st)
	if !ok {
		// No ownership information (a test file system): nothing more
		// can be said.
		return plan, nil
	}
	mode := st.Mode()
	if !executable(mode, uid, gid, c) {
		return plan, &Problem{Script: argv0, Path: real, Reason: fmt.Sprintf("is not executable for uid:gid %d:%d", c.UID, c.GID)}
	}
	protect := c.UID == 0 || c.GID == 0 ||
		(uid == 0 && mode&0o100 != 0 && mode&fs.ModeSetuid != 0) ||
		(gid == 0 && mode&0o010 != 0 && mode&fs.ModeSetgid != 0)
	if !protect {
		return plan, nil
	}
	plan.Checked = true
	for _, p := range checks {
		bad, err := checkPath(argv0, p, fsys)
		if err != nil {
			return plan, err
		}
		if bad != nil {
			plan.Insecure = bad
			break
		}
	}
	return plan, nil
}

func sameFile(fsys FS, a, b string) bool {
	sa, err := fsys.lstat(a)
	if err != nil {
		return false
	}
	if sa.Mode()&fs.ModeSymlink != 0 {
		r, err := fsys.evalSymlinks(a)
		if err != nil {
			return false
		}
		if sa, err = fsys.lstat(r); err != nil {
			return false
		}
	}
	sb, err := fsys.lstat(b)
	if err != nil {
		return false
	}
	return os.SameFile(sa, sb)
}

// executable is keepalived's is_executable.
func executable(mode fs.FileMode, uid, gid uint32, c Cred) bool {
	switch {
	case c.UID == 0:
		return mode&0o111 != 0
	case c.UID == uid:
		return mode&0o100 != 0
	case c.GID == gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// checkPath is keepalived's check_security: "/", then each directory
// down to the file itself (not following symbolic links) must be owned by
// root, and none but a directory with the sticky bit may be writable by
// others, or by its group unless that group is root.
func checkPath(argv0, path string, fsys FS) (*Problem, error) {
	comps := []string{"/"}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			comps = append(comps, path[:i])
		}
	}
	if path != "/" {
		comps = append(comps, path)
	}
	for i, p := range comps {
		last := i == len(comps)-1
		st, err := fsys.lstat(p)
		if err != nil {
			return nil, &Problem{Script: argv0, Path: p, Reason: "cannot be accessed: " + errReason(err)}
		}
		mode := st.Mode()
		if (!last && !mode.IsDir()) || (last && !mode.IsRegular() && mode&fs.ModeSymlink == 0) {
			return nil, &Problem{Script: argv0, Path: p, Reason: "has the wrong file type"}
		}
		uid, gid, ok := owner(st)
		if !ok {
			continue
		}
		if uid != 0 {
			return &Problem{Script: argv0, Path: p, Reason: fmt.Sprintf("is owned by uid %d, not root", uid), Insecure: true}, nil
		}
		if (mode.IsDir() && mode&fs.ModeSticky == 0) || mode.IsRegular() {
			switch {
			case mode&0o002 != 0:
				return &Problem{Script: argv0, Path: p, Reason: fmt.Sprintf("is writable by others (mode %s)", modeString(mode)), Insecure: true}, nil
			case gid != 0 && mode&0o020 != 0:
				return &Problem{Script: argv0, Path: p, Reason: fmt.Sprintf("is writable by group %s (mode %s)", groupName(gid), modeString(mode)), Insecure: true}, nil
			}
		}
	}
	return nil, nil
}

func owner(st fs.FileInfo) (uid, gid uint32, ok bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return s.Uid, s.Gid, true
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name + " (gid " + id + ")"
	}
	return "gid " + id
}

// modeString is the mode as ls -l shows its octal form: 4 digits with
// set-uid, set-gid and sticky in the first.
func modeString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
