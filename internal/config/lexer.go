package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// budget is everything one load of the configuration may consume. A
// reload runs in the live daemon, so hostile or mistaken input (a 1 KB file
// of nested ~SEQ and $DEF, an include of /dev/zero or of a FIFO) must end in
// one error diagnostic at the file:line that crossed the limit, within
// seconds and a bounded amount of memory, never in a stack overflow, an
// out-of-memory kill or a read that blocks: the daemon then keeps serving
// the configuration it has.
//
// keepalived has MAXBUF (1024 bytes) for a physical line and refuses
// includes that are not regular files; it bounds nothing else. The other
// limits are lvsd's own. The yardstick for "real" is scripts/genconfig -n
// 10000 (10,000 virtual servers with 40,000 checked real servers, far more
// than any director runs; its size is in docs/benchmarks.md): every limit
// is at least twice what it or any of keepalived's samples uses, which
// TestBudgetRealConfigs checks.
//
// Memory at the limits: Load streams the tokens (each goes to the parser,
// and each top-level statement to the builder, as it is produced), so what
// a load holds is the statement being read and the model; lex, which
// collects them for tests, keeps them in chunks that are never copied
// while lexing, so the tokens Tokens allows are held once, and the text
// they point into is bounded by Bytes. TestBudget's bombs each stop within
// bombAlloc allocated in total.
type budget struct {
	// LineBytes is keepalived's MAXBUF: it reads at most 1024 bytes of a
	// physical line. Longer lines are an error (not fatal: each is reported).
	LineBytes int
	// LineExpandedBytes bounds one logical line after $NAME expansion.
	LineExpandedBytes int
	// ExpandDepth bounds $NAME-inside-$NAME and ~SEQ/@id/multi-line
	// parameter nesting; a parameter that refers to itself hits it.
	ExpandDepth int
	// Bytes bounds the text the pre-processor handles in the whole load:
	// every logical line (file lines, ~SEQ repetitions, multi-line
	// parameter lines) plus every level of every expansion. This is the
	// bound on time: lexing is linear in it.
	Bytes int64
	// Lines bounds the logical lines, including those ~SEQ produces.
	Lines int
	// SeqIterations bounds the lines all ~SEQ and ~LST together repeat.
	// A ~SEQ whose count does not fit in what is left is refused before
	// it runs.
	SeqIterations int64
	// Tokens bounds the pre-processed token stream (words, braces, line
	// ends): this is the bound on memory.
	Tokens int
	// BlockDepth bounds '{' nesting. keepalived's deepest real block is
	// four levels (virtual_server, real_server, HTTP_GET, url); the tree
	// parser recurses once per level.
	BlockDepth int
	// IncludeDepth bounds include-inside-include.
	IncludeDepth int
	// Files bounds the files read, the main file included: symlinks let
	// a file include itself under many names, which cycle detection (by
	// path) does not see, so fan-out is bounded here.
	Files int
	// FileBytes bounds one file; TotalFileBytes bounds all of them
	// together.
	FileBytes      int64
	TotalFileBytes int64
	// GlobEntries bounds the directory entries all include patterns of the
	// load may read (a pattern like /*/*/*/* would otherwise walk the
	// whole file system, and a pattern repeated by ~SEQ would read a big
	// directory again and again). One pattern matches at most Files files.
	GlobEntries int
	// Errors bounds the errors the pre-processor reports before it gives
	// up (a ~SEQ repeating a bad line would otherwise report it a million
	// times); Warnings beyond the same number are dropped.
	Errors int
}

var defaultBudget = budget{
	LineBytes:         1024,
	LineExpandedBytes: 64 << 10,
	ExpandDepth:       32,
	Bytes:             32 << 20,
	Lines:             1_000_000,
	SeqIterations:     1_000_000,
	Tokens:            2_000_000,
	BlockDepth:        64,
	IncludeDepth:      32,
	Files:             4096,
	FileBytes:         16 << 20,
	TotalFileBytes:    64 << 20,
	GlobEntries:       1 << 17,
	Errors:            1000,
}

// loadBudget is the budget Load runs with: defaultBudget, except in the
// fuzzers, which set a proportionally smaller one so that an input at the
// limits costs milliseconds, not the second the real limits allow.
var loadBudget = &defaultBudget

// mib renders a byte limit for a diagnostic.
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Token is one word of the configuration after pre-processing. Braces are
// tokens of their own; EOL marks the end of a logical line.
type Token struct {
	Text string // unquoted, unescaped value
	Raw  string // as written, quotes included (script argv splitting needs it)
	Pos  Pos
	Kind TokenKind
}

type TokenKind int

const (
	TokWord TokenKind = iota
	TokOpen
	TokClose
	TokEOL
)

// FileSystem abstracts file access so tests and fuzzers can run without disk.
type FileSystem interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

// ReadFile reads a regular file of at most defaultBudget.FileBytes.
func (osFS) ReadFile(name string) ([]byte, error) { return readRegular(name, defaultBudget.FileBytes) }

// Glob is filepath.Glob with the default budget's bounds.
func (osFS) Glob(pattern string) ([]string, error) {
	m, _, err := osFS{}.globBounded(pattern, defaultBudget.GlobEntries, defaultBudget.Files)
	return m, err
}

func (osFS) readFileBounded(name string, max int64) ([]byte, error) { return readRegular(name, max) }

func (osFS) globBounded(pattern string, maxEntries, maxMatches int) ([]string, globStats, error) {
	g := &globber{maxEntries: maxEntries, maxMatches: maxMatches}
	m, err := g.glob(pattern, true)
	return m, g.globStats, err
}

// mode is the mode of the file name resolves to (keepalived stat()s an
// include match and skips one with any execute bit).
func (osFS) mode(name string) (fs.FileMode, error) {
	st, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	return st.Mode(), nil
}

// globStats is what one glob saw, as keepalived 2.2.7's GLOB_ALTDIRFUNC
// hooks count it (lib/parser.c gl_opendir, gl_lstat): directory entries
// read (lvsd's budget), names without wildcards that do not exist,
// directories a wildcard had to read that could not be opened, and
// whether any wildcard was expanded.
type globStats struct {
	entries      int
	missingFiles int
	missingDirs  int
	wildcards    bool
}

func (a *globStats) add(b globStats) {
	a.entries += b.entries
	a.missingFiles += b.missingFiles
	a.missingDirs += b.missingDirs
	a.wildcards = a.wildcards || b.wildcards
}

// boundedFS is implemented by file systems that can stop a read or a glob
// at the load's remaining budget rather than after the fact.
type boundedFS interface {
	readFileBounded(name string, max int64) ([]byte, error)
	// globBounded returns the matches and what the glob saw (directory
	// entries read, missing names); past maxEntries it fails with
	// errGlobEntries, past maxMatches with errGlobMatches.
	globBounded(pattern string, maxEntries, maxMatches int) ([]string, globStats, error)
}

var (
	errGlobEntries = errors.New("too many directory entries")
	errGlobMatches = errors.New("too many matches")
)

// errTooLarge is a file past the per-file or the total byte budget.
type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string { return "file is larger than " + mib(e.max) }

// errNotRegular is an include (or the main file) that is a FIFO, a device,
// a directory or a socket: keepalived refuses them too, and reading one
// could block forever (a FIFO) or never end (/dev/zero).
type errNotRegular struct{ mode fs.FileMode }

func (e errNotRegular) Error() string {
	kind := "not a regular file"
	switch {
	case e.mode&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case e.mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case e.mode&fs.ModeDevice != 0:
		kind = "a block device"
	case e.mode&fs.ModeDir != 0:
		kind = "a directory"
	case e.mode&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return "is " + kind + ", not a regular file"
}

// readRegular reads a regular file (a symlink to one is fine) of at most
// max bytes. It stats before opening, so no device is ever opened (opening
// some has side effects), and opens with O_NONBLOCK and checks again, so
// a file swapped for a FIFO in between cannot block the load; O_NONBLOCK
// also makes /proc files such as kmsg fail rather than wait.
func readRegular(name string, max int64) ([]byte, error) {
	f, size, err := openRegular(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The size is a hint (files in /proc say 0); the limit is the reader's.
	buf := bytes.NewBuffer(make([]byte, 0, size+512))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if int64(buf.Len()) > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errTooLarge{max}}
	}
	return buf.Bytes(), nil
}

// openRegular opens a regular file of at most max bytes (by its size,
// which is a hint: files in /proc say 0) with readRegular's checks.
func openRegular(name string, max int64) (*os.File, int64, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: errNotRegular{st.Mode()}}
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: errNotRegular{st.Mode()}}
	}
	if st.Size() > max {
		f.Close()
		return nil, 0, &fs.PathError{Op: "read", Path: name, Err: errTooLarge{max}}
	}
	return f, st.Size(), nil
}

// streamFS is a file system whose files Load can read line by line as it
// goes, rather than whole first (which kept the whole file alive through
// the whole load). openBounded makes readRegular's checks; the caller
// bounds the read.
type streamFS interface {
	openBounded(name string, max int64) (io.ReadCloser, int64, error)
}

func (osFS) openBounded(name string, max int64) (io.ReadCloser, int64, error) {
	return openRegular(name, max)
}

// countingReader counts what it reads.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// globber is filepath.Glob (same matching, same order) reading directories
// a batch at a time, so that a directory of a million files or a pattern
// that walks the whole file system stops at the budget instead of being
// read whole first.
type globber struct {
	globStats
	maxEntries, maxMatches int
}

func (g *globber) glob(pattern string, top bool) ([]string, error) {
	if strings.Count(pattern, "/") > 256 {
		return nil, filepath.ErrBadPattern
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	if !strings.ContainsAny(pattern, `*?[\`) {
		if err := g.charge(1); err != nil {
			return nil, err
		}
		if _, err := os.Lstat(pattern); err != nil {
			g.missingFiles++
			return nil, nil
		}
		return []string{pattern}, nil
	}
	dir, file := filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case "/":
	default:
		dir = dir[:len(dir)-1]
	}
	limit := -1 // the directories of a pattern are not the matches
	if top {
		limit = g.maxMatches
	}
	if !strings.ContainsAny(dir, `*?[\`) {
		return g.globDir(dir, file, nil, limit)
	}
	if dir == pattern {
		return nil, filepath.ErrBadPattern
	}
	dirs, err := g.glob(dir, false)
	if err != nil {
		return nil, err
	}
	var matches []string
	for _, d := range dirs {
		if !strings.ContainsAny(file, `*?[\`) {
			// glibc lstat()s a name without wildcards in each directory
			// (each one missing is counted), rather than reading it.
			if err := g.charge(1); err != nil {
				return nil, err
			}
			p := filepath.Join(d, file)
			if _, err := os.Lstat(p); err != nil {
				g.missingFiles++
				continue
			}
			if matches = append(matches, p); limit >= 0 && len(matches) > limit {
				return nil, errGlobMatches
			}
			continue
		}
		if matches, err = g.globDir(d, file, matches, limit); err != nil {
			return nil, err
		}
	}
	return matches, nil
}

func (g *globber) charge(n int) error {
	g.entries += n
	if g.entries > g.maxEntries {
		return errGlobEntries
	}
	return nil
}

func (g *globber) globDir(dir, pattern string, matches []string, limit int) ([]string, error) {
	// O_DIRECTORY: a FIFO where a directory was expected fails, not blocks.
	g.wildcards = true
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_DIRECTORY, 0)
	if err != nil {
		g.missingDirs++
		return matches, nil // as filepath.Glob: an unreadable directory matches nothing
	}
	defer f.Close()
	first := len(matches)
	for {
		names, rerr := f.Readdirnames(256)
		if err := g.charge(len(names)); err != nil {
			return nil, err
		}
		for _, n := range names {
			if ok, _ := filepath.Match(pattern, n); ok {
				matches = append(matches, filepath.Join(dir, n))
				if limit >= 0 && len(matches) > limit {
					return nil, errGlobMatches
				}
			}
		}
		if rerr != nil || len(names) == 0 {
			break
		}
	}
	sort.Strings(matches[first:])
	return matches, nil
}

// MapFS is an in-memory FileSystem for tests and fuzzing.
type MapFS map[string]string

func (m MapFS) ReadFile(name string) ([]byte, error) {
	s, ok := m[filepath.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (m MapFS) Glob(pattern string) ([]string, error) {
	out, _, err := m.globBounded(pattern, math.MaxInt, math.MaxInt)
	return out, err
}

func (m MapFS) readFileBounded(name string, max int64) ([]byte, error) {
	s, ok := m[filepath.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if int64(len(s)) > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errTooLarge{max}}
	}
	return []byte(s), nil
}

// globBounded matches pattern against the map's names. A directory exists
// when some name is inside it; a name without wildcards that is not in the
// map counts as missing, as does the directory of a wildcard pattern that
// nothing is inside.
func (m MapFS) globBounded(pattern string, maxEntries, maxMatches int) ([]string, globStats, error) {
	st := globStats{entries: len(m)}
	if len(m) > maxEntries {
		return nil, st, errGlobEntries
	}
	var out []string
	for name := range m {
		if ok, err := filepath.Match(pattern, name); err != nil {
			return nil, st, err
		} else if ok {
			out = append(out, name)
			if len(out) > maxMatches {
				return nil, st, errGlobMatches
			}
		}
	}
	sort.Strings(out)
	if !strings.ContainsAny(pattern, `*?[\`) {
		if len(out) == 0 {
			st.missingFiles++
		}
		return out, st, nil
	}
	st.wildcards = true
	if len(out) == 0 {
		dir := filepath.Dir(pattern)
		found := false
		for name := range m {
			if strings.HasPrefix(name, dir+"/") || dir == "/" {
				found = true
				break
			}
		}
		if !found {
			st.missingDirs++
		}
	}
	return out, st, nil
}

// definition is a $NAME=value parameter; multi-line values keep their lines.
type definition struct {
	lines []string
	// multi marks a definition whose first line ended in '\': keepalived
	// substitutes it only where it ends a line (find_definition's
	// allow_multiline), its first line in place and the others after.
	multi bool
}

type lexer struct {
	fs       FileSystem
	configID string
	diags    *Diagnostics
	defs     map[string]*definition
	b        *budget
	toks     tokenStore
	// sink, when set, takes each token as it is produced instead of toks
	// (Load: the parser and the hash consume the stream as it comes).
	sink  func(Token)
	ntoks int      // tokens emitted
	stack []string // absolute paths of files being read, for cycle detection
	files []string // every file read, in order
	pwd   string

	// What the load has used of its budget.
	lines      int
	bytes      int64 // pre-processed text, see budget.Bytes
	fileBytes  int64
	seqIters   int64
	globbed    int // directory entries read by include patterns
	blockDepth int // '{' open at the end of the tokens so far
	// srcPos is the file line being processed (at its first non-blank);
	// exact says whether the text being processed is still that line as
	// written, so that columns within it are columns in the file.
	srcPos   Pos
	exact    bool
	errors   int
	warnings int
	aborted  bool // a limit was crossed: stop, and return no tokens

	// includeCheck is global_defs' include_check so far (keepalived
	// applies it to the includes that follow it); includeReadCheck is
	// what the include being opened checks, for readFile's errors.
	includeCheck     includeCheck
	includeReadCheck includeCheck
	// blockKeys are the keywords of the blocks open at the end of the
	// tokens so far (to see include_check in global_defs); lineKey is the
	// first word of the line being emitted.
	blockKeys []string
	lineKey   string
	lineArgs  []Token
	// recent are the physical lines read lately, for interning.
	recent lineCache
}

// lineCache gives a line read again, byte for byte, the string it had
// before: a configuration repeats most of its lines ("}", "weight 1",
// "connect_timeout 3" at the same indentation), and a string for each
// was most of what the lexer allocated. Lines are immutable strings, so
// sharing them changes nothing but the allocations.
type lineCache [256]string

func (c *lineCache) intern(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, x := range b {
		h = (h ^ uint32(x)) * 16777619
	}
	e := &c[h%uint32(len(c))]
	if *e == string(b) {
		return *e
	}
	*e = string(b)
	return *e
}

// tokenStore collects tokens in chunks that are never copied while lexing:
// growing one slice by append copies it again and again, and the copies,
// not the tokens, would dominate the memory of a load that hits the token
// budget. A single-chunk store (every real single-file configuration, see
// lex) is returned as is; otherwise the chunks are joined once at the end.
type tokenStore struct {
	chunks [][]Token
	cur    []Token
	n      int
	max    int
}

// tokenChunk is 16K tokens: small enough that joining the chunks
// is many short copies, each a point where the collector can stop the
// goroutine (one long copy of pointers made it spin for seconds).
const tokenChunk = 16 << 10

func (ts *tokenStore) push(t Token) {
	if len(ts.cur) == cap(ts.cur) {
		if ts.cur != nil {
			ts.chunks = append(ts.chunks, ts.cur)
		}
		ts.cur = make([]Token, 0, min(max(ts.n, 256), tokenChunk, ts.max-ts.n+1))
	}
	ts.cur = append(ts.cur, t)
	ts.n++
}

// reserve sizes the first chunk from an estimate, at most half the budget
// (a file of comments estimates many tokens and has none).
func (ts *tokenStore) reserve(n int) {
	if ts.cur == nil && ts.chunks == nil {
		ts.cur = make([]Token, 0, min(n, ts.max/2+1))
	}
}

func (ts *tokenStore) all() []Token {
	if len(ts.chunks) == 0 {
		return ts.cur
	}
	out := make([]Token, 0, ts.n)
	for _, c := range ts.chunks {
		out = append(out, c...)
	}
	return append(out, ts.cur...)
}

var defNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// lex reads path and everything it includes into a token stream, within
// loadBudget. When a limit is crossed it reports one error there
// and returns no tokens, so that nothing downstream reports the truncated
// remainder.
func lex(fsys FileSystem, path, configID string, diags *Diagnostics) ([]Token, []string) {
	return lexBudget(fsys, path, configID, diags, loadBudget)
}

func lexBudget(fsys FileSystem, path, configID string, diags *Diagnostics, b *budget) ([]Token, []string) {
	return lexChecked(fsys, path, configID, diags, b, 0)
}

// lexChecked is lexBudget with an initial include_check (keepalived's
// -e/--all-config checks every include as includea).
func lexChecked(fsys FileSystem, path, configID string, diags *Diagnostics, b *budget, check includeCheck) ([]Token, []string) {
	lx := &lexer{fs: fsys, configID: configID, diags: diags, defs: map[string]*definition{}, b: b, includeCheck: check}
	lx.toks.max = b.Tokens
	lx.readFile(path, Pos{})
	if lx.aborted {
		return nil, lx.files
	}
	return lx.toks.all(), lx.files
}

// lexStream is lexChecked handing each token to sink as it is produced.
// When a limit is crossed (aborted) the tokens sink has seen are to be
// thrown away, as lexChecked returns none.
func lexStream(fsys FileSystem, path, configID string, diags *Diagnostics, b *budget, check includeCheck, sink func(Token)) (files []string, aborted bool) {
	lx := &lexer{fs: fsys, configID: configID, diags: diags, defs: map[string]*definition{}, b: b, includeCheck: check, sink: sink}
	lx.readFile(path, Pos{})
	return lx.files, lx.aborted
}

// at is where to report a problem found at pos. A column in text that
// expansion or ~SEQ produced is no column of the file, so those are
// reported at the start of the line they came from.
func (lx *lexer) at(pos Pos) Pos {
	if !lx.exact && pos.File == lx.srcPos.File && pos.Line == lx.srcPos.Line {
		return lx.srcPos
	}
	return pos
}

// fail reports that the load crossed a limit and stops it.
func (lx *lexer) fail(pos Pos, format string, args ...any) {
	if lx.aborted {
		return
	}
	lx.diags.Errorf(lx.at(pos), format, args...)
	lx.aborted = true
}

// errorf reports an error the load carries on after, up to budget.Errors.
func (lx *lexer) errorf(pos Pos, format string, args ...any) {
	if lx.aborted {
		return
	}
	if lx.errors >= lx.b.Errors {
		lx.fail(pos, "more than %d errors; giving up", lx.b.Errors)
		return
	}
	lx.errors++
	lx.diags.Errorf(lx.at(pos), format, args...)
}

// skipf reports an error keepalived 2.2.7 logs and runs past, the line
// (or item) left out as keepalived leaves it out; see Diagnostics.Skipf.
func (lx *lexer) skipf(pos Pos, format string, args ...any) {
	if lx.aborted {
		return
	}
	if lx.errors >= lx.b.Errors {
		lx.fail(pos, "more than %d errors; giving up", lx.b.Errors)
		return
	}
	lx.errors++
	lx.diags.Skipf(lx.at(pos), format, args...)
}

func (lx *lexer) warnf(pos Pos, format string, args ...any) {
	lx.warnings++
	switch {
	case lx.warnings <= lx.b.Errors:
		lx.diags.Warnf(lx.at(pos), format, args...)
	case lx.warnings == lx.b.Errors+1:
		lx.diags.Warnf(lx.at(pos), "more than %d warnings; the rest are not shown", lx.b.Errors)
	}
}

// spend charges n bytes of pre-processed text to the load.
func (lx *lexer) spend(n int, pos Pos) bool {
	lx.bytes += int64(n)
	if lx.bytes > lx.b.Bytes {
		lx.fail(pos, "configuration expands to more than %s of text (lvsd's limit; $NAME or ~SEQ repeated without bound?)", mib(lx.b.Bytes))
		return false
	}
	return true
}

// emit appends one token, keeping the token budget and the block depth.
func (lx *lexer) emit(t Token) bool {
	if lx.ntoks >= lx.b.Tokens {
		lx.fail(t.Pos, "configuration expands to more than %d tokens (words, braces and line ends; lvsd's limit)", lx.b.Tokens)
		return false
	}
	switch t.Kind {
	case TokOpen:
		lx.blockDepth++
		if lx.blockDepth > lx.b.BlockDepth {
			lx.fail(t.Pos, "configuration nests blocks deeper than %d levels", lx.b.BlockDepth)
			return false
		}
		lx.blockKeys = append(lx.blockKeys, lx.lineKey)
		lx.lineKey = ""
	case TokClose:
		if lx.blockDepth > 0 {
			lx.blockDepth--
		}
		if n := len(lx.blockKeys); n > 0 {
			lx.blockKeys = lx.blockKeys[:n-1]
		}
		lx.lineKey = ""
	case TokWord:
		switch {
		case lx.lineKey == "":
			lx.lineKey = t.Text
			lx.lineArgs = lx.lineArgs[:0]
		case lx.lineKey == "include_check":
			lx.lineArgs = append(lx.lineArgs, t)
		}
	case TokEOL:
		if lx.lineKey == "include_check" && len(lx.blockKeys) == 1 && lx.blockKeys[0] == "global_defs" {
			// keepalived applies it as it parses global_defs, so it
			// governs the includes after it.
			lx.parseIncludeCheck(lx.lineArgs)
		}
		lx.lineKey = ""
	}
	lx.ntoks++
	if lx.sink != nil {
		lx.sink(t)
	} else {
		lx.toks.push(t)
	}
	return true
}

func (lx *lexer) readFile(path string, from Pos) {
	if lx.aborted {
		return
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	for _, open := range lx.stack {
		if open == abs {
			lx.errorf(from, "include cycle: %s includes itself (via %s)", path, strings.Join(lx.stack, " -> "))
			return
		}
	}
	if len(lx.stack) >= lx.b.IncludeDepth {
		lx.fail(from, "include nesting deeper than %d files at %s", lx.b.IncludeDepth, path)
		return
	}
	if len(lx.files) >= lx.b.Files {
		lx.fail(from, "configuration reads more than %d files (lvsd's limit) at %s", lx.b.Files, path)
		return
	}
	left := min(lx.b.FileBytes, lx.b.TotalFileBytes-lx.fileBytes)
	var data []byte
	var stream io.ReadCloser
	var size int64
	if sfs, ok := lx.fs.(streamFS); ok && lx.sink != nil {
		stream, size, err = sfs.openBounded(path, left)
	} else if bfs, ok := lx.fs.(boundedFS); ok {
		data, err = bfs.readFileBounded(path, left)
	} else if data, err = lx.fs.ReadFile(path); err == nil && int64(len(data)) > left {
		err = &fs.PathError{Op: "read", Path: path, Err: errTooLarge{left}}
	}
	tooLarge := func(max int64) {
		at := from
		if at.File == "" {
			at = Pos{File: path}
		}
		if max < lx.b.FileBytes {
			lx.fail(at, "%s: the files of the configuration come to more than %s (lvsd's limit)", path, mib(lx.b.TotalFileBytes))
		} else {
			lx.fail(at, "%s is larger than %s (lvsd's limit for one configuration file)", path, mib(lx.b.FileBytes))
		}
	}
	cannotRead := func(err error) {
		if from.File == "" {
			lx.errorf(Pos{File: path}, "cannot read configuration: %v", err)
		} else {
			lx.includeProblem(from, lx.includeReadCheck, includeR, "cannot read included file: %v", err)
		}
	}
	if err != nil {
		if tl := (errTooLarge{}); errors.As(err, &tl) {
			tooLarge(tl.max)
			return
		}
		cannotRead(err)
		return
	}
	src, maxLine := io.Reader(bytes.NewReader(data)), len(data)+1
	var counted *countingReader
	if stream != nil {
		// Read as the lines are processed, within the same bound; the
		// size the file says it has is charged now, what was read at
		// the end.
		defer stream.Close()
		data = nil
		counted = &countingReader{r: io.LimitReader(stream, left+1)}
		src, maxLine = counted, int(left)+1
		lx.fileBytes += size
	} else {
		lx.fileBytes += int64(len(data))
	}
	lx.diags.noteFile(path)
	lx.files = append(lx.files, path)
	lx.stack = append(lx.stack, abs)
	// About one token per 6 bytes in real configs; growing the store by
	// chunks would cost one copy at the end.
	if lx.sink == nil {
		lx.toks.reserve(len(data)/6 + 16)
	}
	savedPWD := lx.pwd
	lx.pwd = filepath.Dir(abs)
	defer func() {
		lx.stack = lx.stack[:len(lx.stack)-1]
		lx.pwd = savedPWD
	}()

	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	lineNo := 0
	var pendingDef *definition // multi-line $NAME= definition being read
	var pendingName string
	for sc.Scan() && !lx.aborted {
		lineNo++
		line := lx.recent.intern(bytes.TrimSuffix(sc.Bytes(), []byte("\r")))
		pos := Pos{File: path, Line: lineNo, Col: 1}
		if len(line) > lx.b.LineBytes {
			lx.errorf(pos, "line is %d bytes long; keepalived reads at most %d bytes per line", len(line), lx.b.LineBytes)
			continue
		}
		if pendingDef != nil {
			// keepalived 2.2.7's processes that run the configuration
			// (VRRP, checkers) read the copy of it its parent writes, in
			// which a line that is only a comment or blanks is an empty
			// line; an empty line ends a multi-line definition
			// (read_line). So such a line ends it, and the lines after it
			// are lines of their own. A line ending in '\' continues it,
			// any other line is its last.
			text, more := cutContinuation(strings.TrimSpace(stripComment(line)))
			if text != "" {
				pendingDef.lines = append(pendingDef.lines, text)
			}
			if !more {
				lx.defs[pendingName] = pendingDef
				pendingDef = nil
			}
			continue
		}
		if name, def, more, ok := lx.parseDefinition(line, pos); ok {
			if more {
				pendingDef, pendingName = def, name
			} else {
				lx.defs[name] = def
			}
			continue
		}
		lx.processLine(line, pos, 0)
	}
	if pendingDef != nil {
		lx.defs[pendingName] = pendingDef
	}
	if counted != nil && !lx.aborted {
		// A file that grew past its size while read (or a /proc file,
		// which says 0) is refused as one read whole would be; the lines
		// before the limit were processed, but a crossed limit throws the
		// whole load away.
		switch err := sc.Err(); {
		case counted.n > left:
			tooLarge(left)
		case err != nil:
			cannotRead(&fs.PathError{Op: "read", Path: path, Err: err})
		}
		lx.fileBytes += counted.n - size
	}
}

// trimBlanks is strings.TrimLeft(s, " \t") without building the cutset
// for every line.
func trimBlanks(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

// cutContinuation strips a trailing backslash that continues a definition.
func cutContinuation(s string) (string, bool) {
	t := strings.TrimRight(s, " \t")
	if strings.HasSuffix(t, `\`) {
		return strings.TrimRight(strings.TrimSuffix(t, `\`), " \t"), true
	}
	return t, false
}

// parseDefinition recognises "$NAME=value" (only whitespace may precede the
// '$', and no space before '='), optionally behind an @conditional.
func (lx *lexer) parseDefinition(line string, pos Pos) (string, *definition, bool, bool) {
	s := trimBlanks(line)
	if s == "" || s[0] != '@' && s[0] != '$' {
		return "", nil, false, false
	}
	if strings.HasPrefix(s, "@") {
		rest, keep := lx.conditional(s)
		if !keep {
			// processLine drops the line for the same reason.
			return "", nil, false, false
		}
		s = strings.TrimLeft(rest, " \t")
	}
	name, def, more, ok := lx.parseDefinitionBody(s)
	if !ok {
		return "", nil, false, false
	}
	return name, def, more, true
}

func (lx *lexer) parseDefinitionBody(s string) (string, *definition, bool, bool) {
	if !strings.HasPrefix(s, "$") {
		return "", nil, false, false
	}
	name := defNameRE.FindString(s[1:])
	if name == "" || len(s) <= 1+len(name) || s[1+len(name)] != '=' {
		return "", nil, false, false
	}
	value, more := cutContinuation(stripComment(s[2+len(name):]))
	value = strings.TrimLeft(value, " \t")
	def := &definition{multi: more}
	if !more || value != "" {
		def.lines = append(def.lines, value)
	}
	return name, def, more, true
}

// conditional handles a line starting with '@': it returns the rest of the
// line and whether this config id keeps it.
func (lx *lexer) conditional(s string) (string, bool) {
	s = s[1:]
	negate := strings.HasPrefix(s, "^")
	if negate {
		s = s[1:]
	}
	end := strings.IndexAny(s, " \t")
	id, rest := s, ""
	if end >= 0 {
		id, rest = s[:end], s[end:]
	}
	match := id == lx.configID
	return rest, match != negate
}

// stripComment removes a '!' or '#' comment that is outside quotes.
func stripComment(s string) string {
	inQuote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote != 0:
			i++
		case inQuote != 0:
			if c == inQuote {
				inQuote = 0
			}
		case c == '"' || c == '\'':
			inQuote = c
		case c == '!' || c == '#':
			return s[:i]
		}
	}
	return s
}

// processLine handles one logical line: comment, conditional, ~SEQ, include,
// parameter expansion, then tokenizing.
func (lx *lexer) processLine(line string, pos Pos, depth int) {
	if lx.aborted {
		return
	}
	if depth > lx.b.ExpandDepth {
		lx.fail(pos, "parameter or ~SEQ expansion nested deeper than %d levels", lx.b.ExpandDepth)
		return
	}
	lx.lines++
	if lx.lines > lx.b.Lines {
		lx.fail(pos, "configuration expands to more than %d lines; refusing to continue", lx.b.Lines)
		return
	}
	if !lx.spend(len(line), pos) {
		return
	}
	stripped := stripComment(line)
	s := trimBlanks(stripped)
	if s == "" {
		return
	}
	pos.Col += len(stripped) - len(s)
	if depth == 0 {
		lx.srcPos, lx.exact = pos, true
	} else {
		lx.exact = false
	}
	if strings.HasPrefix(s, "@") {
		rest, keep := lx.conditional(s)
		if !keep {
			return
		}
		pos.Col += len(s) - len(rest)
		lx.processLine(rest, pos, depth+1)
		return
	}
	if name, def, _, ok := lx.parseDefinitionBody(s); ok {
		// Definitions produced by expansion (inside multi-line values) are
		// single-line by construction.
		lx.defs[name] = def
		return
	}
	if strings.HasPrefix(s, "~SEQ") || strings.HasPrefix(s, "~LST") {
		lx.sequence(s, pos, depth)
		return
	}
	if lx.multiLineParameter(s, pos, depth) {
		return
	}
	expanded, ok := lx.expand(s, pos, 0)
	if !ok {
		return
	}
	if expanded != s {
		// Expansion may produce a conditional or a definition (the
		// manual's "$IF_MAIN priority 240" example), so look again.
		t := strings.TrimLeft(expanded, " \t")
		if strings.HasPrefix(t, "@") || strings.HasPrefix(t, "~SEQ") || strings.HasPrefix(t, "~LST") {
			lx.processLine(t, pos, depth+1)
			return
		}
	}
	if kind, kw, pattern, ok := parseInclude(expanded); ok {
		// Include patterns keep their braces: they are csh alternatives.
		lx.include(kind, kw, pattern, pos)
		return
	}
	lx.exact = depth == 0 && expanded == s
	if lx.tokenize(expanded, pos) > 0 {
		lx.emit(Token{Kind: TokEOL, Pos: pos})
	}
}

// multiLineParameter handles a line that ends in a multi-line parameter:
// it expands to the parameter's lines, the first one in its place
// (keepalived's replace_param with a multiline definition). It reports
// whether s was such a line.
func (lx *lexer) multiLineParameter(s string, pos Pos, depth int) bool {
	if len(lx.defs) == 0 || strings.IndexByte(s, '$') < 0 {
		return false // most lines, and most configurations
	}
	prefix, name, ok := trailingParameter(s)
	if !ok {
		return false
	}
	def, found := lx.defs[name]
	if !found || !def.multi || len(def.lines) == 0 {
		return false
	}
	first := prefix + def.lines[0]
	if strings.TrimSpace(first) != "" {
		lx.processLine(first, pos, depth+1)
	}
	for _, l := range def.lines[1:] {
		lx.processLine(l, pos, depth+1)
	}
	return true
}

// trailingParameter finds a $NAME or ${NAME} that ends the line and
// returns the text before it and the name.
func trailingParameter(s string) (prefix, name string, ok bool) {
	s = strings.TrimRight(s, " \t")
	if strings.HasSuffix(s, "}") {
		i := strings.LastIndex(s, "${")
		if i < 0 {
			return "", "", false
		}
		name = s[i+2 : len(s)-1]
		return s[:i], name, name != "" && defNameRE.FindString(name) == name
	}
	i := strings.LastIndexByte(s, '$')
	if i < 0 {
		return "", "", false
	}
	name = s[i+1:]
	return s[:i], name, name != "" && defNameRE.FindString(name) == name
}

// expand substitutes $NAME (followed by whitespace or end) and ${NAME}.
// Undefined parameters stay as written, as keepalived leaves them.
func (lx *lexer) expand(s string, pos Pos, depth int) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	if depth > lx.b.ExpandDepth {
		lx.fail(pos, "parameter expansion nested deeper than %d levels (a parameter refers to itself?)", lx.b.ExpandDepth)
		return "", false
	}
	// Measure first, so that an oversized line is refused before it is
	// built and the line is built in one allocation: a builder growing by
	// doubling allocated twice the text the budget allows.
	n, changed := 0, false
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			n++
			continue
		}
		name, width, braced := parameterAt(s, i)
		l, ok := lx.valueLen(name, braced)
		if name == "" || !ok {
			n++
			continue
		}
		n += l
		changed = true
		i += width - 1
		if n > lx.b.LineExpandedBytes {
			lx.fail(pos, "parameter expansion produces a line longer than %s", mib(int64(lx.b.LineExpandedBytes)))
			return "", false
		}
	}
	if !changed {
		return s, true
	}
	if !lx.spend(n, pos) {
		return "", false
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		name, width, braced := parameterAt(s, i)
		value, ok := lx.lookup(name, braced)
		if name == "" || !ok {
			b.WriteByte('$')
			continue
		}
		b.WriteString(value)
		i += width - 1
	}
	return lx.expand(b.String(), pos, depth+1)
}

// parameterAt reads the reference at s[i] == '$': $NAME (followed by
// whitespace or the end, or keepalived does not substitute it) or ${NAME}.
// The name is "" if there is none.
func parameterAt(s string, i int) (name string, width int, braced bool) {
	if i+1 < len(s) && s[i+1] == '{' {
		end := strings.IndexByte(s[i+2:], '}')
		if end >= 0 {
			return s[i+2 : i+2+end], end + 3, true
		}
		return "", 0, false
	}
	name = defNameRE.FindString(s[i+1:])
	width = 1 + len(name)
	// keepalived's find_definition: the name ends at a blank, ',' or ')'
	// (so that ~SEQ arguments can be parameters) or the end of the line.
	if next := i + width; next < len(s) && s[next] != ' ' && s[next] != '\t' && s[next] != ',' && s[next] != ')' {
		name = ""
	}
	return name, width, false
}

// valueLen is len(lookup(name, braced)) without joining a multi-line value.
func (lx *lexer) valueLen(name string, braced bool) (int, bool) {
	if def, ok := lx.defs[name]; ok && !strings.HasPrefix(name, "_") {
		if def.multi {
			return 0, false
		}
		n := max(len(def.lines)-1, 0)
		for _, l := range def.lines {
			n += len(l)
		}
		return n, true
	}
	v, ok := lx.lookup(name, braced)
	return len(v), ok
}

func (lx *lexer) lookup(name string, braced bool) (string, bool) {
	switch {
	case name == "_PWD":
		return lx.pwd, true
	case name == "_INSTANCE":
		return lx.configID, true
	case name == "_HASH":
		return "#", true
	case name == "_BANG":
		return "!", true
	case braced && strings.HasPrefix(name, "_RANDOM"):
		// Deterministic on purpose: check-config output must be reproducible.
		f := strings.Fields(name)
		if len(f) > 1 {
			return f[1], true
		}
		return "0", true
	}
	def, ok := lx.defs[name]
	if !ok || def.multi {
		// A multi-line definition is substituted only at the end of a
		// line (processLine); elsewhere keepalived leaves it as written.
		return "", false
	}
	return strings.Join(def.lines, " "), true
}

var seqRE = regexp.MustCompile(`^~(SEQx?|LST)\(`)

// sequence expands ~SEQ(var, start, step, end), ~SEQx(...) and ~LST(var, v1, v2...).
// A malformed one is reported and its line left out, as keepalived 2.2.7
// does (add_seq: "Invalid ~SEQ specification", the load goes on), so it is
// an error only check-config fails on.
func (lx *lexer) sequence(s string, pos Pos, depth int) {
	m := seqRE.FindStringSubmatch(s)
	if m == nil {
		lx.skipf(pos, "malformed sequence %q: expected ~SEQ(var, [start, [step,]] end); the line is left out, as keepalived leaves it out", firstWord(s))
		return
	}
	open := len(m[0])
	closeIdx := matchingParen(s, open)
	if closeIdx < 0 {
		lx.skipf(pos, "unterminated %s( ... ): missing ')'; the line is left out, as keepalived leaves it out", "~"+m[1])
		return
	}
	inner, rest := s[open:closeIdx], s[closeIdx+1:]
	args := splitTopLevel(inner)
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	if m[1] == "LST" {
		lx.list(args, rest, pos, depth)
		return
	}
	if len(args) < 2 || len(args) > 4 || defNameRE.FindString(args[0]) != args[0] {
		lx.skipf(pos, "~%s needs (var, [start, [step,]] end), got (%s); the line is left out, as keepalived leaves it out", m[1], inner)
		return
	}
	nums := make([]int64, 0, 3)
	for _, a := range args[1:] {
		// keepalived substitutes parameters in the numbers (add_seq's
		// replace_param), so ~SEQ(i, $FIRST, $LAST) works.
		if strings.Contains(a, "$") {
			x, ok := lx.expand(a, pos, 0)
			if !ok {
				return
			}
			a = strings.TrimSpace(x)
		}
		v, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			lx.skipf(pos, "~%s: %q is not an integer; the line is left out, as keepalived leaves it out", m[1], a)
			return
		}
		nums = append(nums, v)
	}
	var start, step, end int64
	switch len(nums) {
	case 1:
		end = nums[0]
		start = 1
		if end < 0 {
			start = -1
		}
	case 2:
		start, end = nums[0], nums[1]
	case 3:
		start, step, end = nums[0], nums[1], nums[2]
		if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
			lx.skipf(pos, "~%s: step %d never goes from %d to %d; the line is left out, as keepalived leaves it out", m[1], step, start, end)
			return
		}
	}
	if m[1] == "SEQx" && (start < 0 || end < 0) {
		lx.skipf(pos, "~SEQx is only valid for positive numbers; the line is left out, as keepalived leaves it out")
		return
	}
	if step == 0 {
		step = 1
		if end < start {
			step = -1
		}
	}
	if (step > 0 && end < start) || (step < 0 && end > start) {
		return
	}
	// In uint64, so that no start, step or end overflows: the differences
	// wrap to their true value, and only the whole int64 range (2^64
	// lines) wraps the count, to 0.
	count := uint64(end-start)/uint64(step) + 1
	if step < 0 {
		count = uint64(start-end)/uint64(-step) + 1
	}
	if count == 0 {
		count = math.MaxUint64
	}
	if !lx.repeat(count, "~"+m[1], pos) {
		return
	}
	name := args[0]
	saved, had := lx.defs[name]
	// Counted, not compared: v += step past end may wrap around int64.
	for k, v := uint64(0), start; k < count; k, v = k+1, v+step {
		val := strconv.FormatInt(v, 10)
		if m[1] == "SEQx" {
			val = strconv.FormatInt(v, 16)
		}
		lx.defs[name] = &definition{lines: []string{val}}
		lx.processLine(rest, pos, depth+1)
		if lx.aborted {
			break
		}
	}
	if had {
		lx.defs[name] = saved
	} else {
		delete(lx.defs, name)
	}
}

// repeat charges count ~SEQ or ~LST repetitions to the load before they
// run, so an oversized one is refused at once rather than part way.
func (lx *lexer) repeat(count uint64, what string, pos Pos) bool {
	left := lx.b.SeqIterations - lx.seqIters
	if count > uint64(left) {
		if lx.seqIters == 0 {
			lx.fail(pos, "%s produces %d lines; the limit is %d per configuration", what, count, lx.b.SeqIterations)
		} else {
			lx.fail(pos, "%s: ~SEQ and ~LST produce more than %d lines (lvsd's limit; %d produced, %d more asked)", what, lx.b.SeqIterations, lx.seqIters, count)
		}
		return false
	}
	lx.seqIters += int64(count)
	return true
}

func (lx *lexer) list(args []string, rest string, pos Pos, depth int) {
	if len(args) < 2 {
		lx.skipf(pos, "~LST needs (var, value, ...); the line is left out, as keepalived leaves it out")
		return
	}
	names := splitTopLevel(strings.Trim(args[0], "{}"))
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
		if defNameRE.FindString(names[i]) != names[i] {
			lx.skipf(pos, "~LST: %q is not a parameter name; the line is left out, as keepalived leaves it out", names[i])
			return
		}
	}
	if !lx.repeat(uint64(len(args)-1), "~LST", pos) {
		return
	}
	for _, a := range args[1:] {
		vals := []string{a}
		if strings.HasPrefix(a, "{") {
			vals = splitTopLevel(strings.Trim(a, "{}"))
		}
		if len(vals) != len(names) {
			lx.skipf(pos, "~LST: value %s does not match %d variable(s); the line is left out, as keepalived leaves it out", a, len(names))
			return
		}
		for i, n := range names {
			lx.defs[n] = &definition{lines: []string{strings.TrimSpace(vals[i])}}
		}
		lx.processLine(rest, pos, depth+1)
		if lx.aborted {
			break
		}
	}
	for _, n := range names {
		delete(lx.defs, n)
	}
}

func matchingParen(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits on commas that are not inside {...}.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// tokenize splits a line into words with keepalived's quoting rules: a
// quoted part may sit inside a word, escapes work inside quotes, and braces
// outside quotes are tokens of their own.
func (lx *lexer) tokenize(s string, pos Pos) int {
	n := 0
	var text, raw strings.Builder
	inWord := false
	start := 0
	plain := true // the word has no quotes or escapes, so Text == Raw == a substring
	unmatched := false
	flush := func(end int) {
		if inWord && !unmatched {
			tok := Token{Kind: TokWord, Pos: Pos{File: pos.File, Line: pos.Line, Col: pos.Col + start}}
			if plain {
				tok.Text, tok.Raw = s[start:end], s[start:end]
			} else {
				tok.Text, tok.Raw = text.String(), raw.String()
			}
			if lx.emit(tok) {
				n++
			}
		}
		plain = true
		text.Reset()
		raw.Reset()
		inWord = false
	}
	for i := 0; i < len(s) && !lx.aborted; i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush(i)
		case c == '{' && inWord && i > 0 && s[i-1] == '$':
			// An undefined ${NAME} stays one word, as keepalived leaves it.
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				end = len(s) - i - 1
			}
			if !plain {
				text.WriteString(s[i : i+end+1])
				raw.WriteString(s[i : i+end+1])
			}
			i += end
		case c == '{' || c == '}':
			flush(i)
			kind, text := TokOpen, "{"
			if c == '}' {
				kind, text = TokClose, "}"
			}
			if lx.emit(Token{Kind: kind, Text: text, Raw: text, Pos: Pos{File: pos.File, Line: pos.Line, Col: pos.Col + i}}) {
				n++
			}
		case c == '"' || c == '\'':
			if !inWord {
				inWord, start = true, i
			}
			if plain {
				text.WriteString(s[start:i])
				raw.WriteString(s[start:i])
				plain = false
			}
			end := i + 1
			raw.WriteByte(c)
			closed := false
			for ; end < len(s); end++ {
				d := s[end]
				if d == '\\' && end+1 < len(s) {
					raw.WriteString(s[end : end+2])
					n, width := unescape(s[end+1:])
					text.WriteString(n)
					end += width
					continue
				}
				raw.WriteByte(d)
				if d == c {
					closed = true
					break
				}
				text.WriteByte(d)
			}
			if !closed {
				// keepalived 2.2.7 reports "Unmatched quote" and drops
				// the word (the rest of the line); the words before it
				// stay.
				lx.skipf(Pos{File: pos.File, Line: pos.Line, Col: pos.Col + i}, "unterminated quoted string; the word from the quote on is left out, as keepalived leaves it out")
				unmatched = true
			}
			i = end
		default:
			if !inWord {
				inWord, start = true, i
			}
			if !plain {
				text.WriteByte(c)
				raw.WriteByte(c)
			}
		}
	}
	flush(len(s))
	return n
}

// unescape decodes one escape sequence (the text after the backslash) and
// returns the decoded text and how many bytes it used.
func unescape(s string) (string, int) {
	switch c := s[0]; c {
	case 'a':
		return "\a", 1
	case 'b':
		return "\b", 1
	case 'E':
		return "\x1b", 1
	case 'f':
		return "\f", 1
	case 'n':
		return "\n", 1
	case 'r':
		return "\r", 1
	case 't':
		return "\t", 1
	case 'v':
		return "\v", 1
	case 'x':
		n := 1
		for n < len(s) && n < 3 && isHex(s[n]) {
			n++
		}
		if n == 1 {
			return "x", 1
		}
		v, _ := strconv.ParseUint(s[1:n], 16, 8)
		return string([]byte{byte(v)}), n
	case 'c':
		if len(s) > 1 {
			return string([]byte{s[1] & 0x1f}), 2
		}
		return "c", 1
	default:
		if c >= '0' && c <= '7' {
			n := 1
			for n < len(s) && n < 3 && s[n] >= '0' && s[n] <= '7' {
				n++
			}
			v, _ := strconv.ParseUint(s[:n], 8, 8)
			return string([]byte{byte(v)}), n
		}
		return string(c), 1
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// expandBraces turns "a{b,c}d" into ["abd", "acd"], nesting allowed.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				var out []string
				for _, alt := range splitTopLevel(s[open+1 : i]) {
					out = append(out, expandBraces(s[:open]+alt+s[i+1:])...)
					if len(out) > 4096 {
						return out
					}
				}
				return out
			}
		}
	}
	return []string{s}
}

// describeToken is used in diagnostics.
func describeToken(t Token) string {
	switch t.Kind {
	case TokOpen:
		return "'{'"
	case TokClose:
		return "'}'"
	case TokEOL:
		return "end of line"
	}
	return fmt.Sprintf("%q", t.Text)
}
