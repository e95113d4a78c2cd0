package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
	"golang.org/x/sys/unix"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// get fetches url through dial (a fresh connection each time) and
// returns the body, failing the test after 10 s.
func get(t *testing.T, dial func() (net.Conn, error), path string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return dial() }}}
	resp, err := c.Get("http://lvsd" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestEndpointConnectionCaps: idle connections to the metrics listener
// and the control socket hold at most their cap of the daemon's
// descriptors (before, every one held one until the limit, and the
// TCP_CHECKs' socket() failed with EMFILE).
func TestEndpointConnectionCaps(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	sock := filepath.Join(dir, "lvsd.sock")
	const idle = 300
	err := tryStart(t, dir, func(o *Options) { o.MetricsAddr = addr }, func() {
		tcp := func() (net.Conn, error) { return net.Dial("tcp", addr) }
		unixDial := func() (net.Conn, error) { return net.Dial("unix", sock) }
		get(t, tcp, "/metrics") // serving
		for _, ep := range []struct {
			name string
			dial func() (net.Conn, error)
			cap  int
		}{{"metrics", tcp, metricsMaxConns}, {"control", unixDial, controlMaxConns}} {
			before := openFDs(t)
			var conns []net.Conn
			for range idle {
				c, err := ep.dial()
				if err != nil {
					break // a full backlog: the cap works
				}
				conns = append(conns, c)
			}
			time.Sleep(500 * time.Millisecond) // let the server accept what it will
			held := openFDs(t) - before - len(conns)
			t.Logf("%s: %d idle connections, the daemon holds %d descriptors for them (cap %d)", ep.name, len(conns), held, ep.cap)
			if held > ep.cap+4 {
				t.Errorf("%s: %d idle connections hold %d of the daemon's descriptors; want at most the cap %d", ep.name, len(conns), held, ep.cap)
			}
			for _, c := range conns {
				c.Close()
			}
			// Served again once the idle ones are gone.
			get(t, ep.dial, map[string]string{"metrics": "/metrics", "control": "/status"}[ep.name])
		}
	})
	if err != errStarted {
		t.Fatal(err)
	}
}

// TestEndpointIdleTimeouts: a client that keeps its connection open after
// a request (HTTP keep-alive) is cut off after the idle timeout, on both
// endpoints; before, such a connection was held forever.
func TestEndpointIdleTimeouts(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	sock := filepath.Join(dir, "lvsd.sock")
	err := tryStart(t, dir, func(o *Options) { o.MetricsAddr = addr }, func() {
		var wg sync.WaitGroup
		for _, ep := range []struct{ name, network, addr, path string }{
			{"metrics", "tcp", addr, "/metrics"}, {"control", "unix", sock, "/status"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial(ep.network, ep.addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.WriteString(c, "GET "+ep.path+" HTTP/1.1\r\nHost: lvsd\r\n\r\n"); err != nil {
					t.Error(err)
					return
				}
				r := bufio.NewReader(c)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Errorf("%s: %v", ep.name, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				idleSince := time.Now()
				_ = c.SetReadDeadline(time.Now().Add(endpointIdleTimeout + 3*time.Second))
				if _, err := r.ReadByte(); err != io.EOF {
					t.Errorf("%s: idle keep-alive connection still open after %s (%v)", ep.name, time.Since(idleSince).Round(time.Millisecond), err)
					return
				}
				t.Logf("%s: idle connection closed by the daemon after %s", ep.name, time.Since(idleSince).Round(time.Millisecond))
			}()
		}
		wg.Wait()
	})
	if err != errStarted {
		t.Fatal(err)
	}
}

// TestStatusDuringStart: the control socket and metrics requests made
// while the daemon starts are answered with the started daemon's state
// (they wait), never from fields start() is still setting: before, they
// raced with start() (go test -race) and reported "IPVS not in use".
func TestStatusDuringStart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	sock := filepath.Join(dir, "lvsd.sock")
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(baseConf+`
virtual_server 10.0.0.9 80 {
  real_server 127.0.0.1 1 {
    TCP_CHECK {
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	statusC, metricsC := make(chan string, 1), make(chan string, 1)
	kernel := func() (ipvs.Kernel, error) {
		go func() {
			statusC <- get(t, func() (net.Conn, error) { return net.Dial("unix", sock) }, "/status")
		}()
		go func() { metricsC <- get(t, func() (net.Conn, error) { return net.Dial("tcp", addr) }, "/metrics") }()
		// Give the requests the time to be served now, if they can be.
		time.Sleep(300 * time.Millisecond)
		return ipvs.NewFakeKernel(), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigFile: conf, StateDir: dir, MetricsAddr: addr, Log: slog.New(slog.DiscardHandler), Kernel: kernel}, nil)
	}()
	defer func() { cancel(); <-done }()
	var doc StatusDoc
	select {
	case s := <-statusC:
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatalf("status %q: %v", s, err)
		}
	case err := <-done:
		t.Fatal(err)
	}
	if doc.IPVSError != "" || len(doc.VirtualServers) != 2 {
		t.Errorf("status asked during start: ipvs error %q, %d virtual servers; want the started daemon's", doc.IPVSError, len(doc.VirtualServers))
	}
	if m := <-metricsC; !strings.Contains(m, "lvsd_ipvs_scrape_success 1") || !strings.Contains(m, "lvsd_check_up{") {
		t.Errorf("metrics scraped during start are not the started daemon's:\n%s", m)
	}
}

// TestFileLimitRaised: a soft RLIMIT_NOFILE below the hard one is raised
// to it at start.
func TestFileLimitRaised(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_NOFILE, &orig) })
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 200, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	err := tryStart(t, t.TempDir(), nil, func() {
		var now unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
		if now.Cur != orig.Max {
			t.Errorf("soft RLIMIT_NOFILE %d at start, want the hard limit %d", now.Cur, orig.Max)
		}
	})
	if err != errStarted {
		t.Fatal(err)
	}
}
