package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestSSLGetClientCertificate: with the top-level SSL block, SSL_GET
// presents its certificate to a real server that requires one (the key
// in the clear, in encrypted PKCS#8 or in legacy encrypted PEM, with
// password); without the block the handshake fails and so does the check.
func TestSSLGetClientCertificate(t *testing.T) {
	p := labtest.NewPKI(t, t.TempDir())
	port, seen := labtest.ClientCertServer(t, p)
	conf := func(ssl string) string {
		return ssl + fmt.Sprintf(`virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 127.0.0.1 %d {
        SSL_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 2
        }
    }
}
`, port)
	}
	probe := func(t *testing.T, text string) error {
		t.Helper()
		cfg := labtest.Config(t, text)
		ssl, err := LoadSSLClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		vs := cfg.VirtualServers[0]
		rs := vs.RealServers[0]
		pr, err := newProbe(rs.Checkers[0], vs, rs, nil, ssl)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = pr(ctx)
		return err
	}
	if err := probe(t, conf("")); err == nil {
		t.Error("SSL_GET without the SSL block passed against a server that requires a client certificate")
	}
	for _, key := range []string{p.ClientKey, p.ClientKeyPKCS8, p.ClientKeyLegacy} {
		block := fmt.Sprintf("SSL {\n    password %s\n    ca %s\n    certificate %s\n    key %s\n}\n", p.Password, p.CA, p.ClientCert, key)
		if err := probe(t, conf(block)); err != nil {
			t.Errorf("key %s: SSL_GET with the SSL block failed: %v", key, err)
		}
	}
	if got := seen(); len(got) != 3 || got[0] != "lvsd-client" {
		t.Errorf("the server saw client certificates %q, want lvsd-client three times", got)
	}
}

// TestLoadSSLClientErrors: a file that does not load is an error (keepalived's
// init_ssl_ctx stops its checker), and only when an SSL_GET needs the context.
func TestLoadSSLClientErrors(t *testing.T) {
	p := labtest.NewPKI(t, t.TempDir())
	sslGet := "virtual_server 10.0.0.1 443 {\n    real_server 10.0.0.2 443 {\n        SSL_GET {\n            url {\n                path /\n                status_code 200\n            }\n        }\n    }\n}\n"
	httpGet := strings.ReplaceAll(sslGet, "SSL_GET", "HTTP_GET")
	for _, c := range []struct {
		name, ssl, checker, want string
	}{
		{"missing certificate", "certificate /nonexistent.pem\n    key " + p.ClientKey, sslGet, "no such file"},
		{"wrong password", "password wrong\n    certificate " + p.ClientCert + "\n    key " + p.ClientKeyPKCS8, sslGet, "wrong password"},
		{"wrong legacy password", "password wrong\n    certificate " + p.ClientCert + "\n    key " + p.ClientKeyLegacy, sslGet, "wrong password"},
		{"missing ca", "ca /nonexistent-ca.pem", sslGet, "no such file"},
		{"not needed without SSL_GET", "certificate /nonexistent.pem", httpGet, ""},
		{"certificate without key loads (presents nothing)", "certificate " + p.ClientCert, sslGet, ""},
		{"key without certificate loads (presents nothing)", "key " + p.ClientKey, sslGet, ""},
		{"missing key", "certificate " + p.ClientCert + "\n    key /nonexistent.key", sslGet, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := labtest.Config(t, "SSL {\n    "+c.ssl+"\n}\n"+c.checker)
			_, err := LoadSSLClient(cfg)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzDecryptPKCS8(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte("pw"))
	f.Fuzz(func(t *testing.T, der, password []byte) {
		_, _ = decryptPKCS8(der, password) // must not panic
	})
}
