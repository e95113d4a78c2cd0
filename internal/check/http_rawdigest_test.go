package check

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// rawServer answers every connection with resp, once the request's end
// has arrived, and closes it.
func rawServer(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte(resp))
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestHTTPDigestOfRawBody: the digest HTTP_GET compares is keepalived
// 2.2.7's, the MD5 of the bytes after the header as they arrive (what
// genhash prints): a chunked body is hashed with its chunk framing, and a
// body is cut at Content-Length. lvsd hashed the decoded body, so a
// chunked page with the digest genhash gave was taken down.
func TestHTTPDigestOfRawBody(t *testing.T) {
	chunkedBody := "6\r\nhello\n\r\n0\r\n\r\n"
	cases := []struct {
		name, resp, digestOf string
		want                 bool
	}{
		{"chunked, genhash's digest (framing included)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody, chunkedBody, true},
		{"chunked, the decoded body's digest", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody, "hello\n", false},
		{"cut at Content-Length", "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\ntrailing", "hello\n", true},
		{"no header end: no data", "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := rawServer(t, c.resp)
			sum := md5.Sum([]byte(c.digestOf))
			cfg := labtest.Config(t, fmt.Sprintf(`
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 127.0.0.1 %s {
    HTTP_GET {
      url {
        path /
        digest %s
      }
      http_protocol 1.1
      connect_timeout 2
    }
  }
}`, port, hex.EncodeToString(sum[:])))
			vs, rs := cfg.VirtualServers[0], cfg.VirtualServers[0].RealServers[0]
			probe, err := NewProbe(rs.Checkers[0], vs, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := probe(ctx); (err == nil) != c.want {
				t.Errorf("probe: %v, want pass=%v", err, c.want)
			}
		})
	}
}
