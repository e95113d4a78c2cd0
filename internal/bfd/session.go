package bfd

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults and limits of keepalived 2.2.7 (bfd.h). Intervals are kept in
// microseconds, as keepalived and the wire do.
const (
	DefaultMinRx      = 10 * 1000   // 10 ms
	DefaultMinTx      = 10 * 1000   // 10 ms
	DefaultIdleTx     = 1000 * 1000 // 1 s
	DefaultMultiplier = 5
	DefaultTTL        = 255 // IPv4 (RFC 5881's GTSM)
	DefaultHopLimit   = 64  // keepalived's IPv6 default (BFD_CONTROL_HOPLIMIT)
)

// SessionConfig is one bfd_instance's protocol parameters.
type SessionConfig struct {
	Name       string
	MinRx      uint32 // Required Min RX Interval, µs
	MinTx      uint32 // Desired Min TX Interval once Up, µs
	IdleTx     uint32 // Desired Min TX Interval while not Up, µs
	Multiplier uint8
	Passive    bool // do not send until the peer has been heard
}

// Change is a state change a session reports to its trackers, as
// keepalived's bfd_event_send does: when the session comes Up, and when it
// falls from Up to Down unless the peer said AdminDown.
type Change struct {
	State State
	Diag  Diag
}

// Output is what one step of a session produced.
type Output struct {
	Send    []Packet // to send now, in order
	Changes []Change
}

// Session is one BFD session's state machine (RFC 5880 section 6.8),
// following keepalived 2.2.7's bfd_scheduler.c. It does no I/O and reads
// no clock: every step is given the time, and the random numbers
// (discriminators, jitter) come from the functions it was made with, so a
// run is reproducible.
type Session struct {
	cfg SessionConfig
	log *slog.Logger

	// NewDisc returns a fresh nonzero local discriminator (the runner
	// keeps them unique over its sessions).
	newDisc func() uint32
	// rand returns a number in [lo, hi].
	rand func(lo, hi uint32) uint32

	state, remoteState State
	localDisc          uint32
	remoteDisc         uint32
	localDiag          Diag
	remoteDiag         Diag
	remoteMinTx        uint32
	remoteMinRx        uint32
	remoteDemand       bool
	remoteMult         uint8
	poll, final        bool

	localTxIntv  uint32
	remoteTxIntv uint32
	detectTime   uint64 // µs; 0 until the peer is heard

	// Timers: zero is "not scheduled".
	nextTx   time.Time
	expireAt time.Time
	resetAt  time.Time
	lastSeen time.Time
}

// NewSession makes a session in state Down. log may be nil.
func NewSession(cfg SessionConfig, log *slog.Logger, newDisc func() uint32, rand func(lo, hi uint32) uint32) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{cfg: cfg, log: log, newDisc: newDisc, rand: rand,
		state: Down, remoteState: Down}
	s.localDisc = newDisc()
	s.localTxIntv = cfg.IdleTx
	return s
}

// Name is the bfd_instance's name.
func (s *Session) Name() string { return s.cfg.Name }

// State is the local session state.
func (s *Session) State() State { return s.state }

// RemoteState is the state the peer last reported.
func (s *Session) RemoteState() State { return s.remoteState }

// LocalDisc is this end's discriminator.
func (s *Session) LocalDisc() uint32 { return s.localDisc }

// RemoteDisc is the peer's discriminator (0 when not known).
func (s *Session) RemoteDisc() uint32 { return s.remoteDisc }

// DetectTime is the current detection time: the peer's multiplier times
// the agreed receive interval (max of our Required Min RX and its Desired
// Min TX).
func (s *Session) DetectTime() time.Duration {
	return time.Duration(s.detectTime) * time.Microsecond
}

// TxInterval is the current periodic transmit interval (before jitter).
func (s *Session) TxInterval() time.Duration {
	return time.Duration(s.localTxIntv) * time.Microsecond
}

// Reconfigure takes new parameters (a reload) keeping the session's state,
// as keepalived's bfd_complete_init: a change of the intervals or the
// multiplier starts a poll sequence (RFC 5880 6.8.3), whose Final
// recomputes the intervals.
func (s *Session) Reconfigure(cfg SessionConfig) {
	old := s.cfg
	s.cfg = cfg
	if old.MinRx != cfg.MinRx || old.MinTx != cfg.MinTx || old.IdleTx != cfg.IdleTx || old.Multiplier != cfg.Multiplier {
		s.setPoll()
	}
}

// setPoll starts a poll sequence (keepalived's bfd_set_poll, whose log
// line is a detail one): unless answering a poll, when the new
// parameters go with the Final (RFC 5880 6.8.3).
func (s *Session) setPoll() {
	s.log.Debug(fmt.Sprintf("(%s) Starting poll sequence", s.cfg.Name))
	if !s.final {
		s.poll = true
	}
}

// Start begins the session at now: an active session sends its first
// packet at once (keepalived's start-up event) and then periodically; a
// passive one waits for the peer.
func (s *Session) Start(now time.Time) Output {
	var out Output
	if s.cfg.Passive {
		return out
	}
	out.Send = append(out.Send, s.build())
	s.scheduleTx(now)
	return out
}

// NextDeadline is the earliest time Advance has work to do (zero: none).
func (s *Session) NextDeadline() time.Time {
	var d time.Time
	for _, t := range []time.Time{s.nextTx, s.expireAt, s.resetAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// Advance runs the timers due at now: detection-time expiry, the reset of
// a Down session's remote state, and the periodic transmission.
func (s *Session) Advance(now time.Time) Output {
	var out Output
	for {
		switch {
		case due(s.expireAt, now):
			s.expireAt = time.Time{}
			s.expire(now, &out)
		case due(s.resetAt, now):
			s.resetAt = time.Time{}
			s.reset()
		case due(s.nextTx, now):
			s.nextTx = time.Time{}
			out.Send = append(out.Send, s.build())
			s.scheduleTx(now)
		default:
			return out
		}
	}
}

func due(t, now time.Time) bool { return !t.IsZero() && !t.After(now) }

func (s *Session) jitter() uint32 {
	// RFC 5880 6.8.7: reduce by 0-25%; keepalived always reduces by at
	// least 10% (needed when the multiplier is 1).
	return s.rand(s.localTxIntv/10, s.localTxIntv/4)
}

func (s *Session) scheduleTx(now time.Time) {
	s.nextTx = now.Add(time.Duration(s.localTxIntv-s.jitter()) * time.Microsecond)
}

func (s *Session) build() Packet {
	// Answering a poll while wanting one: the parameters go with the Final.
	if s.poll && s.final {
		s.poll = false
	}
	p := Packet{Version: Version, Diag: s.localDiag, State: s.state, Poll: s.poll, Final: s.final,
		DetectMult: s.cfg.Multiplier, Length: HeaderLen, MyDisc: s.localDisc, YourDisc: s.remoteDisc,
		MinRx: s.cfg.MinRx}
	if s.state == Up {
		p.MinTx = s.cfg.MinTx
	} else {
		p.MinTx = s.cfg.IdleTx
	}
	s.final = false
	return p
}

func (s *Session) idleTxIntv() {
	s.localTxIntv = max(s.cfg.IdleTx, s.remoteMinRx)
}

func (s *Session) expire(now time.Time, out *Output) {
	dead := now.Sub(s.lastSeen)
	if s.state == Up {
		overdue := dead - s.DetectTime()
		s.log.Warn(fmt.Sprintf("(%s) Expired after %d ms (%d usec overdue)", s.cfg.Name,
			dead.Milliseconds(), overdue.Microseconds()))
	}
	s.remoteDisc = 0
	s.down(now, DiagExpired, out)
}

func (s *Session) reset() {
	s.state, s.remoteState = Down, Down
	s.remoteDisc = 0
	s.remoteDiag = DiagNone
	s.remoteDemand = false
	s.poll, s.final = false, false
	s.idleTxIntv()
}

func (s *Session) down(now time.Time, diag Diag, out *Output) {
	old := s.state
	if old == Up {
		s.localDisc = s.newDisc()
		s.log.Warn(fmt.Sprintf("(%s) Entering Down state (Local diagnostic - %s, Remote diagnostic - %s)",
			s.cfg.Name, diag, s.remoteDiag))
	}
	s.state = Down
	s.localDiag = diag
	s.resetAt = now.Add(s.DetectTime())
	if s.cfg.Passive {
		s.nextTx = time.Time{}
	}
	s.idleTxIntv()
	s.expireAt = time.Time{}
	if old == Up && s.remoteState != AdminDown {
		out.Changes = append(out.Changes, Change{State: Down, Diag: diag})
	}
}

func (s *Session) rise(now time.Time) {
	s.localDiag = DiagNone
	if s.state == Up {
		s.log.Info(fmt.Sprintf("(%s) Entering Up state", s.cfg.Name))
	}
	s.resetAt = time.Time{}
	if s.expireAt.IsZero() {
		s.expireAt = now.Add(s.DetectTime())
	}
}

func (s *Session) up(now time.Time, out *Output) {
	s.state = Up
	s.rise(now)
	if s.cfg.IdleTx != s.cfg.MinTx {
		// Poll sequence announcing the Up-state transmit interval.
		s.setPoll()
	}
	out.Changes = append(out.Changes, Change{State: Up})
}

func (s *Session) init(now time.Time) {
	s.state = Init
	s.rise(now)
	if s.cfg.Passive && s.nextTx.IsZero() {
		s.scheduleTx(now)
	}
}

// Receive runs a valid control packet (see Decode) addressed to this
// session through the state machine (RFC 5880 section 6.8.6).
func (s *Session) Receive(p Packet, now time.Time) Output {
	var out Output
	if s.state == AdminDown {
		return out
	}
	oldTx := s.localTxIntv
	oldDetect := s.detectTime

	s.remoteDisc = p.MyDisc
	s.remoteState = p.State
	s.remoteDiag = p.Diag
	s.remoteMinRx = p.MinRx
	s.remoteMinTx = p.MinTx
	s.remoteDemand = p.Demand
	s.remoteMult = p.DetectMult
	if p.Final {
		s.poll = false
	}
	if s.state != Up || p.Poll || p.Final {
		if s.remoteState == Up && (s.state == Init || s.state == Up) {
			s.localTxIntv = max(s.cfg.MinTx, s.remoteMinRx)
		} else {
			s.idleTxIntv()
		}
		s.remoteTxIntv = max(s.cfg.MinRx, s.remoteMinTx)
	}
	s.detectTime = uint64(s.remoteMult) * uint64(s.remoteTxIntv)

	if s.localTxIntv < oldTx && !s.nextTx.IsZero() {
		s.scheduleTx(now)
	}
	if s.detectTime != oldDetect {
		s.log.Info(fmt.Sprintf("%*s Detection time is %d us (was %d us)", len(s.cfg.Name)+2, "", s.detectTime, oldDetect))
	}

	switch {
	case s.remoteState == AdminDown && s.state != Down:
		s.down(now, DiagNeighborDown, &out)
	case s.state == Down && s.remoteState == Down:
		s.init(now)
	case s.state == Down && s.remoteState == Init:
		s.up(now, &out)
	case s.state == Init && (s.remoteState == Init || s.remoteState == Up):
		s.up(now, &out)
	case s.state == Up && s.remoteState == Down:
		s.down(now, DiagNeighborDown, &out)
	}

	bothUp := s.state == Up && s.remoteState == Up
	if s.remoteDemand && bothUp {
		s.nextTx = time.Time{}
	} else if s.nextTx.IsZero() {
		s.scheduleTx(now)
	}
	if p.Poll {
		s.final = true
		out.Send = append(out.Send, s.build())
	}
	s.lastSeen = now
	if s.state == Up && !s.expireAt.IsZero() {
		s.expireAt = now.Add(s.DetectTime())
	}
	return out
}
