package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// includeCheck is keepalived 2.2.7's include_t (lib/parser.c): which
// problems of an include are errors. An error of a class the include
// checks makes keepalived refuse to start (config_file_error, main.c exits
// with KEEPALIVED_EXIT_NO_CONFIG) and `keepalived -t` fail; a problem of a
// class it does not check is logged and the file (or the whole include)
// skipped, and keepalived starts.
type includeCheck uint8

const (
	// includeR: a match that is a directory, not a regular file, has an
	// execute bit set, or cannot be read.
	includeR includeCheck = 1 << iota
	// includeM: nothing matched because a name or a directory is missing.
	includeM
	// includeW: a wildcard matched nothing.
	includeW
	// includeB: some brace alternative is missing.
	includeB
)

// includeKinds maps the letter after "include" to what it checks:
// includer, includem, includew, includeb, includea.
var includeKinds = map[byte]includeCheck{
	'r': includeR,
	'm': includeR | includeM,
	'w': includeR | includeM | includeW,
	'b': includeR | includeB,
	'a': includeR | includeM | includeW | includeB,
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// parseInclude recognises an include line as keepalived's is_include and
// check_include do: "include" followed by a blank, or by one of r, m, w, b,
// a and a blank. The rest of the line, as written, is one glob pattern
// (keepalived neither splits it at blanks nor removes quotes).
func parseInclude(s string) (kind includeCheck, keyword, pattern string, ok bool) {
	if !strings.HasPrefix(s, "include") || len(s) < 9 {
		return 0, "", "", false
	}
	rest := ""
	switch {
	case isBlank(s[7]):
		keyword, rest = "include", s[8:]
	case isBlank(s[8]) && includeKinds[s[7]] != 0:
		kind, keyword, rest = includeKinds[s[7]], s[:8], s[9:]
	default:
		return 0, "", "", false
	}
	pattern = strings.TrimRight(strings.TrimLeft(rest, " \t"), " \t")
	if pattern == "" {
		return 0, "", "", false
	}
	return kind, keyword, pattern, true
}

// parseIncludeCheck applies global_defs' include_check to the current
// value, as keepalived's include_check_set: no argument checks everything;
// a word sets the classes (read always included), +word adds one, -word
// removes one. Bad words are reported and ignored.
func (lx *lexer) parseIncludeCheck(args []Token) {
	if len(args) == 0 {
		lx.includeCheck = includeR | includeM | includeW | includeB
		return
	}
	for i, a := range args {
		word, op := a.Text, 0
		switch {
		case strings.HasPrefix(word, "-"):
			word, op = word[1:], -1
		case strings.HasPrefix(word, "+"):
			word, op = word[1:], 1
		case i > 0:
			lx.skipf(a.Pos, "include_check: duplicate %q (only the first word may set the checks; use +%s or -%s); ignored, as keepalived ignores it", word, word, word)
			continue
		}
		var flag includeCheck
		switch word {
		case "read":
			flag = includeR
		case "match":
			flag = includeM
		case "wildcard_match":
			flag = includeW
		case "brace_match":
			flag = includeB
		default:
			lx.skipf(a.Pos, "include_check: unknown check %q (read, match, wildcard_match, brace_match); ignored, as keepalived ignores it", word)
			continue
		}
		switch op {
		case 0:
			lx.includeCheck = includeR | flag
		case 1:
			lx.includeCheck |= flag
		default:
			lx.includeCheck &^= flag
		}
	}
}

// haveBrace is keepalived's have_brace: an unescaped '{' in the pattern.
func haveBrace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			return true
		}
	}
	return false
}

// includeProblem reports a problem of class with an include: an error
// when the include (or include_check) checks that class, which makes
// keepalived 2.2.7 refuse the configuration; otherwise a warning, since
// keepalived logs it and goes on without the file.
func (lx *lexer) includeProblem(pos Pos, check, class includeCheck, format string, args ...any) bool {
	msg := fmt.Sprintf(format, args...)
	if check&class != 0 {
		lx.errorf(pos, "%s (keepalived 2.2.7 refuses to start on it too)", msg)
		return true
	}
	lx.warnf(pos, "%s; skipped, as keepalived 2.2.7 skips it", msg)
	return false
}

// include reads the files an include line names, with keepalived 2.2.7's
// semantics (lib/parser.c open_and_check_glob, check_glob_file,
// open_conf_file): the pattern is a glob with csh braces, relative to the
// including file's directory; matches are read in glob order; what is an
// error and what is skipped with a message depends on the include's kind
// and on include_check.
func (lx *lexer) include(kind includeCheck, keyword, arg string, pos Pos) {
	check := kind | lx.includeCheck
	pattern := arg
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(lx.pwd, pattern)
	}
	var matches []string
	var st globStats
	for _, p := range expandBraces(pattern) {
		ms, s, err := lx.glob(p)
		st.add(s)
		switch {
		case errors.Is(err, errGlobEntries):
			lx.fail(pos, "%s %q: the configuration's include patterns read more than %d directory entries (lvsd's limit)", keyword, arg, lx.b.GlobEntries)
			return
		case errors.Is(err, errGlobMatches):
			lx.fail(pos, "%s %q: the configuration reads more than %d files (lvsd's limit)", keyword, arg, lx.b.Files)
			return
		case err != nil:
			lx.includeProblem(pos, check, includeR, "%s: bad pattern %q: %v", keyword, arg, err)
			return
		}
		matches = append(matches, ms...)
	}
	missing := st.missingFiles + st.missingDirs
	if len(matches) == 0 {
		switch {
		case missing > 0:
			class := includeM
			if haveBrace(arg) {
				class = includeB
			}
			lx.includeProblem(pos, check, class, "%s %q: no such file", keyword, arg)
		case st.wildcards:
			lx.includeProblem(pos, check, includeW, "%s %q matches no file", keyword, arg)
		}
		return
	}
	if missing > 0 {
		if lx.includeProblem(pos, check, includeB, "%s %q: some of the files it names are missing", keyword, arg) {
			return // keepalived reads none of them
		}
	}
	for _, m := range matches {
		if mfs, ok := lx.fs.(interface {
			mode(string) (fs.FileMode, error)
		}); ok {
			mode, err := mfs.mode(m)
			switch {
			case err != nil:
				lx.includeProblem(pos, check, includeR, "%s: cannot read %s: %v", keyword, m, err)
				continue
			case !mode.IsRegular():
				lx.includeProblem(pos, check, includeR, "%s: %s %s", keyword, m, errNotRegular{mode})
				continue
			case mode&0o111 != 0:
				lx.includeProblem(pos, check, includeR, "%s: %s is executable; keepalived reads only regular non-executable files", keyword, m)
				continue
			}
		}
		lx.readIncluded(m, pos, check)
		if lx.aborted {
			return
		}
	}
}

// readIncluded reads one match of an include, restoring include_check
// afterwards: keepalived keeps an include_check set inside an included
// file only until that file ends.
func (lx *lexer) readIncluded(path string, pos Pos, check includeCheck) {
	saved := lx.includeCheck
	lx.includeReadCheck = check
	lx.readFile(path, pos)
	lx.includeCheck = saved
}

// glob runs one include pattern within what is left of the load's budget.
func (lx *lexer) glob(pattern string) ([]string, globStats, error) {
	maxMatches := lx.b.Files - len(lx.files)
	if bfs, ok := lx.fs.(boundedFS); ok {
		ms, st, err := bfs.globBounded(pattern, lx.b.GlobEntries-lx.globbed, maxMatches)
		lx.globbed += st.entries
		return ms, st, err
	}
	ms, err := lx.fs.Glob(pattern)
	lx.globbed += len(ms) + 1
	var st globStats
	if strings.ContainsAny(pattern, `*?[\`) {
		st.wildcards = true
	} else if len(ms) == 0 {
		st.missingFiles = 1
	}
	switch {
	case err != nil:
		return nil, st, err
	case lx.globbed > lx.b.GlobEntries:
		return nil, st, errGlobEntries
	case len(ms) > maxMatches:
		return nil, st, errGlobMatches
	}
	return ms, st, nil
}
