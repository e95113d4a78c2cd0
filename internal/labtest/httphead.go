package labtest

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// HTTPHeadServer listens on addr (loopback) and answers every HTTP request
// with 200, handing the raw request head (request line and headers, as
// sent) to got: for comparing checkers' requests byte for byte. A listener
// that cannot start fails the test under CI=true (Need).
func HTTPHeadServer(t testing.TB, network, addr string, got chan<- string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen(network, addr)
	Need(t, err == nil, "listen %s %s: %v", network, addr, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := r.ReadString('\n')
					head.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				got <- head.String()
				_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}(c)
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}
