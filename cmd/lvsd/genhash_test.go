package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// genhashCert is a self-signed P-256 certificate for the HTTPS server.
func genhashCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "genhash.test"},
		DNSNames:     []string{"genhash.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// genhashBody is deterministic content of n bytes.
func genhashBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of the page lvsd genhash and keepalived's genhash both hash\n", i)
	}
	return b.Bytes()[:n]
}

// genhashMux is the web server both genhash implementations fetch from.
func genhashMux() *http.ServeMux {
	mux := http.NewServeMux()
	small := genhashBody(300)
	large := genhashBody(100_000)
	mux.HandleFunc("/small", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", "Tue, 01 Dec 2026 00:00:00 GMT") // stable across the two fetches
		w.Write(small)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", "Tue, 01 Dec 2026 00:00:00 GMT")
		w.Write(large) // HTTP/1.1: chunked, so the digest covers the chunk framing
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "Tue, 01 Dec 2026 00:00:00 GMT")
		fmt.Fprintf(w, "host=%q proto=%s connection=%q ua=%q sni=%q\n", r.Host, r.Proto, r.Header.Get("Connection"), r.UserAgent(), tlsServerName(r))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", "Tue, 01 Dec 2026 00:00:00 GMT")
		http.Error(w, "no such page", http.StatusNotFound)
	})
	return mux
}

func tlsServerName(r *http.Request) string {
	if r.TLS == nil {
		return ""
	}
	return r.TLS.ServerName
}

// genhashRawServer answers every connection with fn (after reading the
// request head, which it is given).
func genhashRawServer(t *testing.T, network, addr string, fn func(c net.Conn, head []byte)) string {
	t.Helper()
	ln, err := net.Listen(network, addr)
	labtest.Need(t, err == nil, "listen %s %s: %v", network, addr, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				var head []byte
				for {
					line, err := r.ReadBytes('\n')
					head = append(head, line...)
					if err != nil || string(line) == "\r\n" {
						break
					}
				}
				fn(c, head)
			}()
		}
	}()
	return ln.Addr().String()
}

// init runs main() as it is (argv[0] "genhash") for TestGenhashCommand's
// link, before TestMain would rename it.
func init() {
	if os.Getenv("LVSD_TEST_GENHASH_LINK") == "1" {
		main()
		os.Exit(0)
	}
}

var usecsRE = regexp.MustCompile(`= [0-9]+ usecs`)

// TestGenhashMatchesKeepalived runs Debian's /usr/bin/genhash (keepalived
// 2.2.7) and lvsd genhash with the same arguments against the same
// loopback servers, HTTP and HTTPS, and requires the same stdout, stderr
// and exit code byte for byte (the -v response time masked).
func TestGenhashMatchesKeepalived(t *testing.T) {
	ref := labtest.NeedBinary(t, "genhash")
	httpSrv := &http.Server{Handler: genhashMux(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go httpSrv.Serve(ln)
	t.Cleanup(func() { httpSrv.Close() })
	httpPort := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)

	tlsSrv := &http.Server{Handler: genhashMux(), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{genhashCert(t)}}}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tlsSrv.ServeTLS(tln, "", "")
	t.Cleanup(func() { tlsSrv.Close() })
	tlsPort := fmt.Sprint(tln.Addr().(*net.TCPAddr).Port)

	// The request, byte for byte, is the page: its digest shows any
	// difference in what the two send.
	echo := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, head []byte) {
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(head), head)
	})
	// Content-Length shorter than the body: keepalived hashes 5 bytes.
	short := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, _ []byte) {
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello world")
	})
	// A header that never ends.
	noHeader := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, _ []byte) {
		io.WriteString(c, "HTTP/1.0 200 OK\r\nX: y\r\n")
	})
	// An answer without a header at all, in three writes.
	split := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, _ []byte) {
		io.WriteString(c, "HTTP/1.0 200 OK\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "Content-Length: 11\r\n\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "hello world")
	})
	// A server that says nothing.
	silent := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, _ []byte) {
		time.Sleep(3 * time.Second)
	})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().(*net.TCPAddr)
	closed.Close()

	hostPort := func(a string) []string {
		h, p, _ := net.SplitHostPort(a)
		return []string{"-s", h, "-p", p}
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	web := []string{"-s", "127.0.0.1", "-p", httpPort}
	sslWeb := []string{"-S", "-s", "127.0.0.1", "-p", tlsPort}
	cases := []struct {
		name string
		args []string
		// digest: stdout must be one digest line (so the case compares
		// a digest, not two identical error messages).
		digest bool
	}{
		{"http small", cat(web, []string{"-u", "/small"}), true},
		{"http small verbose", cat(web, []string{"-u", "/small", "-v"}), false},
		{"http large", cat(web, []string{"-u", "/large"}), true},
		{"http large 1.1 chunked", cat(web, []string{"-u", "/large", "-P", "1.1"}), true},
		{"http 404 page", cat(web, []string{"-u", "/nothing/here"}), true},
		{"http vhost 1.0c", cat(web, []string{"-u", "/host", "-V", "www.example.org", "-P", "1.0c"}), true},
		{"http long options", []string{"--server", "127.0.0.1", "--port=" + httpPort, "--url", "/host", "--protocol", "1.1", "--use-virtualhost=v.example", "--timeout", "5"}, true},
		{"http clustered short options", []string{"-v", "-s127.0.0.1", "-p" + httpPort, "-u/small", "-t", " 5"}, false},
		{"http fwmark", cat(web, []string{"-u", "/host", "-m", "7"}), true},
		{"request echo", cat(hostPort(echo), []string{"-u", "/a/b?c=d&e"}), true},
		{"request echo 1.1 vhost", cat(hostPort(echo), []string{"-u", "/", "-P", "1.1", "-V", "h.example:8080"}), true},
		{"request echo verbose", cat(hostPort(echo), []string{"-u", "/v", "-v"}), false},
		{"content-length cut", cat(hostPort(short), []string{"-u", "/"}), true},
		{"content-length cut verbose", cat(hostPort(short), []string{"-u", "/", "-v"}), false},
		{"header never ends", cat(hostPort(noHeader), []string{"-u", "/"}), false},
		{"split writes verbose", cat(hostPort(split), []string{"-u", "/", "-v"}), false},
		{"read timeout", cat(hostPort(silent), []string{"-u", "/", "-t", "1"}), false},
		{"connection refused", []string{"-s", "127.0.0.1", "-p", fmt.Sprint(closedAddr.Port), "-u", "/"}, false},
		{"connection refused verbose", []string{"-s", "127.0.0.1", "-p", fmt.Sprint(closedAddr.Port), "-u", "/", "-v"}, false},
		{"https small", cat(sslWeb, []string{"-u", "/small"}), true},
		{"https small verbose", cat(sslWeb, []string{"-u", "/small", "-v"}), false},
		{"https large 1.1", cat(sslWeb, []string{"-u", "/large", "-P", "1.1"}), true},
		{"https sni", cat(sslWeb, []string{"-u", "/host", "-I", "-V", "genhash.test"}), true},
		{"https vhost without sni", cat(sslWeb, []string{"-u", "/host", "-V", "genhash.test"}), true},
		{"https to http server", cat([]string{"-S", "-s", "127.0.0.1", "-p", httpPort}, []string{"-u", "/small"}), false},
		// Command lines genhash refuses.
		{"no arguments", nil, false},
		{"one argument", []string{"-v"}, false},
		{"help", []string{"-h", "-s", "127.0.0.1"}, false},
		{"missing url", []string{"-s", "127.0.0.1", "-p", "80"}, false},
		{"bad address", []string{"-s", "www.example.org", "-p", "80", "-u", "/"}, false},
		{"bad port", []string{"-s", "127.0.0.1", "-p", "65536", "-u", "/"}, false},
		{"bad protocol", []string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-P", "2"}, false},
		{"bad timeout", []string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-t", "-1"}, false},
		{"bad fwmark", []string{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-m", "x"}, false},
		{"unknown options", []string{"-x", "--nope", "--help=1", "-s", "127.0.0.1", "-p", "80", "-u", "/"}, false},
		{"ambiguous long option", []string{"--u", "/", "-s", "127.0.0.1", "-p", "80"}, false},
		{"missing parameter", []string{"-s", "127.0.0.1", "-p", "80", "-u"}, false},
		{"unexpected arguments", []string{"a", "-s", "127.0.0.1", "-p", "80", "-u", "/", "b", "--", "-c"}, false},
	}
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		srv6 := &http.Server{Handler: genhashMux(), ReadHeaderTimeout: 10 * time.Second}
		go srv6.Serve(l6)
		t.Cleanup(func() { srv6.Close() })
		p := fmt.Sprint(l6.Addr().(*net.TCPAddr).Port)
		cases = append(cases, struct {
			name   string
			args   []string
			digest bool
		}{"http ipv6", []string{"-s", "::1", "-p", p, "-u", "/host"}, true})
	}
	digestRE := regexp.MustCompile(`^[0-9a-f]{32}\n$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var refOut, refErr bytes.Buffer
			cmd := exec.Command(ref, tc.args...)
			cmd.Args[0] = "genhash" // the name genhash's usage prints
			cmd.Stdout, cmd.Stderr = &refOut, &refErr
			refCode := 0
			if err := cmd.Run(); err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				refCode = ee.ExitCode()
			}
			var out, errb bytes.Buffer
			code := runGenhash("genhash", tc.args, &out, &errb)
			mask := func(b []byte) string { return usecsRE.ReplaceAllString(string(b), "= N usecs") }
			if code != refCode || mask(out.Bytes()) != mask(refOut.Bytes()) || errb.String() != refErr.String() {
				t.Errorf("genhash %q:\nkeepalived (exit %d):\n%s--- stderr:\n%s\nlvsd (exit %d):\n%s--- stderr:\n%s",
					tc.args, refCode, refOut.String(), refErr.String(), code, out.String(), errb.String())
			}
			if tc.digest && !digestRE.MatchString(refOut.String()) {
				t.Errorf("keepalived's genhash printed no digest: %q", refOut.String())
			}
		})
	}
}

// TestGenhashMissingLongParameter: keepalived 2.2.7's genhash reads
// long_options[-1] for a long option missing its parameter (getopt_long
// leaves longindex at -1 there) and prints garbage or dies of SIGSEGV;
// lvsd genhash names the option.
func TestGenhashMissingLongParameter(t *testing.T) {
	var out, errb bytes.Buffer
	code := runGenhash("genhash", []string{"-s", "127.0.0.1", "-p", "80", "--url"}, &out, &errb)
	if code != 1 || out.Len() != 0 || !strings.HasPrefix(errb.String(), "Missing parameter for option --url\nUsage: genhash COMMAND [OPTIONS]\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestGenhashCommand runs the CLI itself (lvsd genhash ... and the
// "genhash" name) against a page whose MD5 is known.
func TestGenhashCommand(t *testing.T) {
	body := "hello world\n" // md5 6f5902ac237024bdd0c176cb93063dc4
	addr := genhashRawServer(t, "tcp", "127.0.0.1:0", func(c net.Conn, _ []byte) {
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	h, p, _ := net.SplitHostPort(addr)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "genhash", "-s", h, "-p", p, "-u", "/")
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	out, err := cmd.Output()
	if err != nil || string(out) != "6f5902ac237024bdd0c176cb93063dc4\n" {
		t.Fatalf("lvsd genhash: %q, %v", out, err)
	}
	cmd = exec.Command(self, "genhash", "-h")
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "Usage: lvsd genhash COMMAND [OPTIONS]\n") {
		t.Fatalf("lvsd genhash -h: %v, %q", err, stderr.String())
	}
	link := t.TempDir() + "/genhash"
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(link, "-s", h, "-p", p, "-u", "/")
	cmd.Env = append(os.Environ(), "LVSD_TEST_GENHASH_LINK=1")
	out, err = cmd.Output()
	if err != nil || string(out) != "6f5902ac237024bdd0c176cb93063dc4\n" {
		t.Fatalf("genhash link: %q, %v", out, err)
	}
}

// FuzzParseGenhash: any command line parses without a panic, and one
// accepted has its three mandatory options.
func FuzzParseGenhash(f *testing.F) {
	f.Add("-s\x00127.0.0.1\x00-p\x0080\x00-u\x00/")
	f.Add("--serv=::1\x00-p080\x00--url\x00/x\x00-vSI\x00-t\x00 5\x00-m\x00\x00--\x00x")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		o, ok := parseGenhash(args, io.Discard)
		if ok && (o == nil || !o.server.IsValid() || o.port == 0) {
			t.Fatalf("%q accepted without server and port: %+v", args, o)
		}
	})
}
