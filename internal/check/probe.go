package check

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/sys/unix"
)

// Probe is one check attempt. It returns nil when the real server passes;
// weight is set only by MISC_CHECK with misc_dynamic (-1 otherwise).
type Probe func(ctx context.Context) (weight int, err error)

// ScriptRunner runs a MISC_CHECK or notify script and returns its exit code.
type ScriptRunner func(ctx context.Context, s *config.Script, args ...string) (int, error)

// maxBody caps how much of an HTTP response a check reads: a server that
// streams forever must not hold a worker or memory.
const maxBody = 1 << 20

// target is where a checker connects: connect_ip/connect_port or the real
// server's own address.
func target(c *config.Checker, rs *config.RealServer) netip.AddrPort {
	ip, port := rs.Addr, rs.Port
	if c.ConnectIP.IsValid() {
		ip = c.ConnectIP
	}
	if c.ConnectPort != 0 {
		port = c.ConnectPort
	}
	return netip.AddrPortFrom(ip, port)
}

// markAndBindDevice applies a checker's fwmark and bindto interface to a
// socket before it connects (0 and "" leave them alone).
func markAndBindDevice(fd int, mark uint32, bindIf string) error {
	if mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
			return fmt.Errorf("SO_MARK: %w", err)
		}
	}
	if bindIf != "" {
		if err := unix.BindToDevice(fd, bindIf); err != nil {
			return fmt.Errorf("bind to %s: %w", bindIf, err)
		}
	}
	return nil
}

func dialer(c *config.Checker) *net.Dialer {
	d := &net.Dialer{Timeout: c.ConnectTimeout}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		d.LocalAddr = &net.TCPAddr{IP: c.BindTo.AsSlice(), Port: int(c.BindPort)}
	}
	if c.FWMark != 0 || c.BindIf != "" {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = markAndBindDevice(int(fd), c.FWMark, c.BindIf) })
			if err != nil {
				return err
			}
			return serr
		}
	}
	return d
}

// NewProbe builds the probe for one checker of rs in vs.
func NewProbe(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer, run ScriptRunner) (Probe, error) {
	return newProbe(c, vs, rs, run, nil)
}

// NewProbeSSL is NewProbe with the SSL block's client certificate for
// SSL_GET (LoadSSLClient; nil: none).
func NewProbeSSL(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer, run ScriptRunner, ssl *SSLClient) (Probe, error) {
	return newProbe(c, vs, rs, run, ssl)
}

func newProbe(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer, run ScriptRunner, ssl *SSLClient) (Probe, error) {
	switch c.Type {
	case config.CheckHTTP, config.CheckSSL:
		return httpProbe(c, vs, rs, ssl), nil
	case config.CheckDNS:
		return dnsProbe(c, rs), nil
	case config.CheckUDP:
		return udpProbe(c, rs), nil
	case config.CheckPing:
		return pingProbe(c, rs), nil
	case config.CheckFile:
		return fileProbe(c), nil
	case config.CheckBFD:
		return bfdProbe(c), nil
	case config.CheckSMTP:
		return smtpProbe(c, rs), nil
	case config.CheckMisc:
		if c.Extra().MiscPath == nil || run == nil {
			return nil, errors.New("MISC_CHECK without misc_path")
		}
		return func(ctx context.Context) (int, error) {
			code, err := run(ctx, c.Extra().MiscPath)
			if err != nil {
				return -1, err
			}
			if c.Extra().MiscDynamic {
				// keepalived: 0 up, 1 down, 2..255 up with weight code-2.
				switch {
				case code == 0:
					return -1, nil
				case code >= 2 && code <= 255:
					return code - 2, nil
				}
			} else if code == 0 {
				return -1, nil
			}
			return -1, fmt.Errorf("%s exited %d", c.Extra().MiscPath.Argv[0], code)
		}, nil
	}
	return nil, fmt.Errorf("checker %s is not supported", c.Type)
}

func httpProbe(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer, ssl *SSLClient) Probe {
	tlsOn := c.Type == config.CheckSSL
	addr := target(c, rs)
	d := dialer(c)
	host := c.Virtualhost
	if host == "" {
		host = rs.Virtualhost
	}
	if host == "" {
		host = vs.Virtualhost
	}
	// keepalived does not verify real servers' certificates; it presents
	// the SSL block's certificate when asked.
	tlsConf := ssl.tlsConfig()
	return func(ctx context.Context) (int, error) {
		for _, u := range c.Extra().URLs {
			if err := fetch(ctx, d, tlsOn, tlsConf, c, addr, host, u); err != nil {
				return -1, err
			}
		}
		return -1, nil
	}
}

// httpRequest is the request keepalived 2.2.7's HTTP_GET and SSL_GET send
// (check_http.c request_template): the request line in HTTP/1.0, or 1.1
// with http_protocol 1.1; "Connection: close" with 1.0C and 1.1; Host is
// the virtualhost, else the address and port connected to ([IPv6]:port).
func httpRequest(path, protocol, vhost string, addr netip.AddrPort) []byte {
	minor, conn := 0, ""
	switch protocol {
	case "1.1":
		minor, conn = 1, "Connection: close\r\n"
	case "1.0C":
		conn = "Connection: close\r\n"
	}
	host := vhost
	if host == "" {
		host = addr.String() // "[v6]:port" or "v4:port"
	}
	return fmt.Appendf(nil, "GET %s HTTP/1.%d\r\nUser-Agent: KeepAliveClient\r\n%sHost: %s\r\n\r\n", path, minor, conn, host)
}

// fetch sends one url's request on a connection of its own, as keepalived
// does, and checks the answer.
func fetch(ctx context.Context, d *net.Dialer, tlsOn bool, tlsConf *tls.Config, c *config.Checker, addr netip.AddrPort, host string, u config.URL) error {
	if u.Virtualhost != "" {
		host = u.Virtualhost
	}
	raw, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := raw
	if tlsOn {
		cfg := tlsConf
		if c.EnableSNI && host != "" {
			cfg = tlsConf.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	if _, err := conn.Write(httpRequest(u.Path, c.HTTPProtocol, host, addr)); err != nil {
		return fmt.Errorf("GET %s: %w", u.Path, err)
	}
	var rd io.Reader = conn
	var capture *cappedBuffer
	if u.Regex != "" {
		// keepalived 2.2.7 matches the regex against the response as
		// it arrives, status line and headers included.
		capture = &cappedBuffer{max: maxBody}
		rd = io.TeeReader(conn, capture)
	}
	// keepalived 2.2.7 (check_http.c http_process_response) hashes the
	// raw bytes after the first CRLFCRLF as they arrive, chunk framing
	// included, up to Content-Length: what genhash prints and users paste.
	// keepalived then reads on to the end of the stream; lvsd stops once
	// nothing more can change the verdict (no digest or regex: the status
	// line; Content-Length reached), and at maxBody.
	bd := NewBodyDigest()
	over := false
	err = bd.Consume(rd, func(bd *BodyDigest) bool {
		switch {
		case !bd.HeaderSeen():
			return false
		case u.Digest == "" && u.Regex == "":
			return true
		case bd.ContentLength() != NoContentLength && bd.Received() >= bd.ContentLength():
			return true
		}
		over = bd.Received() > maxBody
		return over
	})
	if err != nil {
		return fmt.Errorf("GET %s: %w", u.Path, err)
	}
	if !bd.HeaderSeen() {
		return fmt.Errorf("GET %s: no data received", u.Path)
	}
	status, sum := bd.StatusCode(), bd.Sum(false)
	if !statusOK(status, u.StatusCodes) {
		return fmt.Errorf("GET %s: status %d", u.Path, status)
	}
	if capture != nil {
		if rerr := regexVerdict(u, capture.b); rerr != nil {
			return fmt.Errorf("GET %s: %w", u.Path, rerr)
		}
	}
	if u.Digest != "" {
		if over {
			return fmt.Errorf("GET %s: body over %d bytes", u.Path, maxBody)
		}
		if got := hex.EncodeToString(sum[:]); got != u.Digest {
			return fmt.Errorf("GET %s: digest %s, want %s", u.Path, got, u.Digest)
		}
	}
	return nil
}

// statusOK applies status_code ranges; none given means 200-299, as
// keepalived 2.2 defaults.
func statusOK(code int, ranges [][2]int) bool {
	if len(ranges) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// localResourceError says whether a check attempt failed for want of a
// resource on this host (descriptors, socket buffers, memory: EMFILE,
// ENFILE, ENOBUFS, ENOMEM, from socket(), connect(), epoll_ctl() or an
// HTTP dial, however wrapped). Such an attempt says nothing about the
// real server: it has no verdict, and the real server keeps its state.
func localResourceError(err error) bool {
	for _, e := range [...]unix.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func describe(c *config.Checker, rs *config.RealServer) string {
	return c.Type.String() + " " + target(c, rs).String()
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	b   []byte
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// regexCache holds compiled url regexes by flags and pattern: the
// configuration compiled each once already, so a failure here cannot
// happen for a configuration that loaded.
var regexCache sync.Map

func compiledRegex(u config.URL) (*regexp.Regexp, error) {
	key := u.RegexFlags + "\x00" + u.Regex
	if re, ok := regexCache.Load(key); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := config.CompileRegex(u.Regex, u.RegexFlags)
	if err != nil {
		return nil, err
	}
	regexCache.Store(key, re)
	return re, nil
}

// regexVerdict applies a url's regex to the response as keepalived 2.2.7's
// check_regex does: the first match starting at or after regex_min_offset
// counts if it starts before RegexMaxOffset (regex_max_offset+1; 0: no
// bound); the url passes when matched differs from regex_no_match.
func regexVerdict(u config.URL, resp []byte) error {
	re, err := compiledRegex(u)
	if err != nil {
		// keepalived logs an invalid regex and checks without it.
		return nil
	}
	matched := false
	for _, loc := range re.FindAllIndex(resp, -1) {
		if loc[0] < u.RegexMinOffset {
			continue
		}
		matched = u.RegexMaxOffset == 0 || loc[0] < u.RegexMaxOffset
		break
	}
	switch {
	case matched && u.RegexNoMatch:
		return fmt.Errorf("regex %q matched (regex_no_match)", u.Regex)
	case !matched && !u.RegexNoMatch:
		return fmt.Errorf("regex %q did not match", u.Regex)
	}
	return nil
}
