package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// lvsd genhash is keepalived 2.2.7's genhash (keepalived/check/
// check_genhash.c): the same options, parsed as getopt_long parses them,
// the same request, and the same digest HTTP_GET and SSL_GET compare
// (internal/check.BodyDigest), printed as genhash prints it. Differences
// (docs/packaging.md): where genhash, lacking the privilege to set a
// fwmark or meeting an unexpected connect error, retries for ever in
// silence, lvsd genhash says why on stderr and exits 1; the -v response
// time is lvsd's own.

const genhashLong = `genhash is keepalived's genhash utility: it fetches URL from the real
server with the request HTTP_GET (or SSL_GET, with -S) sends and prints the
MD5 digest those checkers compare with a url's "digest". Its options (in
getopt_long's syntax: long options may be abbreviated), output and exit
codes are keepalived 2.2.7's; lvsd also runs it when invoked under the
name "genhash".

- -s, --server ADDRESS: the real server's IPv4 or IPv6 address (required)
- -p, --port PORT: its port (required)
- -u, --url URL: the path to fetch (required)
- -S, --use-ssl: connect with TLS, as SSL_GET (the certificate is not verified)
- -I, --use-sni: send the virtualhost (-V) as TLS SNI
- -V, --use-virtualhost NAME: the Host header (default: ADDRESS:PORT)
- -P, --protocol 1.0|1.0c|1.1: HTTP/1.0 (default), 1.0 with Connection: close, or HTTP/1.1 with it
- -m, --fwmark MARK: mark the connection (SO_MARK)
- -t, --timeout SECONDS: connect and read timeout (default: none)
- -v, --verbose: dump the header, the hashed body and the digest, and the response time
- -h, --help: the usage

It prints the digest, or what failed (exit status 0 either way, as
keepalived's); a wrong command line prints the usage and exits 1.
`

func newGenhashCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "genhash -s ADDRESS -p PORT -u URL [-S] [-I] [-V VHOST] [-v] [-m FWMARK] [-P 1.0|1.0c|1.1] [-t SECONDS]",
		Short: "print the digest of a URL as keepalived's genhash does (for HTTP_GET/SSL_GET digest)",
		Long:  genhashLong,
		// Its options are genhash's, in Long; no cobra flags.
		DisableFlagsInUseLine: true,
		// getopt_long's syntax, not pflag's: the arguments are genhash's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runGenhash(os.Args[0]+" genhash", args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	// -h is genhash's; cobra's help flag stays out of the help and man page.
	cmd.Flags().BoolP("help", "h", false, "the usage")
	_ = cmd.Flags().MarkHidden("help")
	return cmd
}

// genhashOptions is what check_genhash_parse_cmdline fills in.
type genhashOptions struct {
	verbose, ssl, sni bool
	server            netip.Addr
	port              uint16
	url               string
	vhost             string
	fwmark            uint32
	protocol          string // "", "1.0", "1.0C", "1.1"
	timeoutUS         uint32 // keepalived's co->connection_to in microseconds
}

const genhashUsageOptions = `Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
`

func genhashUsage(w io.Writer, prog string) {
	fmt.Fprintf(w, "Usage: %s COMMAND [OPTIONS]\nCommands:\n   -s server-address -p port -u url\n   -S -s server-address -p port -u url\n   -h\n\n", prog)
	io.WriteString(w, genhashUsageOptions)
}

// genhashLongOpts is check_genhash.c's long_options (keepalived built with
// SNI support, as Debian's is).
var genhashLongOpts = []struct {
	name   string
	hasArg bool
	val    byte
}{
	{"help", false, 'h'},
	{"verbose", false, 'v'},
	{"use-ssl", false, 'S'},
	{"use-sni", false, 'I'},
	{"server", true, 's'},
	{"use-virtualhost", true, 'V'},
	{"port", true, 'p'},
	{"url", true, 'u'},
	{"fwmark", true, 'm'},
	{"protocol", true, 'P'},
	{"timeout", true, 't'},
}

// genhashShortOpts is the optstring ":hvSs:V:p:u:m:P:t:I" without its
// leading colon: each option and whether it takes an argument.
var genhashShortOpts = map[byte]bool{'h': false, 'v': false, 'S': false, 's': true, 'V': true, 'p': true, 'u': true, 'm': true, 'P': true, 't': true, 'I': false}

// parseGenhash is check_genhash_parse_cmdline over GNU getopt_long (with
// its argument permutation): messages on stderr, false for the usage.
func parseGenhash(args []string, stderr io.Writer) (*genhashOptions, bool) {
	o := &genhashOptions{timeoutUS: math.MaxUint32}
	// "Trivial sanity check": argc <= 2.
	if len(args) <= 1 {
		return nil, false
	}
	var haveServer, havePort, haveURL, bad bool
	var rest []string
	// apply is the switch of check_genhash_parse_cmdline for one option;
	// false ends the parse at once (return -1).
	apply := func(c byte, arg string) bool {
		switch c {
		case 'h':
			bad = true
		case 'v':
			o.verbose = true
		case 'S':
			o.ssl = true
		case 'I':
			o.sni = true
		case 's':
			a, ok := genhashParseAddr(arg)
			if !ok {
				fmt.Fprintf(stderr, "server should be an IP, not %s\n", arg)
				return false
			}
			o.server, haveServer = a, true
		case 'V':
			o.vhost = arg
		case 'p':
			v, ok := cStrtol(arg)
			if !ok || v <= 0 || v > 65535 {
				fmt.Fprintf(stderr, "invalid port number '%s'\n", arg)
				return false
			}
			o.port, havePort = uint16(v), true
		case 'u':
			o.url, haveURL = arg, true
		case 'm':
			start := strings.TrimLeft(arg, " \t")
			v, end := cStrtoulString(start)
			if end != len(start) || strings.HasPrefix(start, "-") || strings.HasPrefix(start, " ") {
				fmt.Fprintf(stderr, "invalid fwmark '%s'\n", arg)
				return false
			}
			o.fwmark = uint32(v)
		case 'P':
			switch arg {
			case "1.0":
				o.protocol = "1.0"
			case "1.0c", "1.0C":
				o.protocol = "1.0C"
			case "1.1":
				o.protocol = "1.1"
			default:
				fmt.Fprintf(stderr, "invalid HTTP protocol version '%s'\n", arg)
				return false
			}
		case 't':
			start := strings.TrimLeft(arg, " \t")
			v, end := cStrtoulString(start)
			if end != len(start) || strings.HasPrefix(start, "-") || start == "" {
				fmt.Fprintf(stderr, "invalid timeout '%s'\n", arg)
				return false
			}
			o.timeoutUS = uint32(v) * 1000000 // unsigned arithmetic, as keepalived's
		}
		return true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			idx, ambiguous := -1, false
			for j, lo := range genhashLongOpts {
				if lo.name == name {
					idx, ambiguous = j, false
					break
				}
				if strings.HasPrefix(lo.name, name) {
					if idx >= 0 {
						ambiguous = true
					}
					idx = j
				}
			}
			if idx < 0 || ambiguous {
				fmt.Fprintf(stderr, "Unknown option %s\n", a)
				bad = true
				continue
			}
			lo := genhashLongOpts[idx]
			switch {
			case !lo.hasArg && hasVal:
				fmt.Fprintf(stderr, "Unknown option %s\n", a)
				bad = true
				continue
			case lo.hasArg && !hasVal:
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "Missing parameter for option --%s\n", lo.name)
					bad = true
					continue
				}
				i++
				val = args[i]
			}
			if !apply(lo.val, val) {
				return nil, false
			}
		case strings.HasPrefix(a, "-") && a != "-":
			for k := 1; k < len(a); k++ {
				c := a[k]
				takesArg, known := genhashShortOpts[c]
				if !known {
					fmt.Fprintf(stderr, "Unknown option -%c\n", c)
					bad = true
					continue
				}
				if !takesArg {
					if !apply(c, "") {
						return nil, false
					}
					continue
				}
				var val string
				if k+1 < len(a) {
					val = a[k+1:]
				} else if i+1 < len(args) {
					i++
					val = args[i]
				} else {
					fmt.Fprintf(stderr, "Missing parameter for option -%c\n", c)
					bad = true
					break
				}
				if !apply(c, val) {
					return nil, false
				}
				break
			}
		default:
			rest = append(rest, a)
		}
	}
	if bad {
		return nil, false
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "Unexpected argument(s): %s\n", strings.Join(rest, " "))
		return nil, false
	}
	return o, haveServer && havePort && haveURL
}

// genhashParseAddr is keepalived's inet_stosockaddr for -s: IPv6 if the
// text has a colon, anything from a '-' or '/' on dropped (ranges and
// masks), then inet_pton (no zone).
func genhashParseAddr(s string) (netip.Addr, bool) {
	v6 := strings.Contains(s, ":")
	if i := strings.IndexAny(s, "-"); i >= 0 {
		s = s[:i]
	} else if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a, true
}

// cStrtoulString is C's strtoul(s, &end, 10) on a Go string (a NUL ends
// C's string).
func cStrtoulString(s string) (uint64, int) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		v, _ := cStrtoulString(s[:i])
		return v, -1
	}
	var v uint64
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start, over := i, false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			over = true
		}
		v = v*10 + d
		i++
	}
	switch {
	case i == start:
		return 0, 0
	case over:
		return math.MaxUint64, i
	case neg:
		return -v, i
	}
	return v, i
}

// cStrtol is strtol(s, &end, 10) with *end == '\0' required.
func cStrtol(s string) (int64, bool) {
	if strings.IndexByte(s, 0) >= 0 {
		return 0, false
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := i < len(s) && s[i] == '-'
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	var v int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if v < math.MaxInt64/10 {
			v = v*10 + int64(s[i]-'0')
		} else {
			v = math.MaxInt64 // LONG_MAX: out of every range here
		}
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// runGenhash is keepalived's check_genhash: 1 with the usage when the
// command line is wrong, else 0 whatever the server did (genhash's exit
// code), 1 when lvsd could not even try (see the file comment).
func runGenhash(prog string, args []string, stdout, stderr io.Writer) int {
	o, ok := parseGenhash(args, stderr)
	if !ok {
		genhashUsage(stderr, prog)
		return 1
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	start := time.Now()
	msg, err := o.fetch(out, stderr)
	if err != nil {
		out.Flush()
		fmt.Fprintf(stderr, "genhash: %v\n", err)
		return 1
	}
	if msg != "" {
		fmt.Fprintln(out, msg)
	}
	if o.verbose {
		fmt.Fprintf(out, "\nGlobal response time for [%s] = %d usecs\n", o.url, time.Since(start).Microseconds())
	}
	return 0
}

// fetch is one pass of keepalived's HTTP checker threads in genhash mode:
// the message timeout_epilog would print ("" when the digest or "no data
// received" was written), or an error where genhash would retry for ever.
func (o *genhashOptions) fetch(out *bufio.Writer, stderr io.Writer) (string, error) {
	to := time.Duration(o.timeoutUS) * time.Microsecond
	dst := netip.AddrPortFrom(o.server, o.port)
	connectDeadline := time.Now().Add(to)
	conn, msg, err := genhashConnect(dst, o.fwmark, connectDeadline)
	if err != nil || msg != "" {
		return msg, err
	}
	defer conn.Close()
	var rw io.ReadWriter = conn
	var tc *tls.Conn
	if o.ssl {
		cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // genhash and SSL_GET do not verify
		if o.sni && o.vhost != "" {
			cfg.ServerName = o.vhost
		}
		tc = tls.Client(conn, cfg)
		_ = conn.SetDeadline(connectDeadline)
		if err := tc.Handshake(); err != nil {
			if isTimeout(err) {
				return "Timeout connecting", nil
			}
			return "SSL handshake/communication error connecting to", nil
		}
		rw = tc
	}
	_ = conn.SetDeadline(time.Now().Add(to))
	if _, err := rw.Write(check.KeepalivedRequest(o.url, o.protocol, o.vhost, dst)); err != nil {
		if isTimeout(err) {
			return "Timeout WEB write", nil
		}
		return "Cannot send get request to", nil
	}
	// http_response_thread: the socket becomes readable.
	_ = conn.SetDeadline(time.Now().Add(to))
	if err := waitReadable(conn); err != nil {
		if isTimeout(err) {
			return "Timeout WEB read", nil
		}
	}
	d := check.NewBodyDigest()
	if o.verbose {
		d.Trace = out
	}
	digestLine := func(sum [16]byte) {
		fmt.Fprintf(out, "%x\n", sum[:])
	}
	if o.ssl {
		// ssl_read_thread keeps the deadline of its first registration.
		_ = conn.SetDeadline(time.Now().Add(to))
		for {
			b := d.Buf()
			var n int
			var err error
			if len(b) > 0 {
				n, err = tc.Read(b)
			} else {
				err = io.ErrShortBuffer
			}
			if n > 0 {
				d.Feed(n)
			}
			switch {
			case err == nil:
				continue
			case isTimeout(err):
				return "Timeout SSL read", nil
			case errors.Is(err, io.EOF): // close_notify: SSL_ERROR_ZERO_RETURN
				sum := d.Sum(true)
				if !d.HeaderSeen() {
					return "SSL read error from", nil
				}
				digestLine(sum)
				return "", nil
			default:
				sum := d.Sum(false)
				if !d.HeaderSeen() {
					out.Flush()
					fmt.Fprintln(stderr, "no data received from remote webserver")
					return "", nil
				}
				digestLine(sum)
				return "", nil
			}
		}
	}
	for {
		b := d.Buf()
		_ = conn.SetReadDeadline(time.Now().Add(to))
		var n int
		var err error
		if len(b) > 0 {
			n, err = conn.Read(b)
		} else {
			err = io.EOF // read(fd, buf, 0) returns 0
		}
		if n > 0 {
			d.Feed(n)
			if err == nil {
				continue
			}
		}
		switch {
		case err == nil:
			continue
		case isTimeout(err):
			return "Timeout HTTP read", nil
		case errors.Is(err, io.EOF):
			sum := d.Sum(true)
			if !d.HeaderSeen() {
				out.Flush()
				fmt.Fprintln(stderr, "no data received from remote webserver")
				return "", nil
			}
			digestLine(sum)
			return "", nil
		default:
			d.Sum(false)
			return "Read error with", nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitReadable waits, within conn's read deadline, until conn's socket has
// something to read, without reading it.
func waitReadable(conn net.Conn) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			if err == unix.EINTR {
				continue
			}
			return n > 0 || err != nil
		}
	})
}

// genhashConnect is keepalived's tcp_bind_connect and socket_state for a
// genhash: a non-blocking socket with SO_LINGER 5 s (and SO_MARK), its
// connect awaited until deadline. msg is what timeout_epilog prints when
// the server cannot be reached; err is for what genhash would retry.
func genhashConnect(dst netip.AddrPort, fwmark uint32, deadline time.Time) (net.Conn, string, error) {
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
	if dst.Addr().Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, "", fmt.Errorf("WEB connection fail to create socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 5})
	if fwmark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(fwmark)); err != nil {
			return nil, "", fmt.Errorf("Error setting fwmark %d to socket: %w", fwmark, err) //nolint:staticcheck // keepalived's message
		}
	}
	err = unix.Connect(fd, sa)
	switch {
	case err == nil:
	case err == unix.EINPROGRESS:
		for {
			ms := time.Until(deadline).Milliseconds()
			if ms < 0 {
				ms = 0
			}
			if ms > math.MaxInt32 {
				ms = math.MaxInt32
			}
			n, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(ms))
			if perr == unix.EINTR {
				continue
			}
			if perr != nil {
				return nil, "", fmt.Errorf("poll: %w", perr)
			}
			if n == 0 {
				if time.Now().Before(deadline) {
					continue
				}
				return nil, "Timeout connecting", nil
			}
			break
		}
		soerr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case gerr != nil:
			return nil, "Error connecting", nil
		case soerr == 0:
		case unix.Errno(soerr) == unix.ETIMEDOUT:
			return nil, "Timeout connecting", nil
		default:
			return nil, "Connection failed", nil
		}
	default:
		switch err {
		case unix.ENETUNREACH, unix.EHOSTUNREACH, unix.ECONNREFUSED, unix.EHOSTDOWN,
			unix.ENETDOWN, unix.ECONNRESET, unix.ECONNABORTED, unix.ETIMEDOUT:
			return nil, "HTTP_CHECK - network unreachable", nil
		}
		return nil, "", fmt.Errorf("connect %s: %w", dst, err)
	}
	f := os.NewFile(uintptr(fd), "genhash")
	conn, err := net.FileConn(f)
	f.Close()
	ok = true // f.Close closed fd
	if err != nil {
		return nil, "", err
	}
	return conn, "", nil
}

// addToolCommands adds the commands around the daemon: keepalived's
// genhash, and the hidden generator of the man pages (man.go).
func addToolCommands(root *cobra.Command) {
	root.AddCommand(newGenhashCommand(), newManCommand())
	if root.Long == "" {
		root.Long = rootLong
	}
}

// rootLong is lvsd --help's and lvsd(8)'s description.
const rootLong = `lvsd is keepalived rewritten in Go as one daemon: VRRP (virtual
addresses that move between directors), health checks of real servers and
the kernel's IPVS table (LVS), configured by a keepalived.conf, which it
reads where keepalived reads it. "lvsd check-config" checks a file strictly;
"lvsd run" serves it (what keepalived 2.2.7 runs past, lvsd logs and runs
past); "lvsd status", "reload" and "stop" talk to the running daemon;
"lvsd genhash" is keepalived's genhash; "lvsd realserver" prepares a DR real
server.

Files:

- /etc/keepalived/keepalived.conf: the configuration (-f)
- /etc/default/lvsd: DAEMON_ARGS, the arguments lvsd.service gives "lvsd run"
- /run/lvsd: the state directory: control socket lvsd.sock, the SIGUSR1, SIGUSR2 and SIGJSON dumps keepalived.data, keepalived.stats and keepalived.json
- /usr/share/doc/lvsd: the operations guide, compatibility table and example configurations

Signals to "lvsd run": SIGHUP reloads, SIGTERM and SIGINT stop (priority-0
adverts, addresses and IPVS services removed), SIGUSR1, SIGUSR2 and
SIGJSON (SIGRTMIN+2) write keepalived's dumps.

See also keepalived.conf(5), keepalived(8), genhash(1), ipvsadm(8).
`
