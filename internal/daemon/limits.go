package daemon

import (
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"
)

// Descriptors are shared by everything lvsd does: a TCP_CHECK needs one
// for its connect, VRRP its sockets, IPVS its netlink socket. The metrics
// listener and the control socket are open to other processes, so what
// they can hold is bounded, and the open-file limit is raised to cover the
// configuration's checkers and VRRP instances plus a reserve.
const (
	// metricsMaxConns and controlMaxConns bound the connections each
	// endpoint serves at once; further ones wait in the kernel's listen
	// backlog, which costs lvsd no descriptor, until one ends.
	metricsMaxConns = 64
	controlMaxConns = 16

	// Every connection ends: a request must arrive whole within
	// endpointReadTimeout (its header within endpointReadHeaderTimeout),
	// and a kept-alive connection is closed after endpointIdleTimeout
	// without a next request.
	endpointReadHeaderTimeout = 5 * time.Second
	endpointReadTimeout       = 10 * time.Second
	endpointIdleTimeout       = 5 * time.Second
	// A scrape of 10,000 real servers takes well under a second; a client
	// that does not read its answer is cut off after this.
	metricsWriteTimeout = 30 * time.Second
	// A reload request waits for the reload, which for a large
	// configuration can take a while.
	controlWriteTimeout = 2 * time.Minute

	// fdReserve is what lvsd needs besides checkers, VRRP and the
	// endpoints: standard streams, epoll and event descriptors, the IPVS
	// netlink socket, configuration and include files being read, pipes of
	// scripts running, HTTP_GET connections over the checkers' own count
	// while a reload replaces them.
	fdReserve = 256
	// fdPerInstance covers a VRRP instance's sockets (advert receive and
	// send, gratuitous ARP/NA) in the worst case of one set each.
	fdPerInstance = 4
)

// fdNeed is how many descriptors cfg may need at once: one per checker
// (a checker has at most one attempt in flight), the VRRP instances'
// sockets, both endpoints at their caps, and the reserve.
func fdNeed(cfg *config.Config) uint64 {
	n := fdReserve + metricsMaxConns + controlMaxConns + fdPerInstance*len(cfg.Instances)
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			n += len(rs.Checkers)
		}
	}
	return uint64(n)
}

// raiseFileLimit makes RLIMIT_NOFILE at least need, as keepalived's
// set_max_file_limit does: when the soft limit is below need, it is
// raised to the hard limit, and the hard limit too when that is below need
// (as root). A limit that cannot be raised is logged, not fatal: lvsd runs,
// and a check that meets EMFILE is skipped, not failed.
func raiseFileLimit(need uint64, log *slog.Logger) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("open file limit unknown", "err", err)
		return
	}
	if lim.Cur >= need {
		return // the Go runtime already raised the soft limit to the hard one
	}
	want := unix.Rlimit{Cur: max(lim.Max, need), Max: max(lim.Max, need)}
	err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want)
	if err != nil && lim.Max > lim.Cur {
		want = unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if e := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); e != nil {
			want = lim
		}
	} else if err != nil {
		want = lim
	}
	if want.Cur < need {
		log.Warn("open file limit below what the configuration may need; checks that meet it are skipped, not failed",
			"soft", want.Cur, "hard", want.Max, "need", need, "err", err)
		return
	}
	log.Info("open file limit raised", "from", lim.Cur, "to", want.Cur, "hard", want.Max, "need", need)
}

// endpointServer is an HTTP server with lvsd's endpoint timeouts, which
// end every connection; serve it on a limitListener.
func endpointServer(h http.Handler, write time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: endpointReadHeaderTimeout,
		ReadTimeout:       endpointReadTimeout,
		WriteTimeout:      write,
		IdleTimeout:       endpointIdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(&serverErrors{log: log}, "", 0),
	}
}

// serverErrors takes an endpoint server's error log. Accept errors come
// in bursts (out of descriptors, the server retries with a growing pause
// and logs every retry): one line starts a burst, and the next one, at
// least acceptErrorQuiet later, says how many were left out.
type serverErrors struct {
	log        *slog.Logger
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const acceptErrorQuiet = 10 * time.Second

func (w *serverErrors) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.HasPrefix(msg, "http: Accept error") {
		w.mu.Lock()
		if time.Since(w.last) < acceptErrorQuiet {
			w.suppressed++
			w.mu.Unlock()
			return len(p), nil
		}
		n := w.suppressed
		w.last, w.suppressed = time.Now(), 0
		w.mu.Unlock()
		w.log.Warn("endpoint", "err", msg, "left_out_since_last", n)
		return len(p), nil
	}
	w.log.Warn("endpoint", "err", msg)
	return len(p), nil
}

// namedListener reports addr as its address: the control socket is bound
// under a temporary name and moved, and its errors should name the path.
type namedListener struct {
	net.Listener
	addr net.Addr
}

func (l namedListener) Addr() net.Addr { return l.addr }

func (l namedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if oe, ok := err.(*net.OpError); ok {
		named := *oe
		named.Addr = l.addr
		err = &named
	}
	return c, err
}

// limitListener caps the connections accepted from ln and not yet closed.
func limitListener(ln net.Listener, maxConns int) net.Listener {
	return netutil.LimitListener(ln, maxConns)
}
