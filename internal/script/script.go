// Package script runs notify, track and MISC_CHECK scripts as keepalived
// 2.2 does: directly (never through a shell), with stdio on /dev/null, as
// the script's user (its own, global_defs' script_user, or the
// keepalived_script default), after keepalived's security rules
// (enable_script_security), and in a process group of its own, which is
// killed as a whole when the script is cancelled or times out.
package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/script/secure"
)

// DefaultGrace is how long a cancelled script's process group has between
// SIGTERM and SIGKILL. SIGTERM of lvsd must end it within 2 s whatever
// its scripts do.
const DefaultGrace = time.Second

// reapWait bounds the wait for a SIGKILLed script to be reaped: a process
// in uninterruptible sleep cannot die at once, and Run must not hang on it
// (it is reaped in the background when it does die).
const reapWait = 250 * time.Millisecond

// ErrRefused matches (errors.Is) every RefusedError.
var ErrRefused = errors.New("script refused")

// RefusedError is a script that is not run: its user does not exist, it
// cannot be found or executed, or enable_script_security finds it unsafe.
// Keepalived disables such a script (a track script is removed from its
// instances, a MISC_CHECK from its real server, a notify is not sent).
type RefusedError struct {
	Argv0  string
	Reason error // a *secure.UserError or *secure.Problem
}

func (e *RefusedError) Error() string {
	var p *secure.Problem
	if errors.As(e.Reason, &p) {
		if p.Insecure {
			return p.Error() + " (enable_script_security refuses it)"
		}
		return p.Error()
	}
	return fmt.Sprintf("script %s: %v", e.Argv0, e.Reason)
}

func (e *RefusedError) Unwrap() error        { return e.Reason }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Settings are global_defs' script settings.
type Settings struct {
	User, Group string // script_user [group]; empty: keepalived's default
	Security    bool   // enable_script_security
}

// SettingsOf returns the script settings of a configuration.
func SettingsOf(g *config.Global) Settings {
	return Settings{User: g.ScriptUser, Group: g.ScriptGroup, Security: g.EnableScriptSecurity}
}

// Runner runs scripts. One runner serves the whole daemon; Configure
// applies a (re)loaded configuration's settings to every later run, VRRP
// and checker scripts alike. Its methods are safe for concurrent use.
type Runner struct {
	// Log receives, once per script and configuration, why a script is
	// refused or unsafe; nil means slog.Default().
	Log *slog.Logger
	// Grace is the time between SIGTERM and SIGKILL of a cancelled
	// script's process group; zero means DefaultGrace.
	Grace time.Duration
	// DefaultUser replaces keepalived_script (tests).
	DefaultUser string
	// FS replaces the file system the security rules look at (tests).
	FS secure.FS

	mu       sync.Mutex
	set      Settings
	creds    map[userKey]credResult
	logged   map[string]string // script -> last message logged for it
	violated bool              // SECURITY VIOLATION logged
}

type userKey struct{ user, group string }

type credResult struct {
	cred secure.Cred
	src  secure.Source
	err  error
}

// New returns a runner with the settings of g (nil: none set).
func New(log *slog.Logger, g *config.Global) *Runner {
	r := &Runner{Log: log}
	if g != nil {
		r.Configure(g)
	}
	return r
}

// Configure applies the script settings of a (re)loaded configuration:
// users are looked up again and every warning is logged afresh, as
// keepalived does at a reload.
func (r *Runner) Configure(g *config.Global) { r.Apply(SettingsOf(g)) }

// Apply is Configure with the settings given directly.
func (r *Runner) Apply(s Settings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set = s
	r.creds = nil
	r.logged = nil
	r.violated = false
}

// Settings returns the settings in force.
func (r *Runner) Settings() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Runner) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	return DefaultGrace
}

// Run executes the script's argv plus args and returns its exit code. A
// refused script returns -1 and a *RefusedError. When ctx ends first, the
// script's process group gets SIGTERM, then SIGKILL after Grace, and Run
// returns -1 and an error wrapping ctx.Err(), within about Grace.
func (r *Runner) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	if s == nil || len(s.Argv) == 0 {
		return -1, errors.New("empty script")
	}
	plan, cred, err := r.prepare(s)
	if err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("script %s not started: %w", s.Argv[0], err)
	}
	argv := make([]string, 0, len(s.Argv)+len(args))
	argv = append(append(append(argv, plan.Exec), s.Argv[1:]...), args...)
	// Stdin, Stdout and Stderr stay nil: /dev/null, as keepalived's
	// set_std_fd. A pipe would make Wait wait for any child the script
	// leaves behind holding it open.
	cmd := &exec.Cmd{Path: plan.Exec, Args: argv}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that it can be killed with every
		// child it started (keepalived: setpgid(0, 0)).
		Setpgid: true,
		// If lvsd dies the script is told (keepalived:
		// PR_SET_PDEATHSIG). The signal follows the thread that forked:
		// the thread stays locked to the goroutine below until the script
		// is reaped.
		Pdeathsig:  syscall.SIGTERM,
		Credential: cred,
	}
	return r.exec(ctx, cmd, s.Argv[0])
}

type exit struct {
	state *os.ProcessState
	err   error
}

func (r *Runner) exec(ctx context.Context, cmd *exec.Cmd, name string) (int, error) {
	started := make(chan error, 1)
	done := make(chan exit, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		done <- exit{cmd.ProcessState, err}
	}()
	if err := <-started; err != nil {
		return -1, fmt.Errorf("script %s: %w", name, err)
	}
	select {
	case e := <-done:
		return exitCode(name, e)
	case <-ctx.Done():
	}
	r.killGroup(cmd.Process.Pid, done)
	return -1, fmt.Errorf("script %s: %w; its process group was killed", name, context.Cause(ctx))
}

// killGroup ends a cancelled script's process group: SIGTERM, then
// SIGKILL to whatever is left of it when Grace has passed, and a bounded
// wait for the leader to be reaped.
func (r *Runner) killGroup(pgid int, done <-chan exit) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	grace := time.NewTimer(r.grace())
	defer grace.Stop()
	select {
	case <-done:
		// The leader is gone; its children may still be ending: they
		// get the rest of the grace. (A group with members left cannot
		// have its id reused, and an empty one is not signalled again.)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for syscall.Kill(-pgid, 0) == nil {
			select {
			case <-tick.C:
			case <-grace.C:
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				return
			}
		}
	case <-grace.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(reapWait):
			r.log().Warn("script did not die after SIGKILL; it will be reaped when it does", "pid", pgid)
		}
	}
}

func exitCode(name string, e exit) (int, error) {
	if e.state == nil {
		return -1, fmt.Errorf("script %s: %w", name, e.err)
	}
	if ws, ok := e.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, fmt.Errorf("script %s killed by signal %v", name, ws.Signal())
	}
	return e.state.ExitCode(), nil
}

// prepare resolves the script's user and path and applies the security
// rules, logging what it finds once per script and configuration.
func (r *Runner) prepare(s *config.Script) (secure.Plan, *syscall.Credential, error) {
	argv0 := s.Argv[0]
	r.mu.Lock()
	set := r.set
	cr := r.credFor(s, set)
	if !set.Security && !r.violated {
		r.violated = true
		r.log().Warn("SECURITY VIOLATION - scripts are being executed but enable_script_security is not set")
	}
	r.mu.Unlock()
	key := argv0 + "\x00" + s.User + "\x00" + s.Group
	if cr.err != nil {
		err := &RefusedError{Argv0: argv0, Reason: cr.err}
		r.once(key, slog.LevelError, "script not run", "script", argv0, "reason", err.Error())
		return secure.Plan{}, nil, err
	}
	plan, err := secure.Inspect(argv0, cr.cred, r.FS)
	if err != nil {
		err := &RefusedError{Argv0: argv0, Reason: err}
		r.once(key, slog.LevelError, "script not run", "script", argv0, "reason", err.Error())
		return plan, nil, err
	}
	switch {
	case plan.Insecure != nil && set.Security:
		err := &RefusedError{Argv0: argv0, Reason: plan.Insecure}
		r.once(key, slog.LevelError, "script not run", "script", argv0, "reason", err.Error())
		return plan, nil, err
	case plan.Insecure != nil:
		r.once(key, slog.LevelWarn, "script runs as root with unsafe permissions; enable_script_security would refuse it",
			"script", argv0, "reason", plan.Insecure.Error(), "user", cr.cred.String())
	case plan.Searched:
		r.once(key, slog.LevelWarn, "script resolved by path search; please specify the full path", "script", argv0, "path", plan.Exec)
	default:
		r.fine(key)
	}
	return plan, credential(cr.cred), nil
}

// credFor resolves (once per configuration) who s runs as; r.mu is held.
func (r *Runner) credFor(s *config.Script, set Settings) credResult {
	k := userKey{s.User, s.Group}
	if cr, ok := r.creds[k]; ok {
		return cr
	}
	var cr credResult
	cr.cred, cr.src, cr.err = secure.Resolve(secure.Users{Own: s.User, OwnGroup: s.Group,
		Global: set.User, GlobalGroup: set.Group, Default: r.DefaultUser, Security: set.Security})
	if cr.src == secure.FromDaemon && cr.err == nil && s.User == "" {
		def := r.DefaultUser
		if def == "" {
			def = secure.DefaultUser
		}
		// keepalived's set_uid_gid: "Script user 'keepalived_script'
		// does not exist".
		r.log().Info("default script user does not exist; scripts that name no user run as the daemon's user",
			"default_user", def, "user", cr.cred.String())
	}
	if r.creds == nil {
		r.creds = map[userKey]credResult{}
	}
	r.creds[k] = cr
	return cr
}

// once logs msg for key unless it is the last thing logged for key.
func (r *Runner) once(key string, level slog.Level, msg string, attrs ...any) {
	text := fmt.Sprint(append([]any{msg}, attrs...)...)
	r.mu.Lock()
	if r.logged == nil {
		r.logged = map[string]string{}
	}
	last, seen := r.logged[key]
	r.logged[key] = text
	r.mu.Unlock()
	if !seen || last != text {
		r.log().Log(context.Background(), level, msg, attrs...)
	}
}

// fine records that the script at key is fine now, so that a later
// problem is logged again.
func (r *Runner) fine(key string) {
	r.mu.Lock()
	delete(r.logged, key)
	r.mu.Unlock()
}

// credential is what the child switches to; nil keeps the daemon's own
// when that is who it runs as. As root the supplementary groups are
// cleared (keepalived: setgroups(1, &gid)).
func credential(c secure.Cred) *syscall.Credential {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if uid != 0 {
		if c.UID == uid && c.GID == gid {
			return nil
		}
		return &syscall.Credential{Uid: c.UID, Gid: c.GID, NoSetGroups: true}
	}
	return &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: []uint32{c.GID}}
}
