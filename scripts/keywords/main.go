// Command keywords extracts keepalived's configuration keyword table from
// its source: every install_keyword_root / install_keyword /
// install_sublevel call reached from the four processes' keyword
// initialisers (global_init_keywords, vrrp_init_keywords,
// check_init_keywords, bfd_init_keywords), with the preprocessor
// conditions each sits under evaluated for one build's defines (Debian 12's
// keepalived 2.2.7 by default, as `keepalived -v` lists its options).
//
// Usage (from the repository root):
//
//	go run ./scripts/keywords -repo /work/.mirror/acassen+keepalived/repo -tag v2.2.7 \
//	    > internal/config/testdata/keywords/keepalived-2.2.7.tsv
//	go run ./scripts/keywords -verify internal/config/testdata/keywords/keepalived-2.2.7.tsv
//
// -verify checks a table against the installed keepalived binary: every
// keyword marked built must be known to `keepalived -t` at its block path,
// every keyword marked absent, and a made-up keyword in every block, must
// draw "Unknown keyword". It runs keepalived -t once per block (plain
// keywords together, each with a dummy value; blocks alone) or, with -one,
// once per keyword, inside a new network namespace (unshare -n), as root.
//
// The output is tab-separated: path, keyword, kind, built, condition.
// path is the block the keyword is written in ("/" for the top level,
// "virtual_server/real_server/HTTP_GET" for nested blocks); kind is
// "block" when keepalived installs keywords below it, "values" when its
// handler reads a free-form block of values (addresses, names), otherwise
// "keyword"; built is "yes" when the keyword is compiled into the build the
// defines describe, "no" otherwise; condition is the #if stack around the
// install call ("-" when none).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// debian12 is the set of macros defined in Debian 12's keepalived 2.2.7
// build: the configure options `keepalived -v` prints (NFTABLES LVS REGEX
// VRRP VRRP_AUTH VRRP_VMAC JSON BFD OLD_CHKSUM_COMPAT SNMP_* DBUS), its
// system options (VRRP_IPVLAN VRF SO_MARK ...), the defaults configure
// turns on unless disabled (track process, linkbeat: no DISABLE_TRACK_PROCESS
// / NO_LINKBEAT in the list) and the kernel and library headers' macros the
// parser files test. Not defined: _WITH_IPTABLES_ and _HAVE_LIBIPSET_
// (no IPTABLES/LIBIPSET option), _ONE_PROCESS_DEBUG_, WITH_HOST_ENTRIES,
// PCRE2_DONT_USE_JIT. -verify checks the result against the binary.
var debian12 = []string{
	"_WITH_VRRP_", "_WITH_LVS_", "_WITH_BFD_", "_WITH_VRRP_AUTH_", "_HAVE_VRRP_VMAC_",
	"_HAVE_VRRP_IPVLAN_", "_WITH_NFTABLES_", "_WITH_FIREWALL_", "_WITH_REGEX_CHECK_", "_WITH_JSON_",
	"_WITH_UNICAST_CHKSUM_COMPAT_", "_WITH_SNMP_", "_WITH_SNMP_KEEPALIVED_", "_WITH_SNMP_VRRP_",
	"_WITH_SNMP_CHECKER_", "_WITH_SNMP_RFC_", "_WITH_SNMP_RFCV2_", "_WITH_SNMP_RFCV3_",
	"_SNMP_REPLY_V3_FOR_V2_", "_WITH_DBUS_", "_WITH_TRACK_PROCESS_", "_WITH_LINKBEAT_", "_HAVE_VRF_",
	"_WITH_SO_MARK_", "_HAVE_SSL_SET_TLSEXT_HOST_NAME_", "IP_VS_SVC_F_SCHED1", "_HAVE_IPVS_TUN_TYPE_",
	"_HAVE_IPVS_TUN_CSUM_", "_HAVE_IPVS_TUN_GRE_", "_HAVE_IPVS_SYNCD_ATTRIBUTES_", "_WITH_LVS_64BIT_STATS_",
	"_HAVE_LIBNL3_", "_HAVE_IPV4_DEVCONF_", "_WITH_SYSTEMD_NOTIFY_", "HAVE_DECL_GLOB_ALTDIRFUNC",
	"HAVE_DECL_GLOB_BRACE", "_HAVE_FIB_ROUTING_", "_HAVE_INET6_ADDR_GEN_MODE_", "_WITH_REGEX_TIMERS_",
}

func main() {
	repo := flag.String("repo", "/work/.mirror/acassen+keepalived/repo", "keepalived git directory")
	tag := flag.String("tag", "v2.2.7", "keepalived version (git tag)")
	verify := flag.String("verify", "", "check this table against the installed keepalived (needs root)")
	bin := flag.String("keepalived", "keepalived", "keepalived binary for -verify")
	one := flag.Bool("one", false, "-verify with one keepalived -t per keyword (slow) instead of one per block")
	flag.Parse()
	if *verify != "" {
		if err := verifyTable(*verify, *bin, *one); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	defs := map[string]bool{}
	for _, d := range debian12 {
		defs[d] = true
	}
	rows, err := extract(*repo, *tag, defs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "# keepalived %s configuration keywords, per block, extracted from its source by scripts/keywords\n", *tag)
	fmt.Fprintf(w, "# (go run ./scripts/keywords -tag %s). Build: Debian 12 (defines: %s).\n", *tag, strings.Join(debian12, " "))
	fmt.Fprintf(w, "# path\tkeyword\tkind\tbuilt\tcondition\n")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.path, r.kw, r.kind, yesno(r.built), r.cond)
	}
	w.Flush()
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

type row struct {
	path, kw, kind, cond string
	built                bool
}

// ---- source reading ------------------------------------------------------

type token struct {
	text  string
	str   bool // a string literal (text is its contents)
	built bool // outside every false #if branch
	cond  string
}

type function struct {
	file   string
	name   string
	params []string
	body   []token // between the braces
	built  bool
}

type corpus struct {
	funcs map[string][]*function
}

func (c *corpus) lookup(name, file string) *function {
	var best *function
	for _, f := range c.funcs[name] {
		if best == nil || (f.file == file && best.file != file) || (f.file == best.file && f.built && !best.built) {
			best = f
		}
	}
	return best
}

func gitShow(repo, tag, path string) ([]byte, error) {
	return exec.Command("git", "-C", repo, "show", tag+":"+path).Output()
}

func extract(repo, tag string, defs map[string]bool) ([]row, error) {
	out, err := exec.Command("git", "-C", repo, "grep", "-l", "-e", "install_", "-e", "_keywords", "-e", "alloc_value_block", "-e", "read_value_block", tag, "--", "*.c").Output()
	if err != nil {
		return nil, fmt.Errorf("git grep: %v", err)
	}
	files := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path := strings.TrimPrefix(l, tag+":")
		src, err := gitShow(repo, tag, path)
		if err != nil {
			return nil, fmt.Errorf("git show %s: %v", path, err)
		}
		files[path] = string(src)
	}
	return extractFrom(files, defs)
}

// extractFrom builds the table from C sources by path.
func extractFrom(files map[string]string, defs map[string]bool) ([]row, error) {
	c := &corpus{funcs: map[string][]*function{}}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		fileDefs := map[string]bool{}
		for k, v := range defs {
			fileDefs[k] = v
		}
		toks := tokenize(preprocess(stripComments(files[path]), fileDefs))
		for _, f := range functions(path, toks) {
			c.funcs[f.name] = append(c.funcs[f.name], f)
		}
	}
	t := &tree{root: &node{}}
	installCache = map[*function]bool{}
	for _, entry := range []string{"global_init_keywords", "vrrp_init_keywords", "check_init_keywords", "bfd_init_keywords"} {
		f := c.lookup(entry, "")
		if f == nil {
			return nil, fmt.Errorf("%s not found", entry)
		}
		in := &interp{c: c, t: t}
		in.run(f, nil, true, "")
	}
	var rows []row
	var walk func(n *node, path string)
	walk = func(n *node, path string) {
		for _, ch := range n.children {
			kind := "keyword"
			if len(ch.children) > 0 {
				kind = "block"
			} else if ch.values {
				kind = "values"
			}
			cond := ch.cond
			if cond == "" {
				cond = "-"
			}
			rows = append(rows, row{path: path, kw: ch.name, kind: kind, built: ch.built, cond: cond})
			sub := ch.name
			if path != "/" {
				sub = path + "/" + ch.name
			}
			walk(ch, sub)
		}
	}
	walk(t.root, "/")
	return rows, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			b.WriteByte(q)
			for i++; i < len(s) && s[i] != q; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					b.WriteByte(s[i])
					i++
				}
				b.WriteByte(s[i])
			}
			if i < len(s) {
				b.WriteByte(q)
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			// keep line numbers
			b.WriteString(strings.Repeat("\n", strings.Count(s[i:i+2+end], "\n")))
			b.WriteByte(' ')
			i += end + 3
		case strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
			if i < len(s) {
				b.WriteByte('\n')
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

type line struct {
	text  string
	built bool
	cond  string
}

// preprocess evaluates #if/#ifdef/#ifndef/#elif/#else/#endif against defs;
// every line is kept, with whether it is compiled and the conditions it
// sits under.
func preprocess(src string, defs map[string]bool) []line {
	type frame struct {
		parentBuilt bool
		taken       bool // some branch already true
		active      bool
		cond        string
	}
	var stack []frame
	built := func() bool {
		for _, f := range stack {
			if !f.active {
				return false
			}
		}
		return true
	}
	conds := func() string {
		var parts []string
		for _, f := range stack {
			parts = append(parts, f.cond)
		}
		return strings.Join(parts, " && ")
	}
	raw := strings.Split(src, "\n")
	var out []line
	for i := 0; i < len(raw); i++ {
		l := raw[i]
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "#") {
			out = append(out, line{text: l, built: built(), cond: conds()})
			continue
		}
		for strings.HasSuffix(t, "\\") && i+1 < len(raw) {
			i++
			t = strings.TrimSuffix(t, "\\") + " " + strings.TrimSpace(raw[i])
		}
		d := strings.TrimSpace(strings.TrimPrefix(t, "#"))
		word, rest, _ := strings.Cut(d, " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "ifdef":
			v := defs[rest]
			stack = append(stack, frame{taken: v, active: v, cond: "defined " + rest})
		case "ifndef":
			v := !defs[rest]
			stack = append(stack, frame{taken: v, active: v, cond: "!defined " + rest})
		case "if":
			v := evalCond(rest, defs)
			stack = append(stack, frame{taken: v, active: v, cond: "(" + rest + ")"})
		case "elif":
			if n := len(stack); n > 0 {
				f := &stack[n-1]
				v := !f.taken && evalCond(rest, defs)
				f.active = v
				f.taken = f.taken || v
				f.cond = "(" + rest + ")"
			}
		case "else":
			if n := len(stack); n > 0 {
				f := &stack[n-1]
				f.active = !f.taken
				f.taken = true
				f.cond = "!(" + f.cond + ")"
			}
		case "endif":
			if n := len(stack); n > 0 {
				stack = stack[:n-1]
			}
		case "define", "undef":
			// a file's own #define (check_smtp.c defines WITH_HOST_ENTRIES)
			if built() {
				name, _, _ := strings.Cut(rest, " ")
				name, _, _ = strings.Cut(name, "(")
				defs[name] = word == "define"
			}
		}
		out = append(out, line{built: built(), cond: conds()}) // keep numbering
	}
	return out
}

// evalCond evaluates a #if expression: defined X, defined(X), !, &&, ||,
// parentheses, integers, comparisons; a macro is 1 when defined, else 0.
func evalCond(expr string, defs map[string]bool) bool {
	p := &condParser{toks: condTokens(expr), defs: defs}
	return p.or() != 0
}

func condTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case isIdent(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||") || strings.HasPrefix(s[i:], "==") ||
			strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], ">=") || strings.HasPrefix(s[i:], "<="):
			out = append(out, s[i:i+2])
			i += 2
		default:
			out = append(out, string(c))
			i++
		}
	}
	return out
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type condParser struct {
	toks []string
	i    int
	defs map[string]bool
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}
func (p *condParser) next() string { t := p.peek(); p.i++; return t }

func (p *condParser) or() int64 {
	v := p.and()
	for p.peek() == "||" {
		p.next()
		r := p.and()
		if v != 0 || r != 0 {
			v = 1
		} else {
			v = 0
		}
	}
	return v
}

func (p *condParser) and() int64 {
	v := p.cmp()
	for p.peek() == "&&" {
		p.next()
		r := p.cmp()
		if v != 0 && r != 0 {
			v = 1
		} else {
			v = 0
		}
	}
	return v
}

func (p *condParser) cmp() int64 {
	v := p.unary()
	for {
		op := p.peek()
		switch op {
		case "==", "!=", ">=", "<=", ">", "<":
			p.next()
			r := p.unary()
			var b bool
			switch op {
			case "==":
				b = v == r
			case "!=":
				b = v != r
			case ">=":
				b = v >= r
			case "<=":
				b = v <= r
			case ">":
				b = v > r
			case "<":
				b = v < r
			}
			v = 0
			if b {
				v = 1
			}
		default:
			return v
		}
	}
}

func (p *condParser) unary() int64 {
	switch t := p.next(); {
	case t == "!":
		if p.unary() == 0 {
			return 1
		}
		return 0
	case t == "(":
		v := p.or()
		p.next() // ")"
		return v
	case t == "defined":
		name := p.next()
		paren := name == "("
		if paren {
			name = p.next()
			p.next()
		}
		if p.defs[name] {
			return 1
		}
		return 0
	case t != "" && t[0] >= '0' && t[0] <= '9':
		v, _ := strconv.ParseInt(strings.TrimRight(t, "uUlL"), 0, 64)
		return v
	default:
		if p.peek() == "(" { // function-like macro we do not know
			depth := 0
			for {
				x := p.next()
				if x == "(" {
					depth++
				} else if x == ")" {
					depth--
					if depth == 0 {
						break
					}
				} else if x == "" {
					break
				}
			}
			return 0
		}
		if p.defs[t] {
			return 1
		}
		return 0
	}
}

func tokenize(lines []line) []token {
	var out []token
	for _, l := range lines {
		s := l.text
		for i := 0; i < len(s); {
			c := s[i]
			switch {
			case c == ' ' || c == '\t' || c == '\r':
				i++
			case c == '"':
				j := i + 1
				var b strings.Builder
				for j < len(s) && s[j] != '"' {
					if s[j] == '\\' && j+1 < len(s) {
						j++
					}
					b.WriteByte(s[j])
					j++
				}
				out = append(out, token{text: b.String(), str: true, built: l.built, cond: l.cond})
				i = j + 1
			case c == '\'':
				j := i + 1
				for j < len(s) && s[j] != '\'' {
					if s[j] == '\\' {
						j++
					}
					j++
				}
				out = append(out, token{text: "'c'", built: l.built, cond: l.cond})
				i = j + 1
			case isIdent(c):
				j := i
				for j < len(s) && isIdent(s[j]) {
					j++
				}
				out = append(out, token{text: s[i:j], built: l.built, cond: l.cond})
				i = j
			default:
				out = append(out, token{text: string(c), built: l.built, cond: l.cond})
				i++
			}
		}
	}
	return out
}

// functions finds top-level definitions: NAME ( PARAMS ) { BODY }.
func functions(file string, toks []token) []*function {
	var out []*function
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.text {
		case "{":
			if t.str {
				continue
			}
			if depth == 0 && i > 0 && toks[i-1].text == ")" && !toks[i-1].str {
				// find the matching "(" and the name before it
				pd := 0
				j := i - 1
				for ; j >= 0; j-- {
					if toks[j].str {
						continue
					}
					if toks[j].text == ")" {
						pd++
					} else if toks[j].text == "(" {
						pd--
						if pd == 0 {
							break
						}
					}
				}
				if j > 0 && isIdent(toks[j-1].text[0]) && !toks[j-1].str {
					f := &function{file: file, name: toks[j-1].text, built: toks[j-1].built}
					for _, p := range splitArgs(toks[j+1 : i-1]) {
						if len(p) > 0 {
							f.params = append(f.params, p[len(p)-1].text)
						}
					}
					// body
					bd := 0
					k := i
					for ; k < len(toks); k++ {
						if toks[k].str {
							continue
						}
						if toks[k].text == "{" {
							bd++
						} else if toks[k].text == "}" {
							bd--
							if bd == 0 {
								break
							}
						}
					}
					if k >= len(toks) {
						k = len(toks) - 1
					}
					f.body = toks[i+1 : k]
					out = append(out, f)
					i = k
					continue
				}
			}
			depth++
		case "}":
			if !t.str && depth > 0 {
				depth--
			}
		}
	}
	return out
}

// splitArgs splits tokens at top-level commas.
func splitArgs(toks []token) [][]token {
	var out [][]token
	var cur []token
	depth := 0
	for _, t := range toks {
		if !t.str {
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case ",":
				if depth == 0 {
					out = append(out, cur)
					cur = nil
					continue
				}
			}
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 || len(out) > 0 {
		out = append(out, cur)
	}
	return out
}

// ---- interpretation --------------------------------------------------------

type node struct {
	name     string
	children []*node
	built    bool
	values   bool
	cond     string
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

type tree struct {
	root *node
}

// interp runs one process's keyword initialiser: install_keyword_root
// starts a root keyword, install_keyword adds below the last keyword at the
// current sublevel, install_sublevel/install_sublevel_end move down and up.
type interp struct {
	c        *corpus
	t        *tree
	sublevel int
	lastRoot *node
	// parents[s] is where install_keyword at sublevel s attaches: the
	// last keyword installed at depth s below the last root.
	parents []*node
	depth   int
}

func (in *interp) add(parent *node, name string, built bool, cond, file string, handler []token) *node {
	n := parent.child(name)
	if n == nil {
		n = &node{name: name, built: built, cond: cond}
		parent.children = append(parent.children, n)
	} else if built && !n.built {
		n.built, n.cond = true, cond
	}
	if !n.values && in.readsValues(handler, file, 0) {
		n.values = true
	}
	return n
}

// readsValues reports whether the handler named in args reads a free-form
// block (alloc_value_block / read_value_block), directly or through a
// helper.
func (in *interp) readsValues(handler []token, file string, depth int) bool {
	if depth > 2 {
		return false
	}
	for _, t := range handler {
		if t.str || !isIdent(t.text[0]) {
			continue
		}
		f := in.c.lookup(t.text, file)
		if f == nil {
			continue
		}
		for i, b := range f.body {
			if !b.built || b.str {
				continue
			}
			if b.text == "alloc_value_block" || b.text == "read_value_block" {
				return true
			}
			if depth < 2 && i+1 < len(f.body) && f.body[i+1].text == "(" && isIdent(b.text[0]) && b.text != f.name {
				if in.readsValues([]token{b}, f.file, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

// at returns the node new keywords attach to: the last keyword at each
// sublevel below the last root.
func (in *interp) at() *node {
	if in.sublevel < 0 || in.sublevel >= len(in.parents) {
		return nil
	}
	return in.parents[in.sublevel]
}

func (in *interp) run(f *function, args map[string]string, built bool, cond string) {
	in.depth++
	defer func() { in.depth-- }()
	if in.depth > 20 {
		return
	}
	in.block(f, f.body, args, built, cond)
}

func (in *interp) block(f *function, body []token, args map[string]string, built bool, cond string) {
	for i := 0; i < len(body); i++ {
		t := body[i]
		if t.str {
			continue
		}
		if t.text == "if" && i+1 < len(body) && body[i+1].text == "(" {
			end := matchParen(body, i+1)
			condToks := body[i+2 : end]
			if v, known := evalRuntime(condToks, args); known {
				stEnd := statementEnd(body, end+1)
				if v {
					in.block(f, body[end+1:stEnd], args, built, cond)
				}
				i = stEnd - 1
				if stEnd < len(body) && body[stEnd].text == "else" {
					elseEnd := statementEnd(body, stEnd+1)
					if !v {
						in.block(f, body[stEnd+1:elseEnd], args, built, cond)
					}
					i = elseEnd - 1
				}
				continue
			}
			i = end // run both branches
			continue
		}
		if !isIdent(t.text[0]) || i+1 >= len(body) || body[i+1].text != "(" {
			continue
		}
		end := matchParen(body, i+1)
		callArgs := splitArgs(body[i+2 : end])
		b := built && t.built
		c := joinCond(cond, t.cond)
		switch t.text {
		case "install_keyword_root":
			name := strArg(callArgs, 0, args)
			if name != "" {
				in.lastRoot = in.add(in.t.root, name, b, c, f.file, argTokens(callArgs, 1))
				in.parents = []*node{in.lastRoot}
				in.sublevel = 0
			}
		case "install_keyword", "install_keyword_conditional":
			name := strArg(callArgs, 0, args)
			if parent := in.at(); name != "" && parent != nil {
				n := in.add(parent, name, b, c, f.file, argTokens(callArgs, 1))
				in.parents = append(in.parents[:in.sublevel+1], n)
			}
		case "install_sublevel":
			in.sublevel++
		case "install_sublevel_end":
			in.sublevel--
		default:
			if g := in.c.lookup(t.text, f.file); g != nil && g != f && installs(in.c, g, 0) {
				bound := map[string]string{}
				for k, p := range g.params {
					if k < len(callArgs) {
						bound[p] = argValue(callArgs[k], args)
					}
				}
				in.run(g, bound, b, c)
			}
		}
		i = end
	}
}

func joinCond(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || strings.Contains(a, b):
		return a
	}
	return a + " && " + b
}

func argTokens(args [][]token, k int) []token {
	if k < len(args) {
		return args[k]
	}
	return nil
}

func strArg(args [][]token, k int, bound map[string]string) string {
	if k >= len(args) || len(args[k]) != 1 {
		return ""
	}
	t := args[k][0]
	if t.str {
		return t.text
	}
	if v, ok := bound[t.text]; ok && strings.HasPrefix(v, "\"") {
		return strings.Trim(v, "\"")
	}
	return ""
}

func argValue(toks []token, bound map[string]string) string {
	if len(toks) == 1 {
		t := toks[0]
		if t.str {
			return "\"" + t.text + "\""
		}
		if v, ok := bound[t.text]; ok {
			return v
		}
		return t.text
	}
	return ""
}

// evalRuntime evaluates "x" or "!x" where x is a parameter bound to true
// or false; anything else is unknown (both branches are installed).
func evalRuntime(toks []token, bound map[string]string) (bool, bool) {
	neg := false
	if len(toks) == 2 && toks[0].text == "!" {
		neg, toks = true, toks[1:]
	}
	if len(toks) != 1 {
		return false, false
	}
	switch bound[toks[0].text] {
	case "true":
		return !neg, true
	case "false":
		return neg, true
	}
	return false, false
}

func matchParen(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		if toks[j].str {
			continue
		}
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks) - 1
}

// statementEnd returns the index after the statement starting at i: a
// braced block or up to and including ';'.
func statementEnd(toks []token, i int) int {
	if i < len(toks) && toks[i].text == "{" {
		depth := 0
		for j := i; j < len(toks); j++ {
			if toks[j].str {
				continue
			}
			switch toks[j].text {
			case "{":
				depth++
			case "}":
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(toks)
	}
	for j := i; j < len(toks); j++ {
		if !toks[j].str && toks[j].text == ";" {
			return j + 1
		}
	}
	return len(toks)
}

var installCache = map[*function]bool{}

// installs reports whether f (transitively) calls an install primitive.
func installs(c *corpus, f *function, depth int) bool {
	if v, ok := installCache[f]; ok {
		return v
	}
	if depth > 8 {
		return false
	}
	installCache[f] = false
	for i, t := range f.body {
		if t.str || i+1 >= len(f.body) || f.body[i+1].text != "(" {
			continue
		}
		switch t.text {
		case "install_keyword_root", "install_keyword", "install_sublevel":
			installCache[f] = true
			return true
		}
		if g := c.lookup(t.text, f.file); g != nil && g != f && installs(c, g, depth+1) {
			installCache[f] = true
			return true
		}
	}
	return false
}

// ---- verification against the binary --------------------------------------

// blockOpeners is how -verify opens each block of a path: the keyword and
// the arguments keepalived needs to accept the block.
var blockOpeners = map[string]string{
	"vrrp_instance":        "vrrp_instance VI_1",
	"vrrp_sync_group":      "vrrp_sync_group SG_1",
	"vrrp_script":          "vrrp_script chk",
	"virtual_server":       "virtual_server 10.0.0.1 80",
	"virtual_server_group": "virtual_server_group G",
	"real_server":          "real_server 10.0.0.2 80",
	"bfd_instance":         "bfd_instance B",
	"track_file":           "track_file F",
	"vrrp_track_file":      "vrrp_track_file F",
	"vrrp_track_process":   "vrrp_track_process P",
	"garp_group":           "garp_group",
	"track_group":          "track_group T",
	"sorry_server":         "sorry_server 10.0.0.3 80",
}

func verifyTable(path, bin string, one bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	type item struct {
		path, kw, kind string
		built          bool
	}
	var items []item
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 4 {
			return fmt.Errorf("bad line %q", l)
		}
		items = append(items, item{f[0], f[1], f[2], f[3] == "yes"})
	}
	// Negative controls: a made-up keyword in every block path must draw
	// "Unknown keyword", or the block was not parsed at all and a "known"
	// verdict above would mean nothing.
	seen := map[string]bool{}
	for _, it := range items[:len(items):len(items)] {
		if !seen[it.path] && it.built {
			seen[it.path] = true
			items = append(items, item{it.path, "zz_not_a_keyword", "keyword", false})
		}
	}
	dir, err := os.MkdirTemp("", "kwverify")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// A job is one configuration: one keyword (-one), or every keyword of
	// one block path, each on a line of its own; the negative control
	// comes last, so a block whose parsing went astray shows.
	var jobs [][]item
	byPath := map[string]int{}
	for _, it := range items {
		if one || it.kind != "keyword" {
			// a block, or a block of values, alone: its handler may
			// read or skip what follows
			jobs = append(jobs, []item{it})
			continue
		}
		j, ok := byPath[it.path]
		if !ok {
			j = len(jobs)
			byPath[it.path] = j
			jobs = append(jobs, nil)
		}
		jobs[j] = append(jobs[j], it)
	}
	for _, job := range jobs {
		sort.SliceStable(job, func(a, b int) bool { return job[b].kw == "zz_not_a_keyword" && job[a].kw != "zz_not_a_keyword" })
	}
	var mu sync.Mutex
	var failures []string
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for k, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(k int, job []item) {
			defer wg.Done()
			defer func() { <-sem }()
			var b bytes.Buffer
			var closers int
			if p := job[0].path; p != "/" {
				for _, seg := range strings.Split(p, "/") {
					o, ok := blockOpeners[seg]
					if !ok {
						o = seg
					}
					fmt.Fprintf(&b, "%s {\n", o)
					closers++
				}
			}
			for _, it := range job {
				if len(job) > 1 {
					// keepalived stops reading the file at a keyword
					// missing its parameter; any value will do
					fmt.Fprintf(&b, "%s 1\n", it.kw)
				} else {
					fmt.Fprintf(&b, "%s\n", it.kw)
				}
			}
			b.WriteString(strings.Repeat("}\n", closers))
			file := fmt.Sprintf("%s/%d.conf", dir, k)
			if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
				panic(err)
			}
			out, _ := exec.Command("unshare", "-n", bin, "-t", "-f", file, "-l").CombinedOutput()
			for _, it := range job {
				unknown := bytes.Contains(out, []byte("Unknown keyword '"+it.kw+"'"))
				if unknown == it.built {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s: table says built=%v, keepalived -t says unknown=%v", it.path, it.kw, it.built, unknown))
					mu.Unlock()
				}
			}
		}(k, job)
	}
	wg.Wait()
	sort.Strings(failures)
	for _, f := range failures {
		fmt.Println(f)
	}
	fmt.Printf("%d keywords checked against %s (%d runs of keepalived -t), %d disagree\n", len(items), bin, len(jobs), len(failures))
	if len(failures) > 0 {
		return fmt.Errorf("table and binary disagree")
	}
	return nil
}
