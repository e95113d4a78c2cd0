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

// CheckConfigGCPercent is the GOGC check-config loads with: Go's default.
// The load streams (lexer, parser and builder in step) and reuses its
// statements, so most of what it allocates is the model, which stays: a
// lower target only marks the model built so far more often, for little
// less peak RSS (the measured trade is in docs/benchmarks.md,
// "Configuration parsing"); a higher one lets the heap grow, and a fresh
// process pays for every page of it. Set explicitly, so that the budget
// tests' child loads as check-config does.
const CheckConfigGCPercent = 100

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
	// were most of what a large load allocated). The parser and the
	// builder report into diagnostics of their own, joined after the
	// lexer's: the same diagnostics in the same order as lexing, parsing
	// and building one after the other.
	//
	// The lexer and the parser run on this goroutine and the builder on
	// another, fed batches of complete top-level statements: they share
	// nothing but the batches (each reports into its own diagnostics), so
	// on two cores a load takes the longer of the two rather than their
	// sum. The builder is the longer (it allocates the model), so the
	// parsing is on the lexer's side.
	treeDiags, buildDiags := &Diagnostics{}, &Diagnostics{}
	b := newBuilder(buildDiags)
	sp := startStmtPipe(b)
	defer sp.abandon() // if the lexer or the parser panics
	p := newStreamParser(treeDiags, nil)
	sp.attach(p)
	h := newTokenHash()
	files, aborted := lexStream(fsys, path, id, d, loadBudget, check, func(t Token) {
		h.add(t)
		p.feed(t)
	})
	if !aborted {
		p.end()
	}
	sp.close()
	var cfg *Config
	if aborted {
		// A limit was crossed: as if there were no tokens at all, so that
		// nothing reports the truncated remainder.
		cfg, h = build(nil, d), newTokenHash()
	} else {
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

// stmtPipe builds top-level statements on a goroutine of its own. The
// parser carves them from the arena of the batch being filled; once the
// batch holds enough, it goes to the builder with its arena, and the
// parser carves from the arena of a free batch, which the builder reset
// after building what it held. A fixed number of batches go back and
// forth between two channels, so the parser never runs more than a few
// batches ahead and statements are never copied.
type stmtPipe struct {
	cur        *stmtBatch
	full, free chan *stmtBatch
	done       chan struct{}
	panicked   any // what build panicked with, panicked again by close
	closed     bool
}

type stmtBatch struct {
	tops  []*Node
	arena parseArena
	ahead modelAhead
}

const (
	// A batch goes to the builder once its statements come to
	// stmtBatchNodes statements (a few slabs) or stmtBatchArgs arguments
	// (a line of thousands of words is one statement: batches of hundreds
	// of them held hundreds of MB).
	stmtBatchNodes = 2 * slabSize
	stmtBatchArgs  = 4 * slabSize
	stmtBatches    = 4
)

// aheadQueue is how many batches must be waiting for the builder for the
// parser to allocate the next one's model objects ahead (ship). With one
// the parser took on so much that it became the longer side; with three
// (of four) it never did. A variable for the tests, which set 0 (always).
var aheadQueue = 2

func startStmtPipe(b *builder) *stmtPipe {
	sp := &stmtPipe{full: make(chan *stmtBatch, stmtBatches), free: make(chan *stmtBatch, stmtBatches), done: make(chan struct{})}
	for range stmtBatches - 1 {
		sp.free <- &stmtBatch{}
	}
	sp.cur = &stmtBatch{}
	go func() {
		defer close(sp.done)
		for batch := range sp.full {
			if sp.panicked == nil {
				b.ahead = &batch.ahead
				sp.run(b.topLevel, batch)
				b.ahead = nil
			}
			clear(batch.tops)
			batch.tops = batch.tops[:0]
			batch.arena.reset()
			batch.ahead.reset()
			sp.free <- batch
		}
	}()
	return sp
}

// run builds one batch; a panic is kept for close to raise where Load
// was called, as it was raised there when all ran on one goroutine.
func (sp *stmtPipe) run(build func(*Node), batch *stmtBatch) {
	defer func() {
		if r := recover(); r != nil {
			sp.panicked = r
		}
	}()
	for _, n := range batch.tops {
		build(n)
	}
}

// attach makes p carve from the pipe's batches and deliver into them.
func (sp *stmtPipe) attach(p *streamParser) {
	p.arena = &sp.cur.arena
	p.deliver = func(n *Node) {
		sp.cur.tops = append(sp.cur.tops, n)
		if a := &sp.cur.arena; a.nodes.i*slabSize+a.nodes.j >= stmtBatchNodes || a.args >= stmtBatchArgs {
			// Between top-level statements nothing of the parser's is
			// in the arena: it can change hands.
			sp.ship()
			sp.cur = <-sp.free
			p.arena = &sp.cur.arena
		}
	}
}

// ship hands the batch being filled to the builder, with the model
// objects its statements will need when the builder is behind (batches
// are waiting for it): the time the parser would wait for a free batch
// goes into them instead, and the two sides stay balanced whichever is
// the longer for the configuration at hand.
func (sp *stmtPipe) ship() {
	if len(sp.full) >= aheadQueue {
		sp.cur.ahead.alloc(sp.cur.arena.model)
	}
	sp.full <- sp.cur
}

// close waits until every statement delivered has been built.
func (sp *stmtPipe) close() {
	if len(sp.cur.tops) > 0 {
		sp.ship()
	}
	sp.cur = nil
	sp.closed = true
	close(sp.full)
	<-sp.done
	if sp.panicked != nil {
		panic(sp.panicked)
	}
}

// modelAhead are model objects allocated, and their memory first
// touched, on the parser's goroutine for the statements of a batch, before
// the builder builds them. In a fresh process (check-config, a daemon's
// first load) most of what building a large model costs is the kernel
// handing out each page of it at its first touch; ahead, that happens on
// the parser's side of the load, beside the building, not in it. As many
// as the batch's statements make (the parser counts them), so none is
// left over unless a statement is left out.
type modelAhead struct {
	virtualServers []*VirtualServer
	realServers    []*RealServer
	checkers       []*Checker
	// the next of each to hand out
	vs, rs, ck int
}

// modelCount counts the statements that make a VirtualServer, a
// RealServer or a Checker (builder.checker's types).
type modelCount struct{ virtualServers, realServers, checkers int }

func (c *modelCount) count(key string) {
	switch key {
	case "virtual_server":
		c.virtualServers++
	case "real_server":
		c.realServers++
	case "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK":
		c.checkers++
	}
}

// alloc allocates what c counts. Each object is written to once (a zero
// over a zero), which is the first touch of its page.
func (m *modelAhead) alloc(c modelCount) {
	for range c.virtualServers {
		v := new(VirtualServer)
		touch(&v.Pos)
		m.virtualServers = append(m.virtualServers, v)
	}
	for range c.realServers {
		r := new(RealServer)
		touch(&r.Pos)
		m.realServers = append(m.realServers, r)
	}
	for range c.checkers {
		k := new(Checker)
		touch(&k.Pos)
		m.checkers = append(m.checkers, k)
	}
}

// touch writes a zero over p's zero line: not inlined, so that the
// compiler, which knows a new object is zero, cannot drop the store.
//
//go:noinline
func touch(p *Pos) { p.Line = 0 }

func (m *modelAhead) reset() {
	clear(m.virtualServers)
	clear(m.realServers)
	clear(m.checkers)
	m.virtualServers, m.realServers, m.checkers = m.virtualServers[:0], m.realServers[:0], m.checkers[:0]
	m.vs, m.rs, m.ck = 0, 0, 0
}

// virtualServer, realServer and checker are a zero object: the next one
// allocated ahead, or a new one (m nil, or none left).
func (m *modelAhead) virtualServer() *VirtualServer {
	if m == nil || m.vs == len(m.virtualServers) {
		return new(VirtualServer)
	}
	m.vs++
	return m.virtualServers[m.vs-1]
}

func (m *modelAhead) realServer() *RealServer {
	if m == nil || m.rs == len(m.realServers) {
		return new(RealServer)
	}
	m.rs++
	return m.realServers[m.rs-1]
}

func (m *modelAhead) checker() *Checker {
	if m == nil || m.ck == len(m.checkers) {
		return new(Checker)
	}
	m.ck++
	return m.checkers[m.ck-1]
}

// abandon ends the building goroutine if close was never reached.
func (sp *stmtPipe) abandon() {
	if !sp.closed {
		sp.closed = true
		close(sp.full)
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
			if c.Global.DynamicInterfaces {
				// keepalived: "will use if created".
				d.Warnf(pos, "%s: interface %s does not exist on this host yet; with dynamic_interfaces it is used once created", what, name)
				return
			}
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
		for _, s := range []*Script{in.Notify, in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop, in.NotifyDeletedScript} {
			checkScript(c, s, h, d)
		}
	}
	for _, s := range c.Scripts {
		checkScript(c, s.Command(), h, d)
	}
	checkScript(c, c.Global.StartupScript, h, d)
	checkScript(c, c.Global.ShutdownScript, h, d)
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
				checkScript(c, ch.Extra().MiscPath, h, d)
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
