package config

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsd/lvsd/internal/script/secure"
)

// Options control how a configuration is read.
type Options struct {
	// ConfigID selects @id conditional lines; empty means the short host name.
	ConfigID string
	// FS reads files; nil means the real file system.
	FS FileSystem
	// Host adds checks against the running machine (interfaces, scripts).
	Host HostEnv
	// AllConfig is keepalived's -e/--all-config: every include is checked
	// as includea (a missing or unreadable file is an error that stops
	// lvsd run, as it stops keepalived), as a bare include_check would.
	AllConfig bool
}

// Result is a parsed configuration with its diagnostics.
type Result struct {
	Config *Config
	Diags  *Diagnostics
	// Hash identifies the pre-processed token stream, for the config_hash
	// metric and for telling a no-op reload apart.
	Hash string
}

// OK reports whether the configuration has no errors (check-config's verdict).
func (r *Result) OK() bool { return !r.Diags.HasErrors() }

// Runnable reports whether lvsd run may use the configuration: every error
// in it is one keepalived 2.2.7 runs past (Diagnostics.Skipf).
func (r *Result) Runnable() bool { return !r.Diags.HasFatal() }

// DefaultConfigID is keepalived's default: the host name up to the first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(h, ".")
	return id
}

// Load reads, pre-processes, parses and validates the configuration at path.
func Load(path string, opts Options) *Result {
	fsys := opts.FS
	if fsys == nil {
		fsys = osFS{}
	}
	id := opts.ConfigID
	if id == "" {
		id = DefaultConfigID()
	}
	d := &Diagnostics{}
	var check includeCheck
	if opts.AllConfig {
		check = includeR | includeM | includeW | includeB
	}
	// The lexer, the parser and the builder run as one stream: each token
	// goes to the hash and the parser as it is produced, and each
	// top-level statement is built as soon as it is complete, so the
	// whole token stream and statement tree are never held at once (they
	// were most of what a large load allocated). The parser and
	// the builder report into diagnostics of their own, joined after the
	// lexer's: the same diagnostics in the same order as lexing, parsing
	// and building one after the other.
	//
	// The lexer runs on this goroutine and the parser and builder on
	// another, fed batches of tokens: they share nothing but the batches
	// (each reports into its own diagnostics), so on two cores a load
	// takes the longer of the two rather than their sum.
	treeDiags, buildDiags := &Diagnostics{}, &Diagnostics{}
	b := newBuilder(buildDiags)
	p := newStreamParser(treeDiags, b.topLevel)
	h := newTokenHash()
	tp := startTokenPipe(p.feed)
	defer tp.abandon() // if the lexer panics
	files, aborted := lexStream(fsys, path, id, d, loadBudget, check, func(t Token) {
		h.add(t)
		tp.send(t)
	})
	tp.close()
	var cfg *Config
	if aborted {
		// A limit was crossed: as if there were no tokens at all, so that
		// nothing reports the truncated remainder.
		cfg, h = build(nil, d), newTokenHash()
	} else {
		p.end()
		b.applyDefaults()
		d.appendFrom(treeDiags)
		d.appendFrom(buildDiags)
		cfg = b.cfg
	}
	cfg.Files = files
	validate(cfg, d)
	if opts.Host != nil {
		validateHost(cfg, opts.Host, d)
	}
	return &Result{Config: cfg, Diags: d, Hash: h.sum()}
}

// tokenPipe hands tokens to consume on a goroutine of its own, in
// batches that go back and forth between two channels (a fixed number of
// them, so the lexer never runs more than a few batches ahead).
type tokenPipe struct {
	cur        []Token
	full, free chan []Token
	done       chan struct{}
	panicked   any // what consume panicked with, panicked again by close
	closed     bool
}

const (
	pipeBatch   = 1024
	pipeBatches = 4
)

func startTokenPipe(consume func(Token)) *tokenPipe {
	tp := &tokenPipe{full: make(chan []Token, pipeBatches), free: make(chan []Token, pipeBatches), done: make(chan struct{})}
	for range pipeBatches - 1 {
		tp.free <- make([]Token, 0, pipeBatch)
	}
	tp.cur = make([]Token, 0, pipeBatch)
	go func() {
		defer close(tp.done)
		for batch := range tp.full {
			if tp.panicked == nil {
				tp.run(consume, batch)
			}
			clear(batch)
			tp.free <- batch[:0]
		}
	}()
	return tp
}

// run consumes one batch; a panic is kept for close to raise where Load
// was called, as it was raised there when all ran on one goroutine.
func (tp *tokenPipe) run(consume func(Token), batch []Token) {
	defer func() {
		if r := recover(); r != nil {
			tp.panicked = r
		}
	}()
	for _, t := range batch {
		consume(t)
	}
}

func (tp *tokenPipe) send(t Token) {
	tp.cur = append(tp.cur, t)
	if len(tp.cur) == pipeBatch {
		tp.full <- tp.cur
		tp.cur = <-tp.free
	}
}

// close waits until every token sent has been consumed.
func (tp *tokenPipe) close() {
	if len(tp.cur) > 0 {
		tp.full <- tp.cur
	}
	tp.cur = nil
	tp.closed = true
	close(tp.full)
	<-tp.done
	if tp.panicked != nil {
		panic(tp.panicked)
	}
}

// abandon ends the consuming goroutine if close was never reached.
func (tp *tokenPipe) abandon() {
	if !tp.closed {
		tp.closed = true
		close(tp.full)
	}
}

func hashTokens(tokens []Token) string {
	h := newTokenHash()
	for _, t := range tokens {
		h.add(t)
	}
	return h.sum()
}

// tokenHash hashes the pre-processed token stream: each token as written,
// followed by a newline at a line end and a space otherwise.
type tokenHash struct {
	h   hash.Hash
	buf []byte
}

func newTokenHash() *tokenHash {
	return &tokenHash{h: sha256.New(), buf: make([]byte, 0, 32<<10)}
}

func (th *tokenHash) add(t Token) {
	if len(th.buf)+len(t.Raw)+1 > cap(th.buf) {
		th.h.Write(th.buf)
		th.buf = th.buf[:0]
		if len(t.Raw)+1 > cap(th.buf) {
			th.h.Write([]byte(t.Raw))
			t.Raw = ""
		}
	}
	th.buf = append(th.buf, t.Raw...)
	if t.Kind == TokEOL {
		th.buf = append(th.buf, '\n')
	} else {
		th.buf = append(th.buf, ' ')
	}
}

func (th *tokenHash) sum() string {
	th.h.Write(th.buf)
	th.buf = th.buf[:0]
	return hex.EncodeToString(th.h.Sum(nil))[:16]
}

// HostEnv answers the questions check-config --host asks of the machine.
type HostEnv interface {
	InterfaceAddrs(name string) ([]netip.Prefix, bool)
	Stat(path string) (os.FileInfo, error)
	LookPath(file string) (string, error)
}

// LocalHost is the running machine.
type LocalHost struct{}

func (LocalHost) InterfaceAddrs(name string) ([]netip.Prefix, bool) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, false
	}
	addrs, _ := ifi.Addrs()
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p)
		}
	}
	return out, true
}

func (LocalHost) Stat(path string) (os.FileInfo, error) { return os.Stat(path) }

func (LocalHost) LookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

func validateHost(c *Config, h HostEnv, d *Diagnostics) {
	iface := func(name string, pos Pos, what string) {
		if name == "" {
			return
		}
		if _, ok := h.InterfaceAddrs(name); !ok {
			d.Errorf(pos, "%s: interface %s does not exist on this host", what, name)
		}
	}
	if sd := c.Global.LVSSyncDaemon; sd != nil {
		iface(sd.Interface, sd.Pos, "lvs_sync_daemon")
	}
	for _, in := range c.Instances {
		iface(in.Interface, in.Pos, "vrrp_instance "+in.Name)
		for _, t := range in.TrackInterfaces {
			iface(t.Name, t.Pos, "track_interface")
		}
		for _, v := range append(in.VIPs[:len(in.VIPs):len(in.VIPs)], in.ExcludedVIPs...) {
			iface(v.Dev, v.Pos, "virtual address "+v.Prefix.String())
		}
		if in.Priority == 255 {
			addrs, _ := h.InterfaceAddrs(in.Interface)
			owner := false
			for _, v := range in.VIPs {
				for _, a := range addrs {
					if a.Addr() == v.Prefix.Addr() {
						owner = true
					}
				}
			}
			if !owner {
				d.Errorf(in.priorityPos, "vrrp_instance %s has priority 255 but %s does not own any of its virtual addresses", in.Name, in.Interface)
			}
		}
		for _, s := range []*Script{in.Notify, in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop} {
			checkScript(c, s, h, d)
		}
	}
	for _, s := range c.Scripts {
		checkScript(c, s.Command(), h, d)
	}
	for _, g := range c.SyncGroups {
		for _, s := range []*Script{g.Notify, g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop} {
			checkScript(c, s, h, d)
		}
	}
	for _, vs := range c.VirtualServers {
		checkScript(c, vs.QuorumUp, h, d)
		checkScript(c, vs.QuorumDown, h, d)
		for _, rs := range vs.RealServers {
			checkScript(c, rs.NotifyUp, h, d)
			checkScript(c, rs.NotifyDown, h, d)
			for _, ch := range rs.Checkers {
				checkScript(c, ch.MiscPath, h, d)
				iface(ch.BindIf, ch.Pos, ch.Type.String()+" bind_if")
			}
		}
	}
}

// checkScript applies the rules the script runner applies at run time
// (internal/script/secure, keepalived 2.2's check_script_secure): the
// script's user must exist (its own, script_user, or keepalived_script,
// which enable_script_security requires when no user is named), the
// script must be an executable regular file for that user, and when it
// runs as root every component of its resolved path must be owned by root
// and writable by no other user, nor by a non-root group, except
// directories with the sticky bit. enable_script_security refuses an
// unsafe script; without it the script runs, with a warning.
func checkScript(c *Config, s *Script, h HostEnv, d *Diagnostics) {
	if s == nil || len(s.Argv) == 0 {
		return
	}
	g := &c.Global
	cred, _, err := secure.Resolve(secure.Users{Own: s.User, OwnGroup: s.Group,
		Global: g.ScriptUser, GlobalGroup: g.ScriptGroup, Security: g.EnableScriptSecurity})
	if err != nil {
		d.Errorf(s.Pos, "script %s will not run: %v", s.Argv[0], err)
		return
	}
	fsys := secure.FS{LookPath: h.LookPath}
	if _, ok := h.(LocalHost); !ok {
		// A host that is not this machine: its own files, which give
		// existence and modes but maybe not owners.
		fsys.Lstat = h.Stat
		fsys.EvalSymlinks = func(p string) (string, error) { return p, nil }
	}
	plan, err := secure.Inspect(s.Argv[0], cred, fsys)
	switch {
	case err != nil:
		d.Errorf(s.Pos, "%v", err)
	case plan.Insecure != nil && g.EnableScriptSecurity:
		d.Errorf(s.Pos, "%v: enable_script_security refuses it", plan.Insecure)
	case plan.Insecure != nil:
		d.Warnf(s.Pos, "%v: it runs as root; enable_script_security would refuse it", plan.Insecure)
	}
}
