package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// TestHTTPProtocolRequest: HTTP_GET sends keepalived 2.2.7's request byte
// for byte (check_http.c request_template): HTTP/1.0 by default, 1.0C
// adds "Connection: close", 1.1 is HTTP/1.1 with it; Host is the
// virtualhost or the address and port ([IPv6]:port).
func TestHTTPProtocolRequest(t *testing.T) {
	cases := []struct {
		proto, vhost, network, listen string
		want                          string
	}{
		{"", "", "tcp4", "127.0.0.1:0", "GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: %s\r\n\r\n"},
		{"1.0", "", "tcp4", "127.0.0.1:0", "GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: %s\r\n\r\n"},
		{"1.0C", "", "tcp4", "127.0.0.1:0", "GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: %s\r\n\r\n"},
		{"1.1", "", "tcp4", "127.0.0.1:0", "GET /h HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: %s\r\n\r\n"},
		{"1.1", "www.example.org", "tcp4", "127.0.0.1:0", "GET /h HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.org\r\n\r\n"},
		{"1.0", "", "tcp6", "[::1]:0", "GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: %s\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.proto+"/"+tc.vhost+"/"+tc.network, func(t *testing.T) {
			got := make(chan string, 1)
			ap := labtest.HTTPHeadServer(t, tc.network, tc.listen, got)
			rs := &config.RealServer{Addr: ap.Addr(), Port: ap.Port()}
			c := &config.Checker{Type: config.CheckHTTP, HTTPProtocol: tc.proto, Virtualhost: tc.vhost, ConnectTimeout: 3 * time.Second,
				Ext: &config.CheckerExtra{URLs: []config.URL{{Path: "/h", StatusCodes: [][2]int{{200, 299}}}}}}
			probe, err := NewProbe(c, &config.VirtualServer{}, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := probe(ctx); err != nil {
				t.Fatalf("probe: %v", err)
			}
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, ap.String())
			}
			if req := <-got; req != want {
				t.Errorf("request\n got %q\nwant %q", req, want)
			}
			if b := string(httpRequest("/h", tc.proto, tc.vhost, ap)); b != want {
				t.Errorf("httpRequest %q", b)
			}
		})
	}
}
