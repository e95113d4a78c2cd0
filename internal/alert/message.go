// Package alert sends keepalived's e-mail alerts: the subjects, bodies and
// headers keepalived 2.2.7 writes (core/smtp.c, vrrp/vrrp_notify.c, the
// checkers' smtp_alert calls, check/ipwrapper.c), over plain SMTP as
// keepalived speaks it (HELO, MAIL, RCPT per recipient, DATA, QUIT; no
// TLS, no AUTH), from a bounded queue that never holds up VRRP or the
// checkers.
package alert

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// keepalived's buffer sizes (smtp.h): the subject and the body are cut to
// one byte less.
const (
	maxHeadersLength = 256
	maxBodyLength    = 512
)

// Spec is what the alerts need of the configuration, resolved: who gets
// mail, how it is sent, and which instances, sync groups, virtual and
// real servers send it.
type Spec struct {
	RouterID       string
	To             []string
	From           string
	Server         string // host: an IP address or a name
	Port           uint16
	HeloName       string
	ConnectTimeout time.Duration

	NoEmailFaults   bool
	NoCheckerEmails bool

	// smtp_alert resolved as keepalived resolves it (vrrp.c, check_data.c).
	Instances      map[string]bool
	Groups         map[string]bool
	VirtualServers map[string]bool          // by config.VirtualServer.Key()
	RealServers    map[RealServerKey]bool   // by virtual server key and address
	Names          map[string]VirtualServer // by config.VirtualServer.Key()
}

// MailsRealServers reports whether any real server sends mail (none
// does without a server and recipients: Enabled).
func (s Spec) MailsRealServers() bool {
	if !s.Enabled() {
		return false
	}
	for _, on := range s.RealServers {
		if on {
			return true
		}
	}
	return false
}

// RealServerKey names a real server of a virtual server.
type RealServerKey struct {
	VS string
	RS netip.AddrPort
}

// VirtualServer is what a subject says of a virtual server.
type VirtualServer struct {
	Group    string
	FWMark   uint32
	Addr     netip.AddrPort
	Protocol config.Protocol // TCP, UDP, SCTP or none
}

// Enabled says whether any mail can be sent: keepalived sends none
// without a recipient or an SMTP server.
func (s *Spec) Enabled() bool { return len(s.To) > 0 && s.Server != "" }

// Host is the names keepalived takes from the host when the configuration
// gives none: its local_name (the canonical name of uname's nodename) and
// the user it runs as.
type Host struct {
	LocalName string // "" when it cannot be found (keepalived's "<unknown>")
	User      string
}

// SpecFrom resolves cfg's alert settings as keepalived 2.2.7 does
// (global_data.c init_global_data, vrrp.c, check_data.c).
func SpecFrom(cfg *config.Config, h Host) Spec {
	g := &cfg.Global
	s := Spec{
		RouterID:        g.RouterID,
		To:              append([]string(nil), g.NotificationEmail...),
		From:            g.NotificationEmailFrom,
		Server:          g.SMTPServer,
		Port:            g.SMTPPort,
		HeloName:        g.SMTPHeloName,
		ConnectTimeout:  g.SMTPConnectTimeout,
		NoEmailFaults:   g.NoEmailFaults,
		NoCheckerEmails: g.NoCheckerEmails,
		Instances:       map[string]bool{},
		Groups:          map[string]bool{},
		VirtualServers:  map[string]bool{},
		RealServers:     map[RealServerKey]bool{},
		Names:           map[string]VirtualServer{},
	}
	if s.Port == 0 {
		s.Port = 25
	}
	if s.ConnectTimeout <= 0 {
		s.ConnectTimeout = 30 * time.Second
	}
	if s.RouterID == "" {
		s.RouterID = h.LocalName
		if s.RouterID == "" {
			s.RouterID = "<unknown>"
		}
	}
	// Only with a server and a known local name are From and the HELO
	// name defaulted; smtp.c then says HELO localhost and sends
	// MAIL FROM:<(null)>.
	if s.Server != "" && h.LocalName != "" {
		if s.From == "" && h.User != "" {
			s.From = h.User + "@" + h.LocalName
		}
		if s.HeloName == "" {
			s.HeloName = h.LocalName
		}
	}
	if s.HeloName == "" {
		s.HeloName = "localhost"
	}
	if s.From == "" {
		s.From = "(null)"
	}
	// config.Load resolves every smtp_alert (own, else smtp_alert_vrrp /
	// smtp_alert_checker, else smtp_alert, else keepalived's default):
	// this only reads it.
	for _, in := range cfg.Instances {
		s.Instances[in.Name] = on(in.SMTPAlert)
	}
	for _, sg := range cfg.SyncGroups {
		s.Groups[sg.Name] = on(sg.SMTPAlert)
	}
	for _, vs := range cfg.VirtualServers {
		key := vs.Key()
		s.VirtualServers[key] = on(vs.SMTPAlert)
		s.Names[key] = VirtualServer{Group: vs.Group, FWMark: vs.FWMark, Addr: netip.AddrPortFrom(vs.Addr, vs.Port), Protocol: vs.Protocol}
		for _, rs := range vs.RealServers {
			s.RealServers[RealServerKey{key, netip.AddrPortFrom(rs.Addr, rs.Port)}] = on(rs.SMTPAlert)
		}
	}
	return s
}

// on reads a flag config.Load always sets (nil only in a hand-built
// configuration: off).
func on(b *bool) bool { return b != nil && *b }

// LocalHost finds keepalived's local_name and user for SpecFrom.
func LocalHost() Host {
	var h Host
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	name, err := os.Hostname()
	if err != nil {
		return h
	}
	h.LocalName = canonicalName(name)
	return h
}

// Message is one alert: its subject and body as keepalived formats them.
type Message struct {
	Subject string
	Body    string
}

func cut(s string, n int) string {
	if len(s) > n-1 {
		return s[:n-1]
	}
	return s
}

func newMessage(subject, body string) Message {
	return Message{Subject: cut(subject, maxHeadersLength), Body: cut(body, maxBodyLength)}
}

// VRRP states as the alerts name them (vrrp.State.String()).
const (
	StateMaster  = "MASTER"
	StateBackup  = "BACKUP"
	StateFault   = "FAULT"
	StateStopped = "STOP"
	StateDeleted = "DELETED"
)

// stateMail is a state's subject suffix and body in a VRRP alert.
type stateMail struct{ what, body string }

// instanceMails are vrrp_smtp_notifier's mails, by state entered.
var instanceMails = map[string]stateMail{
	StateMaster:  {"Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
	StateBackup:  {"Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
	StateFault:   {"Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
	StateStopped: {"Stopping", "=> VRRP Instance stopping <="},
	StateDeleted: {"Deleted", "=> VRRP Deleted at reload <="},
}

// groupMails are vrrp_sync_smtp_notifier's mails, by state entered.
var groupMails = map[string]stateMail{
	StateMaster:  {"Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
	StateBackup:  {"Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
	StateFault:   {"Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="},
	StateStopped: {"Stopping", "=> All VRRP group instances are now stopping <="},
}

// InstanceMessage is vrrp_smtp_notifier's mail for instance entering
// state; false for a state it sends nothing for.
func InstanceMessage(routerID, instance, state string) (Message, bool) {
	return vrrpMessage(instanceMails, "[%s] VRRP Instance %s - %s", routerID, instance, state)
}

// GroupMessage is vrrp_sync_smtp_notifier's mail for a sync group.
func GroupMessage(routerID, group, state string) (Message, bool) {
	return vrrpMessage(groupMails, "[%s] VRRP Group %s - %s", routerID, group, state)
}

func vrrpMessage(mails map[string]stateMail, subjectFormat, routerID, name, state string) (Message, bool) {
	m, ok := mails[state]
	if !ok {
		return Message{}, false
	}
	return newMessage(fmt.Sprintf(subjectFormat, routerID, name, m.what), m.body), true
}

// FormatVS is keepalived's FMT_VS: "[group]:0", "FWM 7" or "[ip]:tcp:port".
func FormatVS(vs VirtualServer) string {
	switch {
	case vs.Group != "":
		// format_vs prints the port of the group's (unset) address.
		return fmt.Sprintf("[%s]:%d", vs.Group, 0)
	case vs.FWMark != 0:
		return fmt.Sprintf("FWM %d", vs.FWMark)
	}
	return trio(vs.Addr, vs.Protocol)
}

// FormatRS is keepalived's FMT_RS: the real server's "[ip]:proto:port",
// with its virtual server's protocol.
func FormatRS(rs netip.AddrPort, vs VirtualServer) string { return trio(rs, vs.Protocol) }

// trio is inet_sockaddrtotrio: "[%s]:%s:%d".
func trio(a netip.AddrPort, proto config.Protocol) string {
	p := "?"
	switch proto {
	case config.ProtoTCP:
		p = "tcp"
	case config.ProtoUDP:
		p = "udp"
	case config.ProtoSCTP:
		p = "sctp"
	case config.ProtoNone:
		p = "none"
	}
	return fmt.Sprintf("[%s]:%s:%d", a.Addr().Unmap().WithZone(""), p, a.Port())
}

// CheckerBody is the body a checker of type typ sends when it passes (up)
// or fails, as each keepalived 2.2.7 checker writes it. MISC_CHECK's
// failure is "failed" or, for a script that ran out of time, "timed out"
// (see MiscBody). FILE_CHECK sends none: "".
func CheckerBody(typ config.CheckerType, up bool) string {
	switch typ {
	case config.CheckTCP:
		return map[bool]string{true: "=> TCP CHECK succeed on service <=", false: "=> TCP CHECK failed on service <="}[up]
	case config.CheckHTTP, config.CheckSSL:
		return map[bool]string{true: "=> CHECK succeed on service <=", false: "=> CHECK failed on service : HTTP request failed <="}[up]
	case config.CheckSMTP:
		return map[bool]string{true: "=> CHECK succeed on service <=", false: "=> CHECK failed on service <="}[up]
	case config.CheckMisc:
		return MiscBody(map[bool]string{true: "succeeded", false: "failed"}[up])
	case config.CheckDNS:
		return map[bool]string{true: "=> DNS_CHECK: succeed on service <=", false: "=> DNS_CHECK: failed on service <="}[up]
	case config.CheckUDP:
		return map[bool]string{true: "=> UDP CHECK succeed on service <=", false: "=> UDP CHECK failed on service <="}[up]
	case config.CheckPing:
		return map[bool]string{true: "=> ICMP CHECK succeed on service <=", false: "=> ICMP CHECK failed on service <="}[up]
	case config.CheckFile:
		return "" // check_file.c sends no mail
	}
	return map[bool]string{true: "=> CHECK succeed on service <=", false: "=> CHECK failed on service <="}[up]
}

// MiscBody is check_misc.c's "=> MISC CHECK %s on service <=" with
// "succeeded", "failed" or "timed out".
func MiscBody(result string) string {
	return cut(fmt.Sprintf("=> MISC CHECK %s on service <=", result), 40)
}

// BFDBody is check_bfd.c's body for BFD instance name going up or down.
func BFDBody(name string, up bool) string {
	return fmt.Sprintf("=> BFD CHECK %s %s on service <=", name, map[bool]string{true: "succeeded", false: "failed"}[up])
}

// RealServerMessage is SMTP_MSG_RS: a checker's verdict on rs; alive is
// the real server's state after it (not the checker's).
func RealServerMessage(routerID string, rs netip.AddrPort, vs VirtualServer, alive bool, body string) Message {
	return newMessage(realServerSubject(routerID, rs, vs, alive), body)
}

// realServerSubject is SMTP_MSG_RS's and SMTP_MSG_RS_SHUT's subject.
func realServerSubject(routerID string, rs netip.AddrPort, vs VirtualServer, alive bool) string {
	return fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", routerID, FormatRS(rs, vs), FormatVS(vs), upDown(alive))
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// RealServerRemovedMessage is SMTP_MSG_RS_SHUT (ipwrapper.c
// clear_service_rs): a real server in service taken out by a reload
// ("=> Removing <=") or at shutdown ("=> Shutting down <=").
func RealServerRemovedMessage(routerID string, rs netip.AddrPort, vs VirtualServer, stopping bool) Message {
	body := "=> Removing <="
	if stopping {
		body = "=> Shutting down <="
	}
	return newMessage(realServerSubject(routerID, rs, vs, false), body)
}

// QuorumMessage is SMTP_MSG_VS (ipwrapper.c do_vs_notifies): a virtual
// server gaining or losing its quorum; init for the state found at start.
func QuorumMessage(routerID string, vs VirtualServer, up, init bool, quorum, hysteresis int, threshold, weightSum int64) Message {
	what := map[[2]bool]string{{true, true}: "Starting with quorum up", {true, false}: "Gained quorum",
		{false, true}: "Starting with quorum down", {false, false}: "Lost quorum"}[[2]bool{up, init}]
	body := fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, quorum, hysteresis, threshold, weightSum)
	return newMessage(fmt.Sprintf("[%s] Virtualserver %s - %s", routerID, FormatVS(vs), upDown(up)), body)
}

// rfc822Date is smtp.c's strftime("%a, %d %b %Y %H:%M:%S %z") in local
// time.
func rfc822Date(t time.Time) string { return t.Local().Format("Mon, 02 Jan 2006 15:04:05 -0700") }

// Data is the DATA payload keepalived sends (SMTP_HEADERS_CMD,
// SMTP_BODY_CMD, SMTP_SEND_CMD): headers, the body, and the end mark.
func Data(m Message, from string, to []string, date time.Time) string {
	return fmt.Sprintf("Date: %s\r\nFrom: %s\r\nSubject: %s\r\nX-Mailer: Keepalived\r\nTo: %s\r\n\r\n%s\r\n\r\n.\r\n",
		rfc822Date(date), from, m.Subject, toHeader(to), m.Body)
}

// toHeader is build_to_header_rcpt_addrs: the recipients joined by ", ",
// within keepalived's 1023 bytes.
func toHeader(to []string) string {
	var b strings.Builder
	avail := 1023
	for i, a := range to {
		if i > 0 {
			if avail < 2 {
				break
			}
			b.WriteString(", ")
			avail -= 2
		}
		if avail < len(a) {
			break
		}
		b.WriteString(a)
		avail -= len(a)
	}
	return b.String()
}

// canonicalName is get_local_name: getaddrinfo's canonical name of the
// node name (AI_CANONNAME), "" when the name does not resolve.
func canonicalName(node string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := net.DefaultResolver.LookupCNAME(ctx, node)
	if err != nil || c == "" {
		return ""
	}
	return strings.TrimSuffix(c, ".")
}
