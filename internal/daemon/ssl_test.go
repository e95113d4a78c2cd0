package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
)

const sslGetConf = `
virtual_server 10.0.0.9 443 {
  protocol TCP
  real_server 10.1.0.9 443 {
    SSL_GET {
      url {
        path /
        status_code 200
      }
    }
  }
}
`

// TestSSLBlockThatDoesNotLoad: keepalived's checker exits when the SSL
// block's files do not load (init_ssl_ctx), so keepalived does not run on
// it: lvsd does not start on it either; a reload to it is refused and the
// running configuration stays (lvsd's safer reload).
func TestSSLBlockThatDoesNotLoad(t *testing.T) {
	bad := "SSL {\n  certificate /nonexistent/client.pem\n  key /nonexistent/client.key\n}\n" + sslGetConf
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	_ = os.WriteFile(conf, []byte(bad), 0o644)
	err := Run(context.Background(), Options{ConfigFile: conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { return ipvs.NewFakeKernel(), nil }, Sysctl: newFakeSysctl()}, nil)
	if err == nil || !strings.Contains(err.Error(), "k.conf:1") || !strings.Contains(err.Error(), "SSL certificate") {
		t.Errorf("start with an SSL block that does not load: %v, want an error naming k.conf:1 and the certificate", err)
	}

	h := start(t, baseConf)
	h.write(baseConf + bad)
	h.signals <- syscall.SIGHUP
	for end := time.Now().Add(5 * time.Second); h.status().ReloadsFailed != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the reload to an SSL block that does not load was not refused")
		}
	}
	if w := h.kernel.WriteCount(); w != 3 {
		t.Errorf("a refused reload wrote to IPVS: %d writes", w)
	}
}
