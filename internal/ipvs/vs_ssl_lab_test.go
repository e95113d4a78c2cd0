package ipvs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMSSLClientCertMatchesKeepalived: the top-level SSL block in the lab
// VM (keepalived runs SSL_GET only with IPVS). A real server requires a
// client certificate signed by its CA; keepalived 2.2.7 and lvsd each run
// SSL_GET against it with the SSL block (the key in encrypted PKCS#8, with
// its password) and without: with it, both present the block's
// certificate and get the page; without it, neither gets it.
func TestVMSSLClientCertMatchesKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	p := labtest.NewPKI(t, t.TempDir())
	for _, withSSL := range []bool{true, false} {
		t.Run(fmt.Sprintf("ssl_block=%v", withSSL), func(t *testing.T) {
			realKernel(t) // an empty table, emptied again after
			port, seen := labtest.ClientCertServer(t, p)
			block := ""
			if withSSL {
				block = fmt.Sprintf("SSL {\n    password %s\n    ca %s\n    certificate %s\n    key %s\n}\n", p.Password, p.CA, p.ClientCert, p.ClientKeyPKCS8)
			}
			conf := block + fmt.Sprintf(`virtual_server 10.7.9.2 443 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
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
			path := filepath.Join(t.TempDir(), "k.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			pid := filepath.Join(t.TempDir(), "k.pid")
			cmd := exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// keepalived checks every second: 8 s is several checks.
			time.Sleep(8 * time.Second)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			kSeen := len(seen())
			cfg := labtest.Config(t, conf)
			ssl, err := check.LoadSSLClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			vs := cfg.VirtualServers[0]
			rs := vs.RealServers[0]
			probe, err := check.NewProbeSSL(rs.Checkers[0], vs, rs, nil, ssl)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, lErr := probe(ctx)
			names := seen()
			lSeen := len(names) - kSeen
			t.Logf("requests served: keepalived %d, lvsd %d (client certificates %q); lvsd's check: %v", kSeen, lSeen, names, lErr)
			if withSSL {
				if kSeen == 0 {
					t.Error("keepalived got no page with the SSL block")
				}
				if lSeen != 1 || lErr != nil {
					t.Errorf("lvsd got %d pages with the SSL block (check: %v), want 1", lSeen, lErr)
				}
				if slices.ContainsFunc(names, func(n string) bool { return n != "lvsd-client" }) {
					t.Errorf("client certificates %q, want lvsd-client", names)
				}
			} else {
				if kSeen != 0 || lSeen != 0 || lErr == nil {
					t.Errorf("without the SSL block: keepalived got %d pages, lvsd %d (check: %v); the server requires a client certificate", kSeen, lSeen, lErr)
				}
			}
		})
	}
}
