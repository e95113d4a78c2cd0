package config

import (
	"fmt"
	"strings"
	"testing"
)

// words renders a token stream compactly: words joined by spaces, lines by " | ".
func words(tokens []Token) string {
	var b strings.Builder
	for _, t := range tokens {
		switch t.Kind {
		case TokEOL:
			b.WriteString("|")
		default:
			b.WriteString("[" + t.Text + "]")
		}
	}
	return b.String()
}

func lexString(t *testing.T, files MapFS, id string) (string, []Diagnostic) {
	t.Helper()
	d := &Diagnostics{}
	toks, _ := lex(files, "/etc/k/main.conf", id, d)
	return words(toks), d.Sorted()
}

func TestLexer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"comments", "a b ! c\n# whole\nd # e\n", "[a][b]|[d]|"},
		{"comment inside quotes kept", `s "x # y ! z"` + "\n", "[s][x # y ! z]|"},
		{"braces split from words", "vip {10.0.0.1}\n", "[vip][{][10.0.0.1][}]|"},
		{"crlf", "a b\r\nc\r\n", "[a][b]|[c]|"},
		{"quote inside word", `abcd" efg h jkl "mnop` + "\n", "[abcd efg h jkl mnop]|"},
		{"escapes in quotes", `x "a\tb\x41\101\"q"` + "\n", "[x][a\tbAA\"q]|"},
		{"definition and use", "$A=10.0.0\n$A.1\n${A}.1\n", "[$A.1]|[10.0.0.1]|"},
		{"definition followed by space", "$A=x\nv $A y\n", "[v][x][y]|"},
		{"lazy recursive", "$B=10.2.${S}\n$S=0\n${B}.100/32\n$S=10\n${B}.100/32\n", "[10.2.0.100/32]|[10.2.10.100/32]|"},
		{"undefined left alone", "x ${NOPE} $ALSO\n", "[x][${NOPE}][$ALSO]|"},
		{"multi-line definition", "$I= \\\n a 1 \\\n b 2\n$I\n", "[a][1]|[b][2]|"},
		{"conditional", "@host1 a\n@host2 b\n@^host2 c\n@^host1 d\n", "[a]|[c]|"},
		{"conditional definition", "@host1 $P=240\n@host2 $P=200\np $P\n", "[p][240]|"},
		{"parameter expanding to conditional", "$IF=@host1\n$IF p 1\n", "[p][1]|"},
		{"seq", "~SEQ(i, 0, 2) ip 10.0.${i}.1\n", "[ip][10.0.0.1]|[ip][10.0.1.1]|[ip][10.0.2.1]|"},
		{"seq end only", "~SEQ(i, 2) x$i\n", "[x1]|[x2]|"},
		{"seq descending", "~SEQ(i, 3, -1, 2) n ${i}\n", "[n][3]|[n][2]|"},
		{"seqx", "~SEQx(h, 0x90, 0x10, 0xa0) fe80::${h}\n", "[fe80::90]|[fe80::a0]|"},
		{"nested seq", "~SEQ(a,1,2) ~SEQ(b,1,2) ${a}.${b}\n", "[1.1]|[1.2]|[2.1]|[2.2]|"},
		{"lst", "~LST({X,Y}, {1,2},{3,4}) ${X}-${Y}\n", "[1-2]|[3-4]|"},
		{"predefined", "${_HASH} ${_BANG} ${_INSTANCE}\n", "[#][!][host1]|"},
		{"pwd", "p ${_PWD}\n", "[p][/etc/k]|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := lexString(t, MapFS{"/etc/k/main.conf": tt.in}, "host1")
			if got != tt.want {
				t.Errorf("tokens\n got %s\nwant %s", got, tt.want)
			}
			if len(diags) != 0 {
				t.Errorf("unexpected diagnostics: %v", diags)
			}
		})
	}
}

func TestLexerIncludes(t *testing.T) {
	files := MapFS{
		"/etc/k/main.conf":     "a\ninclude conf.d/*.conf\ninclude /etc/k/{x,y}.inc\nz\n",
		"/etc/k/conf.d/1.conf": "one\ninclude ../sub/s.conf\n",
		"/etc/k/conf.d/2.conf": "two\n",
		"/etc/k/sub/s.conf":    "sub\n",
		"/etc/k/x.inc":         "x\n",
		"/etc/k/y.inc":         "y\n",
	}
	got, diags := lexString(t, files, "h")
	if want := "[a]|[one]|[sub]|[two]|[x]|[y]|[z]|"; got != want {
		t.Errorf("got %s want %s", got, want)
	}
	if len(diags) != 0 {
		t.Errorf("diags: %v", diags)
	}
}

func TestLexerErrors(t *testing.T) {
	tests := []struct {
		name  string
		files MapFS
		want  string
	}{
		{"include cycle", MapFS{"/etc/k/main.conf": "include b.conf\n", "/etc/k/b.conf": "include main.conf\n"}, "include cycle"},
		{"self include", MapFS{"/etc/k/main.conf": "include main.conf\n"}, "include cycle"},
		{"long line", MapFS{"/etc/k/main.conf": "a " + strings.Repeat("x", 1100) + "\n"}, "keepalived reads at most 1024 bytes"},
		{"huge seq", MapFS{"/etc/k/main.conf": "~SEQ(i, 1, 1000000000) x\n"}, "the limit is"},
		{"nested seq blowup", MapFS{"/etc/k/main.conf": "~SEQ(a,1,1000) ~SEQ(b,1,1000) ~SEQ(c,1,1000) x\n"}, "more than"},
		{"self-referencing parameter", MapFS{"/etc/k/main.conf": "$A=${A}x\n${A}\n"}, "expansion"},
		{"exponential parameter", MapFS{"/etc/k/main.conf": "$A=xxxxxxxxxxxxxxxx\n$B=${A}${A}${A}${A}${A}${A}${A}${A}\n$C=${B}${B}${B}${B}${B}${B}${B}${B}\n$D=${C}${C}${C}${C}${C}${C}${C}${C}\n$E=${D}${D}${D}${D}${D}${D}${D}${D}\n${E}${E}\n"}, "longer than"},
		{"missing file", MapFS{}, "cannot read configuration"},
		{"unterminated quote", MapFS{"/etc/k/main.conf": "a \"b\n"}, "unterminated quoted string"},
		{"bad seq", MapFS{"/etc/k/main.conf": "~SEQ(i, x) y\n"}, "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := lexString(t, tt.files, "h")
			found := false
			for _, d := range diags {
				if strings.Contains(d.Message, tt.want) && d.Severity == SeverityError {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error containing %q, got %v", tt.want, diags)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := map[string][]string{
		`/bin/a b c`:               {"/bin/a", "b", "c"},
		`/bin/a 'b c' d`:           {"/bin/a", "b c", "d"},
		`bash -c '</dev/tcp/1/80'`: {"bash", "-c", "</dev/tcp/1/80"},
		`a "b \"c\"" d\ e`:         {"a", `b "c"`, "d e"},
	}
	for in, want := range tests {
		got := splitArgs(in)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("splitArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := instanceTable.names()
	for word, want := range map[string]string{
		"advert_interval":    "advert_int",
		"virtual_router_idd": "virtual_router_id",
		"priorty":            "priority",
		"virtual_ipadress":   "virtual_ipaddress",
		"zzzzzzzzzzz":        "",
	} {
		if got := suggest(word, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := suggest("auth_password", authTable.names()); got != "auth_pass" {
		t.Errorf("suggest(auth_password) = %q", got)
	}
}

// A configuration full of mistakes is reported in bounded time and
// memory: the first maxDiagnostics are kept, the rest counted under one
// closing line, and the count is still exact.
func TestDiagnosticsBounded(t *testing.T) {
	src := strings.Repeat("no_such_keyword 1\n", 5000)
	res := Load("/c.conf", Options{ConfigID: "x", FS: MapFS{"/c.conf": src}})
	sorted := res.Diags.Sorted()
	if len(sorted) != maxDiagnostics+1 {
		t.Fatalf("%d diagnostics shown, want %d and a summary", len(sorted), maxDiagnostics)
	}
	last := sorted[len(sorted)-1]
	if last.Severity != SeverityError || last.Pos.Line != maxDiagnostics+1 || !strings.Contains(last.Message, fmt.Sprintf("%d more errors", 5000-maxDiagnostics)) {
		t.Errorf("summary: %s", last)
	}
	if errs, warns := res.Diags.Count(); errs != 5000 || warns != 0 {
		t.Errorf("Count = %d errors, %d warnings; want 5000, 0", errs, warns)
	}
	if !res.Diags.HasErrors() || res.OK() {
		t.Error("a configuration with 5000 errors is OK")
	}
}

// TestPreprocKeepalived227 pins the pre-processor rules taken from
// keepalived 2.2.7's lib/parser.c (read_line, check_definition, add_seq,
// find_definition); each case's tokens are what keepalived's parser sees.
func TestPreprocKeepalived227(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// keepalived's running processes read its parent's copy of the
		// file, where a comment line is an empty line: it ends the
		// definition (keepalived -t's parent pass alone skips it).
		{"comment line ends a multi-line definition", "$D=a 1 \\\n b 2 \\\n# a comment\n c 3\n$D\n", "[c][3]|[a][1]|[b][2]|"},
		{"blank line ends a multi-line definition", "$D=a \\\n b \\\n   \nc\n$D\n", "[c]|[a]|[b]|"},
		{"multi-line definition at the end of a line", "$V=10.0.0.1 \\\n 10.0.0.2\nvirtual_ipaddress { $V\n}\n", "[virtual_ipaddress][{][10.0.0.1]|[10.0.0.2]|[}]|"},
		{"multi-line definition mid-line left as written", "$V=a \\\n b\nx $V y\n", "[x][$V][y]|"},
		{"seq arguments are parameters", "$FIRST=2\n$LAST=3\n~SEQ(i, $FIRST, $LAST) n $i\n", "[n][2]|[n][3]|"},
		{"seq braced parameter arguments", "$N=2\n~SEQ(i, ${N}) n $i\n", "[n][1]|[n][2]|"},
		{"parameter ended by comma and paren", "$A=1\n$B=2\nx $A,$B)\n", "[x][1,2)]|"},
		{"include with suffix is a keyword", "include_check\n", "[include_check]|"},
		{"include alone is a keyword", "include\n", "[include]|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := lexString(t, MapFS{"/etc/k/main.conf": tt.in}, "host1")
			if got != tt.want {
				t.Errorf("tokens\n got %s\nwant %s", got, tt.want)
			}
			if len(diags) != 0 {
				t.Errorf("unexpected diagnostics: %v", diags)
			}
		})
	}
}

// TestPreprocSkipped: what keepalived 2.2.7 logs and runs past is an
// error check-config fails on and lvsd run does not (Skipped), and the
// line is left out.
func TestPreprocSkipped(t *testing.T) {
	tests := []struct {
		name, in, want, msg string
	}{
		{"step never reaches the end", "~SEQ(i, 1, -1, 3) x$i\ny\n", "[y]|", "never goes"},
		{"zero step", "~SEQ(i, 1, 0, 3) x$i\ny\n", "[y]|", "never goes"},
		{"not a number", "~SEQ(i, x) y\nz\n", "[z]|", "not an integer"},
		{"seqx negative", "~SEQx(i, -3) y\nz\n", "[z]|", "positive"},
		{"malformed", "~SEQ i\nz\n", "[z]|", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := lexString(t, MapFS{"/etc/k/main.conf": tt.in}, "h")
			if got != tt.want {
				t.Errorf("tokens\n got %s\nwant %s", got, tt.want)
			}
			if len(diags) != 1 || !diags[0].Skipped || diags[0].Severity != SeverityError || !strings.Contains(diags[0].Message, tt.msg) {
				t.Errorf("want one skipped error %q, got %v", tt.msg, diags)
			}
		})
	}
}

// TestIncludeKinds: include, includer, includem, includew, includeb,
// includea and include_check, with keepalived 2.2.7's classes of problem
// (lib/parser.c open_and_check_glob): a checked class is a fatal error
// (keepalived exits), an unchecked one a warning and the files skipped.
func TestIncludeKinds(t *testing.T) {
	base := MapFS{"/etc/k/conf.d/a.conf": "a\n", "/etc/k/b.conf": "b\n"}
	tests := []struct {
		name, main string
		want       string
		fatal      bool   // an error that stops lvsd run
		warn       string // else a warning containing this ("" for none)
	}{
		{"include missing", "include none.conf\nz\n", "[z]|", false, "no such file"},
		{"includer missing", "includer none.conf\nz\n", "[z]|", false, "no such file"},
		{"includem missing", "includem none.conf\nz\n", "[z]|", true, ""},
		{"includem wildcard no match", "includem conf.d/*.none\nz\n", "[z]|", false, "matches no file"},
		{"includem wildcard missing directory", "includem nodir/*.conf\nz\n", "[z]|", true, ""},
		{"includew wildcard no match", "includew conf.d/*.none\nz\n", "[z]|", true, ""},
		{"include wildcard no match", "include conf.d/*.none\nz\n", "[z]|", false, "matches no file"},
		{"includeb one brace missing", "includeb {b,none}.conf\nz\n", "[z]|", true, ""},
		{"include one brace missing", "include {b,none}.conf\nz\n", "[b]|[z]|", false, "missing"},
		{"includem one brace missing", "includem {b,none}.conf\nz\n", "[b]|[z]|", false, "missing"},
		{"includeb all braces missing", "includeb {x,none}.conf\nz\n", "[z]|", true, ""},
		{"includem all braces missing", "includem {x,none}.conf\nz\n", "[z]|", false, "no such file"},
		{"includea wildcard", "includea conf.d/*.conf\nz\n", "[a]|[z]|", false, ""},
		{"includea missing", "includea none\nz\n", "[z]|", true, ""},
		{"include_check everything", "global_defs {\ninclude_check\n}\ninclude none.conf\n", "[global_defs][{]|[include_check]|[}]|", true, ""},
		{"include_check match only", "global_defs {\ninclude_check match\n}\ninclude conf.d/*.none\ninclude none.conf\n", "[global_defs][{]|[include_check][match]|[}]|", true, ""},
		{"include_check minus", "global_defs {\ninclude_check match -match\n}\ninclude none.conf\nz\n", "[global_defs][{]|[include_check][match][-match]|[}]|[z]|", false, "no such file"},
		{"include_check outside global_defs does nothing", "vrrp_instance x {\ninclude_check\n}\ninclude none.conf\n", "[vrrp_instance][x][{]|[include_check]|[}]|", false, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := MapFS{"/etc/k/main.conf": tt.main}
			for k, v := range base {
				files[k] = v
			}
			d := &Diagnostics{}
			toks, _ := lex(files, "/etc/k/main.conf", "h", d)
			if got := words(toks); got != tt.want {
				t.Errorf("tokens\n got %s\nwant %s", got, tt.want)
			}
			if d.HasFatal() != tt.fatal {
				t.Errorf("fatal=%v, want %v: %v", d.HasFatal(), tt.fatal, d.Sorted())
			}
			if !tt.fatal {
				var warns []string
				for _, x := range d.Sorted() {
					if x.Severity == SeverityWarning {
						warns = append(warns, x.Message)
					}
				}
				switch {
				case tt.warn == "" && len(warns) > 0:
					t.Errorf("unexpected warnings %v", warns)
				case tt.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tt.warn)):
					t.Errorf("want a warning %q, got %v", tt.warn, warns)
				}
			}
		})
	}
}
