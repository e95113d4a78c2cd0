package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Limits that keep hostile or mistaken input from hanging or exhausting the
// process. keepalived has MAXBUF (1024) for a physical line; the others are
// lvsd's own bounds, far above anything a real director needs.
const (
	maxLineBytes     = 1024
	maxIncludeDepth  = 32
	maxExpandDepth   = 32
	maxExpandedBytes = 64 * 1024
	maxTotalLines    = 1_000_000
	maxSeqIterations = 1_000_000
)

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

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

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
	var out []string
	for name := range m {
		if ok, err := filepath.Match(pattern, name); err != nil {
			return nil, err
		} else if ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// definition is a $NAME=value parameter; multi-line values keep their lines.
type definition struct {
	lines []string
}

type lexer struct {
	fs       FileSystem
	configID string
	diags    *Diagnostics
	defs     map[string]*definition
	tokens   []Token
	stack    []string // absolute paths of files being read, for cycle detection
	files    []string // every file read, in order
	lines    int      // logical lines produced, bounded by maxTotalLines
	aborted  bool
	pwd      string
}

var defNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// lex reads path and everything it includes into a token stream.
func lex(fsys FileSystem, path, configID string, diags *Diagnostics) ([]Token, []string) {
	lx := &lexer{fs: fsys, configID: configID, diags: diags, defs: map[string]*definition{}}
	lx.readFile(path, Pos{})
	return lx.tokens, lx.files
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
			lx.diags.Errorf(from, "include cycle: %s includes itself (via %s)", path, strings.Join(lx.stack, " -> "))
			return
		}
	}
	if len(lx.stack) >= maxIncludeDepth {
		lx.diags.Errorf(from, "include nesting deeper than %d files at %s", maxIncludeDepth, path)
		return
	}
	data, err := lx.fs.ReadFile(path)
	if err != nil {
		if from.File == "" {
			lx.diags.Errorf(Pos{File: path}, "cannot read configuration: %v", err)
		} else {
			lx.diags.Errorf(from, "cannot read included file: %v", err)
		}
		return
	}
	lx.diags.noteFile(path)
	lx.files = append(lx.files, path)
	lx.stack = append(lx.stack, abs)
	if lx.tokens == nil {
		// About one token per 6 bytes in real configs; growing a slice of
		// 100k+ tokens by doubling dominated parse time.
		lx.tokens = make([]Token, 0, len(data)/6+16)
	}
	savedPWD := lx.pwd
	lx.pwd = filepath.Dir(abs)
	defer func() {
		lx.stack = lx.stack[:len(lx.stack)-1]
		lx.pwd = savedPWD
	}()

	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	lineNo := 0
	var pendingDef *definition // multi-line $NAME= definition being read
	var pendingName string
	for sc.Scan() && !lx.aborted {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		pos := Pos{File: path, Line: lineNo, Col: 1}
		if len(line) > maxLineBytes {
			lx.diags.Errorf(pos, "line is %d bytes long; keepalived reads at most %d bytes per line", len(line), maxLineBytes)
			continue
		}
		if pendingDef != nil {
			text, more := cutContinuation(stripComment(line))
			pendingDef.lines = append(pendingDef.lines, text)
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
	s := strings.TrimLeft(line, " \t")
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
	def := &definition{}
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
	if depth > maxExpandDepth {
		lx.diags.Errorf(pos, "parameter or ~SEQ expansion nested deeper than %d levels", maxExpandDepth)
		return
	}
	lx.lines++
	if lx.lines > maxTotalLines {
		lx.diags.Errorf(pos, "configuration expands to more than %d lines; refusing to continue", maxTotalLines)
		lx.aborted = true
		return
	}
	stripped := stripComment(line)
	s := strings.TrimLeft(stripped, " \t")
	if s == "" {
		return
	}
	pos.Col += len(stripped) - len(s)
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
	// A line that is only a multi-line parameter expands to its lines.
	if name, ok := soleParameter(s); ok {
		if def, found := lx.defs[name]; found && len(def.lines) > 1 {
			for _, l := range def.lines {
				lx.processLine(l, pos, depth+1)
			}
			return
		}
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
	if strings.HasPrefix(expanded, "include") && (len(expanded) == 7 || expanded[7] == ' ' || expanded[7] == '\t') {
		// Include patterns keep their braces: they are csh alternatives.
		lx.include(expanded, pos)
		return
	}
	words := lx.tokenize(expanded, pos)
	if len(words) == 0 {
		return
	}
	lx.tokens = append(lx.tokens, words...)
	lx.tokens = append(lx.tokens, Token{Kind: TokEOL, Pos: pos})
}

func soleParameter(s string) (string, bool) {
	s = strings.TrimRight(s, " \t")
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		name := s[2 : len(s)-1]
		return name, defNameRE.FindString(name) == name
	}
	if strings.HasPrefix(s, "$") {
		name := s[1:]
		return name, name != "" && defNameRE.FindString(name) == name
	}
	return "", false
}

// expand substitutes $NAME (followed by whitespace or end) and ${NAME}.
// Undefined parameters stay as written, as keepalived leaves them.
func (lx *lexer) expand(s string, pos Pos, depth int) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	if depth > maxExpandDepth {
		lx.diags.Errorf(pos, "parameter expansion nested deeper than %d levels (a parameter refers to itself?)", maxExpandDepth)
		return "", false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		name, width, braced := "", 0, false
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end >= 0 {
				name, width, braced = s[i+2:i+2+end], end+3, true
			}
		} else {
			name = defNameRE.FindString(s[i+1:])
			width = 1 + len(name)
			// keepalived only substitutes an unbraced name followed by whitespace or the end.
			if next := i + width; next < len(s) && s[next] != ' ' && s[next] != '\t' {
				name = ""
			}
		}
		value, ok := lx.lookup(name, braced)
		if name == "" || !ok {
			b.WriteByte('$')
			continue
		}
		b.WriteString(value)
		changed = true
		i += width - 1
		if b.Len() > maxExpandedBytes {
			lx.diags.Errorf(pos, "parameter expansion produces a line longer than %d bytes", maxExpandedBytes)
			return "", false
		}
	}
	if !changed {
		return s, true
	}
	return lx.expand(b.String(), pos, depth+1)
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
	if !ok {
		return "", false
	}
	return strings.Join(def.lines, " "), true
}

var seqRE = regexp.MustCompile(`^~(SEQx?|LST)\(`)

// sequence expands ~SEQ(var, start, step, end), ~SEQx(...) and ~LST(var, v1, v2...).
func (lx *lexer) sequence(s string, pos Pos, depth int) {
	m := seqRE.FindStringSubmatch(s)
	if m == nil {
		lx.diags.Errorf(pos, "malformed sequence %q: expected ~SEQ(var, [start, [step,]] end)", firstWord(s))
		return
	}
	open := len(m[0])
	closeIdx := matchingParen(s, open)
	if closeIdx < 0 {
		lx.diags.Errorf(pos, "unterminated %s( ... ): missing ')'", "~"+m[1])
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
		lx.diags.Errorf(pos, "~%s needs (var, [start, [step,]] end), got (%s)", m[1], inner)
		return
	}
	nums := make([]int64, 0, 3)
	for _, a := range args[1:] {
		v, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			lx.diags.Errorf(pos, "~%s: %q is not an integer", m[1], a)
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
	count := (end-start)/step + 1
	if count > maxSeqIterations {
		lx.diags.Errorf(pos, "~%s produces %d lines; the limit is %d", m[1], count, maxSeqIterations)
		return
	}
	name := args[0]
	saved, had := lx.defs[name]
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
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

func (lx *lexer) list(args []string, rest string, pos Pos, depth int) {
	if len(args) < 2 {
		lx.diags.Errorf(pos, "~LST needs (var, value, ...)")
		return
	}
	names := splitTopLevel(strings.Trim(args[0], "{}"))
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
		if defNameRE.FindString(names[i]) != names[i] {
			lx.diags.Errorf(pos, "~LST: %q is not a parameter name", names[i])
			return
		}
	}
	for _, a := range args[1:] {
		vals := []string{a}
		if strings.HasPrefix(a, "{") {
			vals = splitTopLevel(strings.Trim(a, "{}"))
		}
		if len(vals) != len(names) {
			lx.diags.Errorf(pos, "~LST: value %s does not match %d variable(s)", a, len(names))
			return
		}
		for i, n := range names {
			lx.defs[n] = &definition{lines: []string{strings.TrimSpace(vals[i])}}
		}
		lx.processLine(rest, pos, depth+1)
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
func (lx *lexer) tokenize(s string, pos Pos) []Token {
	var out []Token
	var text, raw strings.Builder
	inWord := false
	start := 0
	plain := true // the word has no quotes or escapes, so Text == Raw == a substring
	flush := func(end int) {
		if inWord {
			tok := Token{Kind: TokWord, Pos: Pos{File: pos.File, Line: pos.Line, Col: pos.Col + start}}
			if plain {
				tok.Text, tok.Raw = s[start:end], s[start:end]
			} else {
				tok.Text, tok.Raw = text.String(), raw.String()
			}
			out = append(out, tok)
		}
		plain = true
		text.Reset()
		raw.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
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
			kind := TokOpen
			if c == '}' {
				kind = TokClose
			}
			out = append(out, Token{Kind: kind, Text: string(c), Raw: string(c), Pos: Pos{File: pos.File, Line: pos.Line, Col: pos.Col + i}})
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
				lx.diags.Errorf(Pos{File: pos.File, Line: pos.Line, Col: pos.Col + i}, "unterminated quoted string")
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
	return out
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

// include expands globs (with csh braces) relative to the including file.
func (lx *lexer) include(line string, pos Pos) {
	args := splitArgs(line)
	if len(args) < 2 {
		lx.diags.Errorf(pos, "include needs a file name")
		return
	}
	for _, arg := range args[1:] {
		w := Token{Text: arg, Pos: pos}
		pattern := w.Text
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(lx.pwd, pattern)
		}
		var matches []string
		for _, p := range expandBraces(pattern) {
			ms, err := lx.fs.Glob(p)
			if err != nil {
				lx.diags.Errorf(w.Pos, "bad include pattern %q: %v", w.Text, err)
				continue
			}
			matches = append(matches, ms...)
		}
		if len(matches) == 0 {
			// keepalived logs and carries on; so does lvsd, as a warning.
			lx.diags.Warnf(w.Pos, "include %q matches no file", w.Text)
			continue
		}
		for _, m := range matches {
			lx.readFile(m, w.Pos)
		}
	}
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
