package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// arg returns the single argument of n, diagnosing a missing one; extra
// arguments are a warning because keepalived ignores them.
func (b *builder) arg(n *Node) (Token, bool) {
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a value", n.Key)
		return Token{}, false
	}
	if len(n.Args) > 1 {
		b.d.Warnf(n.Args[1].Pos, "%s takes one value; ignoring %q and what follows", n.Key, n.Args[1].Text)
	}
	return n.Args[0], true
}

func (b *builder) intArg(n *Node, min, max int) (int, bool) {
	t, ok := b.arg(n)
	if !ok {
		return 0, false
	}
	return b.parseInt(n.Key, t, min, max)
}

func (b *builder) parseInt(what string, t Token, min, max int) (int, bool) {
	v, err := strconv.ParseInt(t.Text, 10, 64)
	if err != nil {
		b.d.Errorf(t.Pos, "%s: %q is not an integer", what, t.Text)
		return 0, false
	}
	if v < int64(min) || v > int64(max) {
		b.d.Errorf(t.Pos, "%s %d is out of range %d..%d", what, v, min, max)
		return 0, false
	}
	return int(v), true
}

// timerArg parses keepalived's <TIMER>: seconds, fractions allowed,
// microsecond resolution.
func (b *builder) timerArg(n *Node, min, max time.Duration) (time.Duration, bool) {
	t, ok := b.arg(n)
	if !ok {
		return 0, false
	}
	return b.parseTimer(n.Key, t, min, max)
}

func (b *builder) parseTimer(what string, t Token, min, max time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(t.Text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		b.d.Errorf(t.Pos, "%s: %q is not a time in seconds", what, t.Text)
		return 0, false
	}
	if f < min.Seconds() || f > max.Seconds() {
		b.d.Errorf(t.Pos, "%s %s is out of range %s..%s seconds", what, t.Text, trimFloat(min.Seconds()), trimFloat(max.Seconds()))
		return 0, false
	}
	return time.Duration(math.Round(f*1e6)) * time.Microsecond, true
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// boolArg handles keywords that are flags with an optional <BOOL>.
func (b *builder) boolArg(n *Node) (bool, bool) {
	if len(n.Args) == 0 {
		return true, true
	}
	switch strings.ToLower(n.Args[0].Text) {
	case "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	// keepalived 2.2.7's check_true_false knows only these six words (not
	// 1/0): its handlers log the value and leave the setting as it was.
	b.d.Skipf(n.Args[0].Pos, "%s: %q is not one of on|off|true|false|yes|no; left at its default, as keepalived 2.2.7 leaves it", n.Key, n.Args[0].Text)
	return false, false
}

func (b *builder) addr(what string, t Token) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.Text)
	if err != nil || a.Zone() != "" && !a.Is6() {
		b.d.Errorf(t.Pos, "%s: %q is not an IP address", what, t.Text)
		return netip.Addr{}, false
	}
	return a, true
}

func (b *builder) port(what string, t Token) (uint16, bool) {
	// The common case without building the name, which only a
	// diagnostic uses (a port per real server).
	if v, err := strconv.ParseUint(t.Text, 10, 16); err == nil {
		return uint16(v), true
	}
	v, ok := b.parseInt(what+" port", t, 0, 65535)
	return uint16(v), ok
}

// splitArgs splits a command line as keepalived does for scripts: unquoted
// whitespace separates arguments; single or double quotes group them;
// backslash escapes the next character.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// scriptLine is for keywords whose whole line is the command (vrrp_script
// "script", MISC_CHECK "misc_path").
func (b *builder) scriptLine(n *Node) *Script {
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a command", n.Key)
		return nil
	}
	argv := splitArgs(n.RawTail())
	// A single quoted argument holds the whole command line, as in
	// misc_path "/usr/local/bin/script.sh arg1 arg2".
	if len(n.Args) == 1 && len(argv) == 1 && strings.ContainsAny(n.Args[0].Raw, `"'`) {
		argv = splitArgs(n.Args[0].Text)
	}
	if len(argv) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a command", n.Key)
		return nil
	}
	return &Script{Argv: argv, Pos: n.Pos()}
}

// scriptWithUser is for notify-style keywords: <STRING>|<QUOTED-STRING>
// [username [groupname]].
func (b *builder) scriptWithUser(n *Node) *Script {
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a command", n.Key)
		return nil
	}
	argv := splitArgs(n.Args[0].Text)
	if len(argv) == 0 {
		b.d.Errorf(n.Args[0].Pos, "%s: empty command", n.Key)
		return nil
	}
	s := &Script{Argv: argv, Pos: n.Pos()}
	if len(n.Args) > 1 {
		s.User = n.Args[1].Text
	}
	if len(n.Args) > 2 {
		s.Group = n.Args[2].Text
	}
	if len(n.Args) > 3 {
		b.d.Errorf(n.Args[3].Pos, "%s: unexpected %q after user and group (quote the command if it has arguments)", n.Key, n.Args[3].Text)
	}
	return s
}

// editDistance is Levenshtein distance, for "did you mean".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keywordAliases are names operators write for a keyword of another
// software or an older keepalived; suggest offers the keyword when the
// block has it.
var keywordAliases = map[string][]string{
	"password": {"auth_pass"},
	"pass":     {"auth_pass"},
	"type":     {"auth_type"},
	"vrid":     {"virtual_router_id"},
	"vip":      {"virtual_ipaddress"},
	"vips":     {"virtual_ipaddress"},
	"prio":     {"priority"},
	"timeout":  {"connect_timeout"},
	"interval": {"advert_int"},
}

// suggest finds the known keyword the operator most likely meant.
func suggest(word string, known []string) string {
	lw := strings.ToLower(word)
	for _, alias := range keywordAliases[lw] {
		for _, k := range known {
			if k == alias {
				return k
			}
		}
	}
	// "type" for "auth_type": the word is the last component of one
	// keyword only.
	component := ""
	for _, k := range known {
		if len(lw) >= 4 && strings.HasSuffix(k, "_"+lw) {
			if component != "" {
				component = ""
				break
			}
			component = k
		}
	}
	if component != "" {
		return component
	}
	best, bestScore := "", 1<<30
	for _, k := range known {
		d := editDistance(lw, strings.ToLower(k))
		limit := 2
		if len(k) <= 4 {
			limit = 1
		}
		prefix := len(k) >= 4 && len(lw) >= 4 && (strings.HasPrefix(lw, k) || strings.HasPrefix(k, lw))
		if d > limit && !prefix {
			continue
		}
		score := d
		if prefix {
			score = min(score, len(lw)-len(k), len(k)-len(lw))
			if score < 0 {
				score = -score
			}
		}
		if score < bestScore || (score == bestScore && k < best) {
			best, bestScore = k, score
		}
	}
	return best
}
