package ipvs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMHTTPProtocolMatchesKeepalived captures the HTTP_GET request
// keepalived 2.2.7 sends for each http_protocol and the one lvsd sends to
// the same listener: they must be identical, byte for byte.
func TestVMHTTPProtocolMatchesKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	for _, proto := range []string{"1.0", "1.0C", "1.1"} {
		t.Run(proto, func(t *testing.T) {
			realKernel(t)
			got := make(chan string, 16)
			ap := labtest.HTTPHeadServer(t, "tcp4", "127.0.0.1:0", got)
			conf := fmt.Sprintf(`
virtual_server 10.7.9.1 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 127.0.0.1 %d {
        HTTP_GET {
            url { path /h }
            http_protocol %s
            connect_timeout 2
        }
    }
}
`, ap.Port(), proto)
			path := filepath.Join(t.TempDir(), "k.conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			pid := filepath.Join(t.TempDir(), "k.pid")
			cmd := exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var kReq string
			select {
			case kReq = <-got:
			case <-time.After(60 * time.Second):
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if kReq == "" {
				t.Fatal("keepalived sent no HTTP_GET request in 60 s")
			}
			for len(got) > 0 {
				<-got
			}
			cfg := labtest.Config(t, conf)
			vs := cfg.VirtualServers[0]
			rs := vs.RealServers[0]
			probe, err := check.NewProbe(rs.Checkers[0], vs, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := probe(ctx); err != nil {
				t.Fatalf("lvsd probe: %v", err)
			}
			lReq := <-got
			if kReq != lReq {
				t.Errorf("requests differ\nkeepalived %q\nlvsd       %q", kReq, lReq)
			}
			t.Logf("identical: %q", lReq)
		})
	}
}
