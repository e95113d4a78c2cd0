package check

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestSpecHoldsEveryField: every field of config.Checker but its source
// position changes the checker's Spec (so that the probe key, which is the
// Spec less the tracker's fields, keeps apart checkers that differ in any
// field added later), and a position alone does not.
func TestSpecHoldsEveryField(t *testing.T) {
	rs := &config.RealServer{Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	base := func() *config.Checker {
		return &config.Checker{Type: config.CheckTCP, ConnectTimeout: 5 * time.Second, Retry: 1,
			Ext: &config.CheckerExtra{URLs: []config.URL{{Path: "/", StatusCodes: [][2]int{{200, 299}}}},
				MiscPath: &config.Script{Argv: []string{"/bin/true"}}}}
	}
	want := SpecOf(base(), nil, rs)
	// The fields of the checker and of its type-specific part (Ext).
	type field struct {
		reflect.StructField
		ext bool
	}
	var fields []field
	for _, f := range reflect.VisibleFields(reflect.TypeOf(config.Checker{})) {
		if f.IsExported() && f.Name != "Ext" {
			fields = append(fields, field{f, false})
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(config.CheckerExtra{})) {
		if f.IsExported() {
			fields = append(fields, field{f, true})
		}
	}
	for _, f := range fields {
		c := base()
		v := reflect.ValueOf(c).Elem().FieldByIndex(f.Index)
		if f.ext {
			v = reflect.ValueOf(c.Ext).Elem().FieldByIndex(f.Index)
		}
		switch x := v.Addr().Interface().(type) {
		case *config.Pos:
			x.Line = 99
			if SpecOf(c, nil, rs) != want {
				t.Errorf("%s changes the spec", f.Name)
			}
			continue
		case *netip.Addr:
			*x = netip.MustParseAddr("198.51.100.7")
		case *time.Duration:
			*x += 7
		case *[]byte:
			*x = []byte{}
		case *[]config.URL:
			(*x)[0].Virtualhost = "v"
		case **config.Script:
			(*x).User = "nobody"
		case *config.CheckerType:
			*x = config.CheckDNS
		default:
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x")
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Int, reflect.Int64:
				v.SetInt(v.Int() + 3)
			case reflect.Uint16, reflect.Uint32:
				v.SetUint(v.Uint() + 3)
			default:
				t.Fatalf("%s: no mutation for %s", f.Name, f.Type)
			}
		}
		if SpecOf(c, nil, rs) == want {
			t.Errorf("changing Checker.%s does not change its Spec", f.Name)
		}
	}
}

// identityCases are, for each checker type, a base checker, the changes
// keepalived 2.2.7's compare function for the type sees (the checker is a
// new one after a reload) and some it does not (it keeps its state):
// check_api.c compare_conn_opts, check_http.c compare_http_check,
// check_misc.c compare_misc_check, check_smtp.c compare_smtp_check,
// check_dns.c compare_dns_check, check_udp.c/check_ping.c (connection
// options alone), check_bfd.c compare_bfd_check.
type mutation struct {
	name string
	mod  func(c *config.Checker)
}

var connMutations = []mutation{
	{"connect_ip", func(c *config.Checker) { c.ConnectIP = netip.MustParseAddr("127.0.0.9") }},
	{"connect_port", func(c *config.Checker) { c.ConnectPort++ }},
	{"bindto", func(c *config.Checker) { c.BindTo = netip.MustParseAddr("127.0.0.1") }},
	{"bind_port", func(c *config.Checker) { c.BindPort = 4000 }},
	{"bind_if", func(c *config.Checker) { c.BindIf = "lo" }},
	{"connect_timeout", func(c *config.Checker) { c.ConnectTimeout += time.Second }},
	{"fwmark", func(c *config.Checker) { c.FWMark = 7 }},
}

var commonKept = []mutation{
	{"retry", func(c *config.Checker) { c.Retry += 2 }},
	{"delay_loop", func(c *config.Checker) { c.DelayLoop += time.Second }},
	{"delay_before_retry", func(c *config.Checker) { c.DelayBeforeRetry += time.Second }},
	{"warmup", func(c *config.Checker) { c.Warmup += time.Second }},
	{"log_all_failures", func(c *config.Checker) { c.LogAllFailures = true }},
}

func identityCases() []struct {
	name      string
	base      func() *config.Checker
	fresh     []mutation
	kept      []mutation
	noConnOpt bool
} {
	conn := func(typ config.CheckerType) func() *config.Checker {
		return func() *config.Checker {
			return &config.Checker{Type: typ, ConnectPort: 8080, ConnectTimeout: 2 * time.Second, Retry: 1,
				DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
		}
	}
	http := func(typ config.CheckerType) func() *config.Checker {
		return func() *config.Checker {
			c := conn(typ)()
			c.MutExtra().URLs = []config.URL{{Path: "/", StatusCodes: [][2]int{{200, 299}}}}
			return c
		}
	}
	urlMut := func(name string, f func(u *config.URL)) mutation {
		return mutation{name, func(c *config.Checker) {
			c.MutExtra().URLs = append([]config.URL(nil), c.MutExtra().URLs...)
			f(&c.Extra().URLs[0])
		}}
	}
	httpFresh := append([]mutation{
		{"virtualhost", func(c *config.Checker) { c.Virtualhost = "www" }},
		{"second url", func(c *config.Checker) { c.MutExtra().URLs = append(c.MutExtra().URLs, config.URL{Path: "/b"}) }},
		urlMut("url path", func(u *config.URL) { u.Path = "/x" }),
		urlMut("url digest", func(u *config.URL) { u.Digest = "0123456789abcdef0123456789abcdef" }),
		urlMut("url status_code", func(u *config.URL) { u.StatusCodes = [][2]int{{200, 200}} }),
		urlMut("url virtualhost", func(u *config.URL) { u.Virtualhost = "www" }),
		urlMut("url regex", func(u *config.URL) { u.Regex = "ok" }),
		{"type TCP_CHECK", func(c *config.Checker) { c.Type = config.CheckTCP }},
	}, connMutations...)
	httpKept := append([]mutation{
		// The same set of status codes written otherwise (a bitmap in
		// keepalived).
		urlMut("url status_code split", func(u *config.URL) { u.StatusCodes = [][2]int{{250, 299}, {200, 249}} }),
		{"http_protocol", func(c *config.Checker) { c.HTTPProtocol = "1.1" }},
		{"enable_sni", func(c *config.Checker) { c.EnableSNI = true }},
		{"fast_recovery", func(c *config.Checker) { c.FastRecovery = true }},
	}, commonKept...)
	misc := func() *config.Checker {
		return &config.Checker{Type: config.CheckMisc, Ext: &config.CheckerExtra{MiscPath: &config.Script{Argv: []string{"/bin/check", "a"}}},
			MiscTimeout: time.Second, Retry: 0, DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
	}
	bfdc := func() *config.Checker {
		return &config.Checker{Type: config.CheckBFD, Ext: &config.CheckerExtra{BFD: "b1"}, DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
	}
	return []struct {
		name      string
		base      func() *config.Checker
		fresh     []mutation
		kept      []mutation
		noConnOpt bool
	}{
		{name: "TCP_CHECK", base: conn(config.CheckTCP), fresh: append([]mutation{
			{"type UDP_CHECK", func(c *config.Checker) { c.Type = config.CheckUDP }}}, connMutations...), kept: commonKept},
		{name: "HTTP_GET", base: http(config.CheckHTTP), fresh: httpFresh, kept: append([]mutation{
			// keepalived's CHECKER_HTTP is both.
			{"type SSL_GET", func(c *config.Checker) { c.Type = config.CheckSSL }}}, httpKept...)},
		{name: "SSL_GET", base: http(config.CheckSSL), fresh: httpFresh, kept: httpKept},
		{name: "SMTP_CHECK", base: func() *config.Checker { c := conn(config.CheckSMTP)(); c.MutExtra().HeloName = "h"; return c },
			fresh: append([]mutation{{"helo_name", func(c *config.Checker) { c.MutExtra().HeloName = "other" }}}, connMutations...), kept: commonKept},
		{name: "DNS_CHECK", base: func() *config.Checker { c := conn(config.CheckDNS)(); c.MutExtra().DNSType = "SOA"; return c },
			fresh: append([]mutation{{"type", func(c *config.Checker) { c.MutExtra().DNSType = "A" }}, {"name", func(c *config.Checker) { c.MutExtra().DNSName = "x." }}}, connMutations...),
			kept:  commonKept},
		{name: "UDP_CHECK", base: conn(config.CheckUDP), fresh: connMutations, kept: append([]mutation{
			{"payload", func(c *config.Checker) { c.MutExtra().Payload = []byte("hi") }},
			{"require_reply", func(c *config.Checker) { c.MutExtra().RequireReply = true }},
			{"min_reply_length", func(c *config.Checker) { c.MutExtra().MinReplyLen = 3 }},
		}, commonKept...)},
		{name: "PING_CHECK", base: conn(config.CheckPing), fresh: connMutations, kept: commonKept},
		{name: "MISC_CHECK", base: misc, noConnOpt: true, fresh: []mutation{
			{"misc_path", func(c *config.Checker) { c.MutExtra().MiscPath = &config.Script{Argv: []string{"/bin/check", "b"}} }},
			{"misc_dynamic", func(c *config.Checker) { c.MutExtra().MiscDynamic = true }},
		}, kept: append([]mutation{
			{"misc_timeout", func(c *config.Checker) { c.MiscTimeout = 2 * time.Second }},
			{"user", func(c *config.Checker) {
				c.MutExtra().MiscPath = &config.Script{Argv: c.MutExtra().MiscPath.Argv, User: "nobody"}
			}},
			// keepalived's MISC_CHECK has no connection options.
			{"connect_port", func(c *config.Checker) { c.ConnectPort = 99 }},
		}, commonKept...)},
		{name: "BFD_CHECK", base: bfdc, noConnOpt: true, fresh: []mutation{
			{"bfd_instance", func(c *config.Checker) { c.MutExtra().BFD = "b2" }},
		}, kept: append([]mutation{{"connect_timeout", func(c *config.Checker) { c.ConnectTimeout = time.Second }}}, commonKept...)},
	}
}

func reloadConfig(checkers ...*config.Checker) *config.Config {
	vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP, Quorum: 1}
	rs := &config.RealServer{Addr: netip.MustParseAddr("127.0.0.1"), Port: 80, Weight: 1, Checkers: checkers}
	vs.RealServers = []*config.RealServer{rs}
	return &config.Config{VirtualServers: []*config.VirtualServer{vs}}
}

func okRunner(context.Context, *config.Script, ...string) (int, error) { return 0, nil }

// feed hands n results of the checker at index i to m.
func feed(t *testing.T, m *Manager, i int, ok bool, n int) {
	t.Helper()
	for range n {
		m.mu.Lock()
		var st *checkState
		for k, s := range m.checks {
			if k.Index == i {
				st = s
			}
		}
		m.mu.Unlock()
		if st == nil {
			t.Fatalf("no checker %d", i)
		}
		var err error
		if !ok {
			err = errors.New("refused")
		}
		m.handle(result{st: st, ok: ok, weight: -1, err: err, at: time.Now()})
	}
}

func trackerOf(m *Manager, i int) tracker {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.checks {
		if k.Index == i {
			return s.tr
		}
	}
	panic(i)
}

func rsUp(m *Manager, cfg *config.Config) bool {
	return m.Snapshot().RealServerUp(cfg.VirtualServers[0], cfg.VirtualServers[0].RealServers[0])
}

// TestReloadIdentity: at reload a checker keeps the state of the real
// server's checker whose identity it has (the type and what keepalived's
// compare function for the type compares), whatever else changed; a
// change keepalived compares makes it a new checker, which starts by
// keepalived's rules for new checkers (migrate_checkers): here, the real
// server's only checker had failed, so the new one starts up, needing
// one failure (retry_it = retry) — keepalived puts the real server back
// until then.
func TestReloadIdentity(t *testing.T) {
	for _, tc := range identityCases() {
		run := func(name string, mod func(*config.Checker), wantFresh bool) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				base := tc.base()
				idBefore, ok := SpecOf(base, nil, reloadConfig().VirtualServers[0].RealServers[0]).Identity()
				if !ok {
					t.Fatal("no identity")
				}
				m := NewManager(nil, okRunner, 1, nil)
				cfg := reloadConfig(base)
				if err := m.Update(cfg, time.Now()); err != nil {
					t.Fatal(err)
				}
				feed(t, m, 0, false, 1) // start-up: one failure takes it down
				if rsUp(m, cfg) || !trackerOf(m, 0).hasRun {
					t.Fatal("not down after the first failure")
				}
				next := tc.base()
				mod(next)
				idAfter, _ := SpecOf(next, nil, reloadConfig().VirtualServers[0].RealServers[0]).Identity()
				if (idAfter != idBefore) != wantFresh {
					t.Errorf("identity changed %v, want %v", idAfter != idBefore, wantFresh)
				}
				cfg2 := reloadConfig(next)
				if err := m.Update(cfg2, time.Now()); err != nil {
					t.Fatal(err)
				}
				tr := trackerOf(m, 0)
				if wantFresh {
					if tr.hasRun || !tr.up || tr.failures != next.Retry || !rsUp(m, cfg2) {
						t.Errorf("a new checker: tracker %+v, real server up %v; want a fresh checker (up, retry_it = retry %d) and the real server up", tr, rsUp(m, cfg2), next.Retry)
					}
					return
				}
				if !tr.hasRun || tr.up || rsUp(m, cfg2) {
					t.Errorf("the same checker: tracker %+v, real server up %v; want its failed state kept", tr, rsUp(m, cfg2))
				}
			})
		}
		for _, mu := range tc.fresh {
			run("fresh "+mu.name, mu.mod, true)
		}
		for _, mu := range tc.kept {
			run("kept "+mu.name, mu.mod, false)
		}
	}
}

// TestReloadRetryClamp: a checker kept across a reload keeps the
// retries it has spent, clamped as keepalived's migrate_checkers does
// (old retry_it and new retry both set: min(retry_it, retry-1)); a new
// checker of a healthy real server starts with none spent.
func TestReloadRetryClamp(t *testing.T) {
	for _, tc := range []struct {
		name         string
		newRetry     int
		mod          func(c *config.Checker)
		failuresLeft int // failures that take the real server down after the reload
	}{
		{name: "larger retry keeps the count", newRetry: 5, failuresLeft: 3},
		{name: "same retry clamps to retry-1 (one failure more than without the reload, as in keepalived)", newRetry: 3, failuresLeft: 2},
		{name: "smaller retry clamps to retry-1", newRetry: 1, failuresLeft: 2},
		{name: "retry 0 resets", newRetry: 0, failuresLeft: 1},
		{name: "new checker (connect_timeout) starts afresh", newRetry: 3, failuresLeft: 4,
			mod: func(c *config.Checker) { c.ConnectTimeout = 3 * time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Checker{Type: config.CheckTCP, ConnectPort: 8080, ConnectTimeout: 2 * time.Second, Retry: 3,
				DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
			m := NewManager(nil, nil, 1, nil)
			if err := m.Update(reloadConfig(c), time.Now()); err != nil {
				t.Fatal(err)
			}
			feed(t, m, 0, true, 1)  // a verdict: up, nothing spent
			feed(t, m, 0, false, 3) // retry_it 3: the next failure takes it down
			if tr := trackerOf(m, 0); tr.failures != 3 || !tr.up {
				t.Fatalf("before the reload %+v", tr)
			}
			n := *c
			n.Retry = tc.newRetry
			if tc.mod != nil {
				tc.mod(&n)
			}
			cfg := reloadConfig(&n)
			if err := m.Update(cfg, time.Now()); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= tc.failuresLeft; i++ {
				if !rsUp(m, cfg) {
					t.Fatalf("down after %d failures, want %d (tracker %+v)", i-1, tc.failuresLeft, trackerOf(m, 0))
				}
				feed(t, m, 0, false, 1)
			}
			if rsUp(m, cfg) {
				t.Fatalf("still up after %d failures", tc.failuresLeft)
			}
		})
	}
}

// TestReloadReorderKeepsState: two checkers of one real server swapped in
// the configuration each keep their own state (matched by identity, not
// by position).
func TestReloadReorderKeepsState(t *testing.T) {
	mk := func(port uint16) *config.Checker {
		return &config.Checker{Type: config.CheckTCP, ConnectPort: port, ConnectTimeout: 2 * time.Second, Retry: 2,
			DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
	}
	m := NewManager(nil, nil, 1, nil)
	if err := m.Update(reloadConfig(mk(80), mk(81)), time.Now()); err != nil {
		t.Fatal(err)
	}
	feed(t, m, 0, false, 1) // port 80: down
	feed(t, m, 1, true, 1)  // port 81: up
	feed(t, m, 1, false, 1) // port 81: one retry spent
	cfg := reloadConfig(mk(81), mk(80))
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if tr := trackerOf(m, 0); !tr.up || !tr.hasRun || tr.failures != 1 {
		t.Errorf("port 81, now first: %+v, want up with one retry spent", tr)
	}
	if tr := trackerOf(m, 1); tr.up || !tr.hasRun {
		t.Errorf("port 80, now second: %+v, want down", tr)
	}
	if rsUp(m, cfg) {
		t.Error("the real server came up")
	}
}

// TestReloadNewCheckerRules: keepalived's rules for a checker that has
// not run, from the real server's checkers after the reload: a failed one
// (kept) makes a new alpha checker start down and needing one failure; a
// healthy real server's new checker starts up, alpha or not, with retry+1
// failures to go.
func TestReloadNewCheckerRules(t *testing.T) {
	mk := func(port uint16, alpha bool) *config.Checker {
		return &config.Checker{Type: config.CheckTCP, ConnectPort: port, ConnectTimeout: 2 * time.Second, Retry: 2,
			Alpha: alpha, DelayLoop: time.Hour, DelayBeforeRetry: time.Hour}
	}
	for _, tc := range []struct {
		name       string
		firstOK    bool
		alpha      bool
		wantUp     bool
		wantFailed int
	}{
		{"failed sibling, alpha", false, true, false, 2},
		{"failed sibling", false, false, true, 2},
		{"healthy sibling, alpha", true, true, true, 0},
		{"healthy sibling", true, false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager(nil, nil, 1, nil)
			if err := m.Update(reloadConfig(mk(80, false)), time.Now()); err != nil {
				t.Fatal(err)
			}
			feed(t, m, 0, tc.firstOK, 1)
			if err := m.Update(reloadConfig(mk(80, false), mk(81, tc.alpha)), time.Now()); err != nil {
				t.Fatal(err)
			}
			if tr := trackerOf(m, 1); tr.up != tc.wantUp || tr.failures != tc.wantFailed || tr.hasRun {
				t.Errorf("new checker %+v, want up %v with retry_it %d", tr, tc.wantUp, tc.wantFailed)
			}
		})
	}
}

// TestCheckerAlphaIsTheCheckers: a checker starts by its own alpha as
// config.Load resolves it (keepalived's checker->alpha: the checker's,
// else the real server's), not the real server's: "alpha off" in the
// checker of an alpha real server starts up, and the reverse starts down.
func TestCheckerAlphaIsTheCheckers(t *testing.T) {
	for _, tc := range []struct {
		rs, ck string
		up     bool
	}{
		{"alpha", "alpha off", true},
		{"", "alpha", false},
		{"alpha", "", false},
		{"", "", true},
	} {
		cfg := labtest.Config(t, "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 127.0.0.1 80 {\n "+tc.rs+
			"\n TCP_CHECK {\n connect_timeout 1\n "+tc.ck+"\n }\n }\n}\n")
		m := NewManager(nil, nil, 1, nil)
		if err := m.Update(cfg, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := rsUp(m, cfg); got != tc.up {
			t.Errorf("real server %q, checker %q: starts up %v, want %v", tc.rs, tc.ck, got, tc.up)
		}
	}
}
