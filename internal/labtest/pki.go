package labtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// PKI is a throwaway certificate authority with a server and a client
// certificate, made with openssl in a test's directory.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// ClientKeyPKCS8 and ClientKeyLegacy are ClientKey encrypted with
	// Password: PKCS#8 PBES2 (AES-256-CBC, openssl's default) and the
	// traditional "Proc-Type: 4,ENCRYPTED" PEM.
	ClientKeyPKCS8, ClientKeyLegacy string
	Password                        string
}

// NewPKI makes a PKI in dir with openssl (RSA 2048, one day).
func NewPKI(t testing.TB, dir string) PKI {
	t.Helper()
	openssl := NeedBinary(t, "openssl")
	p := PKI{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"),
		ClientKeyPKCS8: filepath.Join(dir, "client-pkcs8.key"), ClientKeyLegacy: filepath.Join(dir, "client-legacy.key"), Password: "s3cret"}
	caKey := filepath.Join(dir, "ca.key")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", p.CA, "-days", "1", "-subj", "/CN=lvsd-test-ca")
	for _, c := range []struct{ cert, key, cn string }{{p.ServerCert, p.ServerKey, "server"}, {p.ClientCert, p.ClientKey, "lvsd-client"}} {
		csr := c.cert + ".csr"
		run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", c.key, "-out", csr, "-subj", "/CN="+c.cn)
		run("x509", "-req", "-in", csr, "-CA", p.CA, "-CAkey", caKey, "-CAcreateserial", "-out", c.cert, "-days", "1")
	}
	run("pkcs8", "-topk8", "-in", p.ClientKey, "-out", p.ClientKeyPKCS8, "-v2", "aes-256-cbc", "-passout", "pass:"+p.Password)
	run("rsa", "-in", p.ClientKey, "-aes256", "-traditional", "-out", p.ClientKeyLegacy, "-passout", "pass:"+p.Password)
	return p
}

// ClientCertServer is an HTTPS server on 127.0.0.1 that requires a client
// certificate signed by p's CA and answers 200 "ok"; seen lists the client
// certificates' common names, one per request served.
func ClientCertServer(t testing.TB, p PKI) (port int, seen func() []string) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var names []string
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		names = append(names, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		fmt.Fprint(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), names...) }
}
