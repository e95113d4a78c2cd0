package alert

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// QueueSize bounds the mails waiting to be sent; more are dropped (and
// counted), so an unreachable server never holds up VRRP or the checkers.
const QueueSize = 64

// Attempts bounds the tries of one mail; RetryDelays are the waits
// between them. keepalived tries once; lvsd tries again after a failure
// before the message was handed over (never after, so no mail is sent
// twice).
var (
	Attempts    = 3
	RetryDelays = []time.Duration{2 * time.Second, 10 * time.Second}
)

// Stats counts the alerts.
type Stats struct {
	Sent    uint64 // delivered
	Failed  uint64 // given up after the last attempt
	Dropped uint64 // not queued: the queue was full, or not running
	Retries uint64 // attempts after a failed one
	Queued  int    // waiting now
}

type job struct {
	msg  Message
	spec *Spec
}

// Sender queues and sends alerts. Its methods never block.
type Sender struct {
	log  *slog.Logger
	spec atomic.Pointer[Spec]
	q    chan job

	mu        sync.Mutex
	lastInst  map[string]string // keepalived's last_email_state
	lastGroup map[string]string

	sent, failed, dropped, retries atomic.Uint64
	// failing: a failure was logged; the next is logged only after a
	// success (under mu).
	failing      bool
	failingSince uint64

	// send is the SMTP session; tests replace it.
	send func(ctx context.Context, addr string, timeout time.Duration, helo, from string, to []string, data string) error
	now  func() time.Time
}

// New returns a sender for spec; Run sends what is queued.
func New(spec Spec, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{log: log, q: make(chan job, QueueSize), lastInst: map[string]string{}, lastGroup: map[string]string{}, send: send, now: time.Now}
	s.spec.Store(&spec)
	return s
}

// Update installs a reloaded configuration's spec; queued mails keep the
// spec they were made with.
func (s *Sender) Update(spec Spec) { s.spec.Store(&spec) }

// Spec is the spec in use.
func (s *Sender) Spec() *Spec { return s.spec.Load() }

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	return Stats{Sent: s.sent.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load(), Retries: s.retries.Load(), Queued: len(s.q)}
}

// Enqueue queues m under the current spec; false when it was dropped (no
// server or recipient configured is not a drop: nothing is sent, as
// keepalived sends nothing).
func (s *Sender) Enqueue(m Message) bool {
	sp := s.spec.Load()
	if !sp.Enabled() {
		return false
	}
	select {
	case s.q <- job{m, sp}:
		return true
	default:
		if s.dropped.Add(1) == 1 || s.dropped.Load()%100 == 0 {
			s.log.Warn("smtp alert dropped: the queue is full", "subject", m.Subject, "dropped", s.dropped.Load())
		}
		return false
	}
}

// InstanceState is an instance's transition (send_instance_notifies):
// mailed when its smtp_alert is on, not for FAULT with no_email_faults,
// and only when the state differs from the one last mailed.
func (s *Sender) InstanceState(name, state string) {
	sp := s.spec.Load()
	if !sp.Instances[name] || sp.NoEmailFaults && state == StateFault {
		return
	}
	s.mu.Lock()
	if s.lastInst[name] == state {
		s.mu.Unlock()
		return
	}
	m, ok := InstanceMessage(sp.RouterID, name, state)
	if ok {
		s.lastInst[name] = state
	}
	s.mu.Unlock()
	if ok {
		s.Enqueue(m)
	}
}

// InstanceRemoved is an instance a reload removed, reported state
// (DELETED, or FAULT without notify_deleted) as keepalived's
// vrrp_smtp_notifier mails it: by the removed instance's own smtp_alert,
// since the running configuration no longer has it. Its last mailed
// state is forgotten, so an instance of that name added again is mailed
// afresh.
func (s *Sender) InstanceRemoved(name, state string, smtpAlert bool) {
	sp := s.spec.Load()
	s.mu.Lock()
	last := s.lastInst[name]
	delete(s.lastInst, name)
	s.mu.Unlock()
	if !smtpAlert || sp.NoEmailFaults && state == StateFault || last == state {
		return
	}
	if m, ok := InstanceMessage(sp.RouterID, name, state); ok {
		s.Enqueue(m)
	}
}

// GroupState is a sync group's transition (send_group_notifies).
func (s *Sender) GroupState(name, state string) {
	sp := s.spec.Load()
	if !sp.Groups[name] || sp.NoEmailFaults && state == StateFault {
		return
	}
	s.mu.Lock()
	if s.lastGroup[name] == state {
		s.mu.Unlock()
		return
	}
	m, ok := GroupMessage(sp.RouterID, name, state)
	if ok {
		s.lastGroup[name] = state
	}
	s.mu.Unlock()
	if ok {
		s.Enqueue(m)
	}
}

// CheckerChange is a checker of type typ passing (up) or failing after
// being the other way, on real server rs of virtual server vs (its
// config.VirtualServer.Key()); wasAlive and alive are the real server's
// state before and after. Mailed when the real server's smtp_alert is on,
// and, with no_checker_emails, only when the real server changed.
func (s *Sender) CheckerChange(vs string, rs netip.AddrPort, typ config.CheckerType, up, wasAlive, alive bool) {
	s.CheckerChangeBody(vs, rs, CheckerBody(typ, up), wasAlive, alive)
}

// CheckerChangeBody is CheckerChange with the body given (MiscBody,
// BFDBody).
func (s *Sender) CheckerChangeBody(vs string, rs netip.AddrPort, body string, wasAlive, alive bool) {
	sp := s.spec.Load()
	if body == "" || !sp.RealServers[RealServerKey{vs, rs}] || sp.NoCheckerEmails && wasAlive == alive {
		return
	}
	s.Enqueue(RealServerMessage(sp.RouterID, rs, sp.Names[vs], alive, body))
}

// RealServerRemoved is a real server in service removed by a reload, or
// at shutdown (stopping; keepalived mails it then only with omega).
func (s *Sender) RealServerRemoved(vs string, rs netip.AddrPort, stopping bool) {
	sp := s.spec.Load()
	if !sp.RealServers[RealServerKey{vs, rs}] {
		return
	}
	s.Enqueue(RealServerRemovedMessage(sp.RouterID, rs, sp.Names[vs], stopping))
}

// QuorumChange is a virtual server gaining or losing its quorum.
func (s *Sender) QuorumChange(vs string, up, init bool, quorum, hysteresis int, threshold, weightSum int64) {
	sp := s.spec.Load()
	if !sp.VirtualServers[vs] {
		return
	}
	s.Enqueue(QuorumMessage(sp.RouterID, sp.Names[vs], up, init, quorum, hysteresis, threshold, weightSum))
}

// Run sends queued mails, one at a time, until ctx ends; what is still
// queued then is left unsent (keepalived's mails at shutdown are lost
// too, its scheduler ends with them).
func (s *Sender) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.q:
			s.deliver(ctx, j)
		}
	}
}

func (s *Sender) deliver(ctx context.Context, j job) {
	sp := j.spec
	addr := net.JoinHostPort(sp.Server, strconv.Itoa(int(sp.Port)))
	var err error
	for attempt := 0; attempt < Attempts; attempt++ {
		if attempt > 0 {
			s.retries.Add(1)
			d := RetryDelays[min(attempt-1, len(RetryDelays)-1)]
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				s.fail(j, ctx.Err())
				return
			case <-t.C:
			}
		}
		data := Data(j.msg, sp.From, sp.To, s.now())
		err = s.send(ctx, addr, sp.ConnectTimeout, sp.HeloName, sp.From, sp.To, data)
		if err == nil {
			s.sent.Add(1)
			s.mu.Lock()
			if s.failing {
				s.log.Info("smtp alerts delivered again", "server", addr, "failed_meanwhile", s.failed.Load()-s.failingSince)
				s.failing = false
			}
			s.mu.Unlock()
			s.log.Debug("smtp alert sent", "subject", j.msg.Subject)
			return
		}
		var se *stageError
		if errors.As(err, &se) && (se.delivered || se.err == nil) {
			// Possibly delivered, or refused by the server: trying
			// again would send it twice or be refused again.
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.fail(j, err)
}

func (s *Sender) fail(j job, err error) {
	n := s.failed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failing {
		s.failing, s.failingSince = true, n-1
		s.log.Warn("smtp alert not sent (further failures are counted, not logged, until one is sent)",
			"server", net.JoinHostPort(j.spec.Server, strconv.Itoa(int(j.spec.Port))), "subject", j.msg.Subject, "err", err)
		return
	}
	s.log.Debug("smtp alert not sent", "subject", j.msg.Subject, "err", err)
}
