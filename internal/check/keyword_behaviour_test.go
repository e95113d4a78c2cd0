package check

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// Behaviour tests for checker keywords (issue 13): written in a
// configuration at each level keepalived 2.2.7 takes them (virtual_server,
// real_server, the checker block, url), each must reach the checker the
// manager runs with keepalived's meaning, and the connection keywords must
// change the connection the probe makes. Every parameter case also loads
// the configuration without the keyword and requires a different value,
// so no case passes by accident.

// kwConf is one virtual server with one real server and one checker;
// %VS%, %RS%, %CK% and %URL% take the lines under test.
const kwConf = `
virtual_server 10.0.0.1 80 {
  protocol TCP
  %VS%
  real_server 127.0.0.1 8080 {
    %RS%
    %TYPE% {
      %CK%
      %BODY%
    }
  }
}
`

// kwBody is what each checker type needs to be kept at all.
var kwBody = map[string]string{
	"TCP_CHECK":  "",
	"HTTP_GET":   "url {\n        path /\n        %URL%\n      }",
	"SSL_GET":    "url {\n        path /\n        %URL%\n      }",
	"MISC_CHECK": "misc_path /bin/true",
}

func kwConfig(t *testing.T, typ, level, line string) *config.Config {
	t.Helper()
	r := map[string]string{"%VS%": "", "%RS%": "", "%CK%": "", "%URL%": ""}
	r[level] = line
	s := strings.Replace(kwConf, "%BODY%", kwBody[typ], 1)
	s = strings.Replace(s, "%TYPE%", typ, 1)
	for k, v := range r {
		s = strings.Replace(s, k, v, 1)
	}
	return labtest.Config(t, s)
}

// TestCheckerKeywordParameters: each keyword, at each level, sets the
// checker parameter keepalived gives it; without it the parameter keeps
// keepalived's default (check_api.c, check_tcp.c, check_http.c,
// check_misc.c at v2.2.7), which differs.
func TestCheckerKeywordParameters(t *testing.T) {
	ck := func(c *config.Config) *config.Checker { return c.VirtualServers[0].RealServers[0].Checkers[0] }
	type tc struct {
		level, line string
		get         func(c *config.Config) any
		want        any
	}
	common := []tc{
		// alpha: the checker starts down (check_api.c checker->alpha)
		{"%CK%", "alpha\n      delay_loop 60", func(c *config.Config) any { return ck(c).Alpha }, true},
		{"%CK%", "log_all_failures\n      delay_loop 60", func(c *config.Config) any { return ck(c).LogAllFailures }, true},
		// warmup: the first check at a random time within it; default delay_loop (60 s)
		{"%CK%", "warmup 7\n      delay_loop 60", func(c *config.Config) any { return ck(c).Warmup }, 7 * time.Second},
		// real_server and virtual_server levels pass theirs down
		{"%RS%", "warmup 7\n    weight 1", func(c *config.Config) any { return ck(c).Warmup }, 7 * time.Second},
		{"%VS%", "warmup 7\n  protocol TCP", func(c *config.Config) any { return ck(c).Warmup }, 7 * time.Second},
		{"%RS%", "delay_loop 7\n    weight 1", func(c *config.Config) any { return ck(c).DelayLoop }, 7 * time.Second},
		{"%RS%", "delay_before_retry 7\n    weight 1", func(c *config.Config) any { return ck(c).DelayBeforeRetry }, 7 * time.Second},
		{"%VS%", "delay_before_retry 7\n  protocol TCP", func(c *config.Config) any { return ck(c).DelayBeforeRetry }, 7 * time.Second},
		{"%RS%", "retry 4\n    weight 1", func(c *config.Config) any { return ck(c).Retry }, 4},
		{"%VS%", "retry 4\n  protocol TCP", func(c *config.Config) any { return ck(c).Retry }, 4},
	}
	conn := []tc{
		{"%CK%", "bind_if lo\n      delay_loop 60", func(c *config.Config) any { return ck(c).BindIf }, "lo"},
		{"%CK%", "bind_port 4000\n      delay_loop 60", func(c *config.Config) any { return ck(c).BindPort }, uint16(4000)},
		{"%CK%", "bindto 127.0.0.3\n      delay_loop 60", func(c *config.Config) any { return ck(c).BindTo }, netip.MustParseAddr("127.0.0.3")},
		{"%CK%", "fwmark 5\n      delay_loop 60", func(c *config.Config) any { return ck(c).FWMark }, uint32(5)},
		{"%CK%", "connect_ip 127.0.0.2\n      delay_loop 60", func(c *config.Config) any { return ck(c).ConnectIP }, netip.MustParseAddr("127.0.0.2")},
		{"%CK%", "connect_port 8081\n      delay_loop 60", func(c *config.Config) any { return ck(c).ConnectPort }, uint16(8081)},
		{"%CK%", "connect_timeout 2\n      delay_loop 60", func(c *config.Config) any { return ck(c).ConnectTimeout }, 2 * time.Second},
		{"%RS%", "connect_timeout 2\n    weight 1", func(c *config.Config) any { return ck(c).ConnectTimeout }, 2 * time.Second},
		{"%VS%", "connect_timeout 2\n  protocol TCP", func(c *config.Config) any { return ck(c).ConnectTimeout }, 2 * time.Second},
	}
	http := []tc{
		{"%CK%", "enable_sni\n      delay_loop 60", func(c *config.Config) any { return ck(c).EnableSNI }, true},
		// keepalived 1.x's name of retry, still in check_http.c's table
		{"%CK%", "nb_get_retry 4\n      delay_loop 60", func(c *config.Config) any { return ck(c).Retry }, 4},
		{"%URL%", "virtualhost app.example\n        path /", func(c *config.Config) any { return ck(c).Extra().URLs[0].Virtualhost }, "app.example"},
		{"%RS%", "virtualhost app.example\n    weight 1", func(c *config.Config) any { return c.VirtualServers[0].RealServers[0].Virtualhost }, "app.example"},
	}
	misc := []tc{
		{"%CK%", "user nobody\n      delay_loop 60", func(c *config.Config) any { return ck(c).Extra().MiscPath.User }, "nobody"},
	}
	cases := map[string][]tc{
		"TCP_CHECK":  append(append([]tc{}, common...), conn...),
		"HTTP_GET":   append(append(append([]tc{}, common...), conn...), http...),
		"SSL_GET":    append(append(append([]tc{}, common...), conn...), http...),
		"MISC_CHECK": append(append([]tc{}, common...), misc...),
	}
	for typ, cs := range cases {
		for _, c := range cs {
			t.Run(typ+"/"+strings.Trim(c.level, "%")+"/"+c.line, func(t *testing.T) {
				if got := c.get(kwConfig(t, typ, c.level, c.line)); !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s: got %v, want %v", c.line, got, c.want)
				}
				if got := c.get(kwConfig(t, typ, c.level, "")); reflect.DeepEqual(got, c.want) {
					t.Errorf("without %s the parameter is %v already: the case does not test the keyword", c.line, got)
				}
			})
		}
	}
}

// seen records what a test server learnt of each connection.
type seen struct {
	mu            sync.Mutex
	remote, hosts []string
	sni           []string
}

func (s *seen) add(remote, host, sni string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remote = append(s.remote, remote)
	s.hosts = append(s.hosts, host)
	s.sni = append(s.sni, sni)
}

func (s *seen) last() (remote, host, sni string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.remote) == 0 {
		return "", "", ""
	}
	n := len(s.remote) - 1
	return s.remote[n], s.hosts[n], s.sni[n]
}

// freePort is a TCP port free on addr now.
func freePort(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestCheckerConnectionKeywords: HTTP_GET and SSL_GET probes connect from
// bindto:bind_port, to connect_ip:connect_port instead of the real
// server's address, send the url's virtualhost (else the real server's)
// as Host, and with enable_sni send it as the TLS server name, as
// keepalived's check_http.c http_connect_thread and ssl_connect do. Each
// probe is compared with the one built without the keywords.
func TestCheckerConnectionKeywords(t *testing.T) {
	rec := &seen{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		rec.add(r.RemoteAddr, r.Host, sni)
	})
	plain := httptest.NewUnstartedServer(h)
	tlsSrv := httptest.NewUnstartedServer(h)
	for _, s := range []*httptest.Server{plain, tlsSrv} {
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		labtest.Need(t, err == nil, "no 127.0.0.2 on loopback: %v", err)
		s.Listener = ln
	}
	plain.Start()
	tlsSrv.TLS = &tls.Config{}
	tlsSrv.StartTLS()
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	port := func(s *httptest.Server) int { return s.Listener.Addr().(*net.TCPAddr).Port }

	for _, typ := range []string{"HTTP_GET", "SSL_GET"} {
		srv := plain
		if typ == "SSL_GET" {
			srv = tlsSrv
		}
		bp := freePort(t, "127.0.0.3")
		with := fmt.Sprintf(map[string]string{"HTTP_GET": `
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 1 {
    virtualhost rs.example
    HTTP_GET {
      connect_ip 127.0.0.2
      connect_port %d
      bindto 127.0.0.3
      bind_port %d
      enable_sni
      url {
        path /
        virtualhost url.example
      }
    }
  }
}`,
			"SSL_GET": `
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 1 {
    virtualhost rs.example
    SSL_GET {
      connect_ip 127.0.0.2
      connect_port %d
      bindto 127.0.0.3
      bind_port %d
      enable_sni
      url {
        path /
        virtualhost url.example
      }
    }
  }
}`}[typ], port(srv), bp)
		without := fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.2 %d {
    virtualhost rs.example
    %s {
      url {
        path /
      }
    }
  }
}`, port(srv), typ)
		probeOnce := func(conf string) error {
			cfg := labtest.Config(t, conf)
			vs := cfg.VirtualServers[0]
			rs := vs.RealServers[0]
			p, err := NewProbe(rs.Checkers[0], vs, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = p(ctx)
			return err
		}
		t.Run(typ, func(t *testing.T) {
			if err := probeOnce(with); err != nil {
				t.Fatalf("probe to connect_ip:connect_port failed: %v", err)
			}
			remote, host, sni := rec.last()
			wantSNI := ""
			if typ == "SSL_GET" {
				wantSNI = "url.example"
			}
			if remote != fmt.Sprintf("127.0.0.3:%d", bp) || host != "url.example" || sni != wantSNI {
				t.Errorf("with the keywords: from %s, Host %q, SNI %q; want from 127.0.0.3:%d, Host url.example, SNI %q", remote, host, sni, bp, wantSNI)
			}
			if err := probeOnce(without); err != nil {
				t.Fatalf("probe without the keywords failed: %v", err)
			}
			remote, host, sni = rec.last()
			if strings.HasPrefix(remote, "127.0.0.3:") || host != "rs.example" || sni != "" {
				t.Errorf("without the keywords: from %s, Host %q, SNI %q; want another source, the real server's virtualhost, no SNI", remote, host, sni)
			}
		})
	}

	// TCP_CHECK through the manager's connector: from bindto:bind_port to
	// connect_ip:connect_port.
	t.Run("TCP_CHECK", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		labtest.Need(t, err == nil, "no 127.0.0.2 on loopback: %v", err)
		defer ln.Close()
		got := make(chan string, 16)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				got <- c.RemoteAddr().String()
				c.Close()
			}
		}()
		bp := freePort(t, "127.0.0.3")
		cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 1 {
    TCP_CHECK {
      connect_ip 127.0.0.2
      connect_port %d
      bindto 127.0.0.3
      bind_port %d
      warmup 0
      delay_loop 60
    }
  }
}`, ln.Addr().(*net.TCPAddr).Port, bp))
		startManager(t, cfg)
		select {
		case r := <-got:
			if r != fmt.Sprintf("127.0.0.3:%d", bp) {
				t.Errorf("TCP_CHECK connected from %s, want 127.0.0.3:%d", r, bp)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("TCP_CHECK never reached connect_ip:connect_port")
		}
	})
}

// TestNotifyUpRuns: a real server's notify_up runs when its checker
// brings it up (keepalived's do_rs_notifies on an alpha checker's first
// success); notify_down does not.
func TestNotifyUpRuns(t *testing.T) {
	srv := newServer(t, nil)
	cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 %s {
    notify_up "/bin/up rs"
    notify_down /bin/down
    TCP_CHECK {
      alpha
      warmup 0
      delay_loop 0.1
    }
  }
}`, srv.port()))
	rec := &recordRunner{}
	m := NewManager(nil, rec.run, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	labtest.WaitFor(t, "notify_up", 10*time.Second, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.ran) > 0
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if strings.Join(rec.ran[0], " ") != "/bin/up rs" {
		t.Errorf("ran %v, want notify_up (/bin/up rs)", rec.ran)
	}
}

// TestQuorumUpRuns: a virtual server's quorum_up runs when its real
// servers' weight reaches quorum (keepalived's update_quorum_state, "Gained
// quorum", do_vs_notifies); the servers start down (alpha) and come up.
func TestQuorumUpRuns(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  quorum 2
  quorum_up "/bin/qup vs"
  alpha
  real_server 127.0.0.1 %s {
    TCP_CHECK {
      warmup 0
      delay_loop 0.1
    }
  }
  real_server 127.0.0.1 %s {
    TCP_CHECK {
      warmup 0
      delay_loop 0.1
    }
  }
}`, a.port(), b.port()))
	rec := &recordRunner{}
	m := NewManager(nil, rec.run, 1, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if m.Snapshot().QuorumUp(cfg.VirtualServers[0]) {
		t.Fatal("quorum up before any check passed (alpha)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	labtest.WaitFor(t, "quorum_up", 10*time.Second, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, r := range rec.ran {
			if strings.Join(r, " ") == "/bin/qup vs" {
				return true
			}
		}
		return false
	})
}
