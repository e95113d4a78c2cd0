package check

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// Spec is one checker as the manager runs it: a config.Checker resolved
// with its real and virtual server (where the probe goes, the Host header
// an HTTP probe sends), without source positions, comparable with ==.
// The slices of config.Checker (urls, UDP payloads, the MISC_CHECK
// command) are held in canonical strings so that Spec stays comparable.
type Spec struct {
	Kind config.CheckerType
	// Target is connect_ip/connect_port, else the real server's address
	// and port.
	Target   netip.AddrPort
	BindTo   netip.Addr
	BindPort uint16
	BindIf   string
	FWMark   uint32
	// ConnectTimeout is connect_timeout (keepalived's connection_to).
	ConnectTimeout   time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	DelayLoop        time.Duration
	Alpha            bool
	LogAllFailures   bool
	// HTTP_GET / SSL_GET: the checker's own virtualhost, the Host header
	// the probe sends (the checker's, else the real server's, else the
	// virtual server's virtualhost), and the url list (URLs, canonical).
	Virtualhost  string
	Host         string
	URLs         string
	HTTPProtocol string
	EnableSNI    bool
	FastRecovery bool
	// DNS_CHECK
	DNSType, DNSName string
	// UDP_CHECK
	Payload, ReplyData, ReplyMask string
	RequireReply                  bool
	MinReplyLen, MaxReplyLen      int
	// SMTP_CHECK
	HeloName string
	// FILE_CHECK
	TrackFile, TrackFilePath string
	FileWeight               int
	FileReverse              bool
	// BFD_CHECK
	BFD       string
	BFDSilent bool
	// MISC_CHECK: the command (argv, NUL-separated; MiscSet: misc_path
	// given) and who runs it.
	MiscSet             bool
	MiscArgv            string
	MiscUser, MiscGroup string
	MiscTimeout         time.Duration
	MiscDynamic         bool
}

// SpecOf resolves c, a checker of rs in vs (vs may be nil: no
// virtualhost from it).
func SpecOf(c *config.Checker, vs *config.VirtualServer, rs *config.RealServer) Spec {
	x := c.Extra()
	s := Spec{Kind: c.Type, Target: target(c, rs), BindTo: c.BindTo, BindPort: c.BindPort, BindIf: c.BindIf, FWMark: c.FWMark,
		ConnectTimeout: c.ConnectTimeout, Retry: c.Retry, DelayBeforeRetry: c.DelayBeforeRetry, Warmup: c.Warmup,
		DelayLoop: c.DelayLoop, Alpha: c.Alpha, LogAllFailures: c.LogAllFailures,
		Virtualhost: c.Virtualhost, HTTPProtocol: c.HTTPProtocol, EnableSNI: c.EnableSNI, FastRecovery: c.FastRecovery,
		DNSType: x.DNSType, DNSName: x.DNSName,
		Payload: bytesKey(x.Payload), ReplyData: bytesKey(x.ReplyData), ReplyMask: bytesKey(x.ReplyMask),
		RequireReply: x.RequireReply, MinReplyLen: x.MinReplyLen, MaxReplyLen: x.MaxReplyLen,
		HeloName: x.HeloName, TrackFile: x.TrackFile, TrackFilePath: x.TrackFilePath, FileWeight: x.FileWeight,
		FileReverse: x.FileReverse, BFD: x.BFD, BFDSilent: x.BFDSilent,
		MiscTimeout: c.MiscTimeout, MiscDynamic: x.MiscDynamic}
	if c.Type == config.CheckHTTP || c.Type == config.CheckSSL {
		// httpProbe's Host header.
		s.Host = c.Virtualhost
		if s.Host == "" {
			s.Host = rs.Virtualhost
		}
		if s.Host == "" && vs != nil {
			s.Host = vs.Virtualhost
		}
	}
	if x.URLs != nil {
		urls := append([]config.URL(nil), x.URLs...)
		for i := range urls {
			urls[i].Pos = config.Pos{}
			urls[i].StatusCodes = canonicalRanges(urls[i].StatusCodes)
		}
		b, _ := json.Marshal(urls)
		s.URLs = string(b)
	}
	if x.MiscPath != nil {
		s.MiscSet, s.MiscArgv = true, argvKey(x.MiscPath.Argv)
		s.MiscUser, s.MiscGroup = x.MiscPath.User, x.MiscPath.Group
	}
	return s
}

// bytesKey keeps nil apart from empty.
func bytesKey(b []byte) string {
	if b == nil {
		return ""
	}
	return "=" + string(b)
}

func argvKey(argv []string) string { return strings.Join(argv, "\x00") }

// Identity is what keepalived 2.2.7 compares to decide that a checker of
// a real server after a reload is one it had before (ipwrapper.c
// migrate_checkers: same checker type and the type's compare function
// says equal), and so keeps its state. Comparable with ==.
type Identity struct {
	// Family is the checker type as keepalived's checker_funcs know it:
	// HTTP_GET and SSL_GET are both CHECKER_HTTP, so one may become the
	// other and keep its state, as in keepalived.
	Family config.CheckerType
	// Conn is compare_conn_opts: destination, bindto (with its port),
	// bind_if, connect_timeout and fwmark. Zero for MISC_CHECK and
	// BFD_CHECK, which compare no connection options.
	Conn connIdentity
	// Params are the type's own compared parameters.
	Params string
}

type connIdentity struct {
	Dst            netip.AddrPort
	BindTo         netip.Addr
	BindPort       uint16
	BindIf         string
	ConnectTimeout time.Duration
	FWMark         uint32
}

// Identity is s's reload identity; ok is false for a checker keepalived
// never carries over (FILE_CHECK has no compare function: its state comes
// from the file, read again at once).
func (s Spec) Identity() (id Identity, ok bool) {
	conn := connIdentity{Dst: s.Target, BindTo: s.BindTo, BindPort: s.BindPort, BindIf: s.BindIf,
		ConnectTimeout: s.ConnectTimeout, FWMark: s.FWMark}
	switch s.Kind {
	case config.CheckTCP, config.CheckUDP, config.CheckPing:
		// compare_tcp_check, compare_udp_check, compare_ping_check: the
		// connection options alone (not UDP_CHECK's payload or reply).
		return Identity{Family: s.Kind, Conn: conn}, true
	case config.CheckHTTP, config.CheckSSL:
		// compare_http_check: connection options, the checker's own
		// virtualhost and each url's path, digest, status codes,
		// virtualhost and regex settings (not http_protocol, enable_sni
		// or fast_recovery).
		return Identity{Family: config.CheckHTTP, Conn: conn, Params: s.Virtualhost + "\x00" + s.URLs}, true
	case config.CheckSMTP:
		// compare_smtp_check: helo_name and the connection options.
		return Identity{Family: s.Kind, Conn: conn, Params: s.HeloName}, true
	case config.CheckDNS:
		// compare_dns_check: connection options, query type and name.
		return Identity{Family: s.Kind, Conn: conn, Params: s.DNSType + "\x00" + s.DNSName}, true
	case config.CheckMisc:
		// compare_misc_check: misc_dynamic and the script's arguments
		// (notify_script_compare: not its user, nor misc_timeout).
		d := "0"
		if s.MiscDynamic {
			d = "1"
		}
		return Identity{Family: s.Kind, Params: d + "\x00" + s.MiscArgv}, true
	case config.CheckBFD:
		// compare_bfd_check: the bfd_instance's name.
		return Identity{Family: s.Kind, Params: s.BFD}, true
	}
	return Identity{}, false
}

// probeKey is s less what only the checker's own tracker and logging read
// (see tracker.observe): checkers whose probe keys are equal send the same
// probe to the same place and reach the same verdict on the same answer.
func (s Spec) probeKey() Spec {
	s.Retry, s.DelayBeforeRetry, s.Warmup, s.DelayLoop = 0, 0, 0, 0
	s.Alpha, s.LogAllFailures, s.FastRecovery = false, false, false
	return s
}

// canonicalRanges is the set of status codes rs names as sorted, merged
// ranges: keepalived compares the set (a bitmap), not how it was written
// ("200-299" is "200-250,251-299").
func canonicalRanges(rs [][2]int) [][2]int {
	if len(rs) == 0 {
		return rs
	}
	out := append([][2]int(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	merged := out[:1]
	for _, r := range out[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1]+1 {
			last[1] = max(last[1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	return merged
}
