package bfd

import (
	"math/rand/v2"
	"testing"
	"time"
)

// pair is two sessions wired back to back through a link that can be cut,
// driven by a discrete-event loop over the sessions' own deadlines.
type pair struct {
	t       *testing.T
	now     time.Time
	s       [2]*Session
	cut     bool
	changes [2][]Change
	changeT [2][]time.Time
	sent    [2][]sent
	rnd     *rand.Rand
}

type sent struct {
	at time.Time
	p  Packet
}

func newPair(t *testing.T, a, b SessionConfig) *pair {
	pr := &pair{t: t, now: time.Unix(1000, 0), rnd: rand.New(rand.NewPCG(1, 2))}
	disc := uint32(0)
	newDisc := func() uint32 { disc++; return disc }
	rnd := func(lo, hi uint32) uint32 { return lo + pr.rnd.Uint32N(hi-lo+1) }
	pr.s[0] = NewSession(a, nil, newDisc, rnd)
	pr.s[1] = NewSession(b, nil, newDisc, rnd)
	return pr
}

func cfg(name string) SessionConfig {
	return SessionConfig{Name: name, MinRx: DefaultMinRx, MinTx: DefaultMinTx, IdleTx: DefaultIdleTx, Multiplier: DefaultMultiplier}
}

func (pr *pair) handle(i int, out Output) {
	for _, c := range out.Changes {
		pr.changes[i] = append(pr.changes[i], c)
		pr.changeT[i] = append(pr.changeT[i], pr.now)
	}
	for _, p := range out.Send {
		pr.sent[i] = append(pr.sent[i], sent{pr.now, p})
		// Every packet goes through the wire format.
		q, err := Decode(p.Marshal())
		if err != nil {
			pr.t.Fatalf("session %d sent an invalid packet %+v: %v", i, p, err)
		}
		if !pr.cut {
			pr.handle(1-i, pr.s[1-i].Receive(q, pr.now))
		}
	}
}

func (pr *pair) start() {
	pr.handle(0, pr.s[0].Start(pr.now))
	pr.handle(1, pr.s[1].Start(pr.now))
}

// run advances the clock to until, firing deadlines in order.
func (pr *pair) run(until time.Time) {
	for {
		next := time.Time{}
		who := -1
		for i, s := range pr.s {
			if d := s.NextDeadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next, who = d, i
			}
		}
		if who < 0 || next.After(until) {
			pr.now = until
			return
		}
		pr.now = next
		pr.handle(who, pr.s[who].Advance(pr.now))
	}
}

func (pr *pair) runFor(d time.Duration) { pr.run(pr.now.Add(d)) }

func TestSessionsComeUp(t *testing.T) {
	a, b := cfg("a"), cfg("b")
	b.MinRx, b.MinTx, b.Multiplier = 300000, 300000, 3 // FRR's defaults
	pr := newPair(t, a, b)
	start := pr.now
	pr.start()
	pr.runFor(5 * time.Second)
	for i, s := range pr.s {
		if s.State() != Up || s.RemoteState() != Up {
			t.Fatalf("session %d: %v/%v, want Up/Up", i, s.State(), s.RemoteState())
		}
		if len(pr.changes[i]) != 1 || pr.changes[i][0].State != Up {
			t.Fatalf("session %d changes %v, want one Up", i, pr.changes[i])
		}
		// a's start packet puts b in Init, b's start packet (Init) puts a
		// Up at once; b comes Up on a's next packet (0.75-0.9 s of idle_tx).
		if took := pr.changeT[i][0].Sub(start); took > []time.Duration{0, 900 * time.Millisecond}[i] {
			t.Errorf("session %d Up after %v", i, took)
		}
	}
	// a: tx = max(its min_tx 10ms, b's min_rx 300ms); detect = b's mult 3 × max(a's min_rx 10 ms, b's min_tx 300 ms).
	if got := pr.s[0].TxInterval(); got != 300*time.Millisecond {
		t.Errorf("a tx interval %v, want 300ms", got)
	}
	if got := pr.s[0].DetectTime(); got != 900*time.Millisecond {
		t.Errorf("a detect time %v, want 900ms", got)
	}
	// b: tx = max(300, 10) = 300 ms; detect = a's mult 5 × max(300, 10) = 1.5 s.
	if got := pr.s[1].DetectTime(); got != 1500*time.Millisecond {
		t.Errorf("b detect time %v, want 1.5s", got)
	}
	// Intervals sent once Up (after the poll sequence) are 75-90% of 300 ms.
	var gaps []time.Duration
	for j := len(pr.sent[0]) - 5; j < len(pr.sent[0]); j++ {
		gaps = append(gaps, pr.sent[0][j].at.Sub(pr.sent[0][j-1].at))
	}
	for _, g := range gaps {
		if g < 225*time.Millisecond || g > 270*time.Millisecond {
			t.Errorf("a's packet gaps %v, want within [225ms, 270ms]", gaps)
			break
		}
	}
	last := pr.sent[0][len(pr.sent[0])-1].p
	if last.State != Up || last.MinTx != 10000 || last.MinRx != 10000 || last.Poll || last.DetectMult != 5 || last.YourDisc != pr.s[1].LocalDisc() {
		t.Errorf("a's last packet %+v", last)
	}
}

func TestPollFinalOnUp(t *testing.T) {
	pr := newPair(t, cfg("a"), cfg("b"))
	pr.start()
	pr.runFor(3 * time.Second)
	// Down and Init packets advertise idle_tx (1 s); the first Up packet
	// polls with min_tx 10 ms; the peer answers with Final.
	var polled, finaled bool
	for _, sp := range pr.sent[0] {
		p := sp.p
		if p.State != Up && p.MinTx != DefaultIdleTx {
			t.Errorf("a sent %v with min_tx %d, want idle_tx", p.State, p.MinTx)
		}
		if p.State == Up && p.Poll {
			polled = true
			if p.MinTx != DefaultMinTx {
				t.Errorf("poll carries min_tx %d", p.MinTx)
			}
		}
	}
	for _, sp := range pr.sent[1] {
		if sp.p.Final {
			finaled = true
		}
	}
	if !polled || !finaled {
		t.Fatalf("poll sent %v, final answered %v", polled, finaled)
	}
	if got := pr.s[0].TxInterval(); got != 10*time.Millisecond {
		t.Fatalf("tx interval after the poll sequence %v, want 10ms", got)
	}
	if got := pr.s[0].DetectTime(); got != 50*time.Millisecond {
		t.Fatalf("detect time %v, want 5 × 10ms", got)
	}
}

func TestLinkCutAndRestore(t *testing.T) {
	a, b := cfg("a"), cfg("b")
	a.MinRx, a.MinTx, a.Multiplier = 100000, 100000, 3
	b.MinRx, b.MinTx, b.Multiplier = 100000, 100000, 3
	pr := newPair(t, a, b)
	pr.start()
	pr.runFor(3 * time.Second)
	if pr.s[0].State() != Up {
		t.Fatal("not Up")
	}
	detect := pr.s[0].DetectTime()
	if detect != 300*time.Millisecond {
		t.Fatalf("detect %v", detect)
	}
	cutAt := pr.now
	pr.cut = true
	pr.runFor(2 * time.Second)
	for i := range pr.s {
		if pr.s[i].State() != Down {
			t.Fatalf("session %d %v after the cut", i, pr.s[i].State())
		}
		c := pr.changes[i][len(pr.changes[i])-1]
		if c.State != Down || c.Diag != DiagExpired {
			t.Fatalf("session %d last change %+v", i, c)
		}
		// Down within detection time of the last packet heard: at most
		// detect after the cut.
		if took := pr.changeT[i][len(pr.changeT[i])-1].Sub(cutAt); took > detect || took < detect-100*time.Millisecond {
			t.Errorf("session %d Down %v after the cut, want within (%v-100ms, %v]", i, took, detect, detect)
		}
	}
	// Down packets carry diag 1 and the idle interval.
	if p := pr.sent[0][len(pr.sent[0])-1].p; p.State != Down || p.Diag != DiagExpired || p.YourDisc != 0 {
		t.Errorf("a's packet after expiry %+v", p)
	}
	pr.cut = false
	restored := pr.now
	pr.runFor(5 * time.Second)
	for i := range pr.s {
		if pr.s[i].State() != Up {
			t.Fatalf("session %d %v after the restore", i, pr.s[i].State())
		}
		// Down packets go every 0.75-0.9 s: back Up within 2 of them.
		if took := pr.changeT[i][len(pr.changeT[i])-1].Sub(restored); took > 2*time.Second {
			t.Errorf("session %d Up again %v after the restore", i, took)
		}
	}
}

func TestPassive(t *testing.T) {
	a, b := cfg("a"), cfg("b")
	a.Passive, b.Passive = true, true
	pr := newPair(t, a, b)
	pr.start()
	pr.runFor(5 * time.Second)
	if len(pr.sent[0])+len(pr.sent[1]) != 0 || pr.s[0].State() != Down {
		t.Fatalf("two passive sessions sent %d+%d packets", len(pr.sent[0]), len(pr.sent[1]))
	}
	// One active side brings both up.
	b.Passive = false
	pr = newPair(t, a, b)
	pr.start()
	if len(pr.sent[0]) != 0 {
		t.Fatal("passive session sent at start")
	}
	pr.runFor(5 * time.Second)
	if pr.s[0].State() != Up || pr.s[1].State() != Up {
		t.Fatalf("passive+active: %v %v", pr.s[0].State(), pr.s[1].State())
	}
	// After expiry the passive side falls silent again.
	pr.cut = true
	pr.runFor(2 * time.Second)
	n := len(pr.sent[0])
	pr.runFor(5 * time.Second)
	if len(pr.sent[0]) != n || pr.s[0].State() != Down {
		t.Fatalf("passive session sent %d packets while Down", len(pr.sent[0])-n)
	}
}

func TestRemoteAdminDownIsNotAFailure(t *testing.T) {
	pr := newPair(t, cfg("a"), cfg("b"))
	pr.start()
	pr.runFor(2 * time.Second)
	out := pr.s[0].Receive(Packet{Version: 1, State: AdminDown, Diag: DiagAdminDown, DetectMult: 3, MyDisc: pr.s[1].LocalDisc(), YourDisc: pr.s[0].LocalDisc(), MinTx: 1000000, MinRx: 1000000}, pr.now)
	if pr.s[0].State() != Down || len(out.Changes) != 0 {
		t.Fatalf("state %v changes %v: keepalived goes Down without telling its trackers", pr.s[0].State(), out.Changes)
	}
}

func TestPollAnsweredAtOnce(t *testing.T) {
	pr := newPair(t, cfg("a"), cfg("b"))
	pr.start()
	pr.runFor(2 * time.Second)
	out := pr.s[0].Receive(Packet{Version: 1, State: Up, Poll: true, DetectMult: 3, MyDisc: pr.s[1].LocalDisc(), YourDisc: pr.s[0].LocalDisc(), MinTx: 50000, MinRx: 40000}, pr.now)
	if len(out.Send) != 1 || !out.Send[0].Final || out.Send[0].Poll {
		t.Fatalf("answer %+v, want one Final", out.Send)
	}
	if got := pr.s[0].TxInterval(); got != 40*time.Millisecond {
		t.Errorf("tx interval %v, want the peer's new min_rx 40ms", got)
	}
	if got := pr.s[0].DetectTime(); got != 150*time.Millisecond {
		t.Errorf("detect %v, want 3 × 50ms", got)
	}
}
