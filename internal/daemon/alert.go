package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/lvsd/lvsd/internal/alert"
	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/vrrp"
)

// alertHooks turns VRRP transitions and checker verdicts into keepalived's
// e-mail alerts (internal/alert). It watches what the router and the
// checkers report (their Status), so neither waits on it: the router's
// transitions are read on a goroutine of its own, the checkers' verdicts
// on the checker scheduler's callback, and mails go out from the
// sender's bounded queue.
type alertHooks struct {
	sender *alert.Sender
	host   alert.Host

	mu       sync.Mutex
	cfg      *config.Config
	lastInst map[string]string // instance -> state last seen
	lastChk  map[check.Key]bool

	router atomic.Pointer[vrrp.Router]
	wake   chan struct{}
	done   chan struct{}
}

// newAlertHooks starts the sender and the VRRP watcher; they end with ctx.
func newAlertHooks(ctx context.Context, cfg *config.Config, log *slog.Logger) *alertHooks {
	h := &alertHooks{host: alert.LocalHost(), cfg: cfg, lastInst: map[string]string{}, lastChk: map[check.Key]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.sender = alert.New(alert.SpecFrom(cfg, h.host), log)
	go h.sender.Run(ctx)
	go func() { defer close(h.done); h.watchVRRP(ctx) }()
	return h
}

// update installs a reloaded configuration.
func (h *alertHooks) update(cfg *config.Config) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.cfg = cfg
	h.mu.Unlock()
	h.sender.Update(alert.SpecFrom(cfg, h.host))
}

// stats are the sender's counters (nil-safe, for the metrics).
func (h *alertHooks) stats() alert.Stats {
	if h == nil {
		return alert.Stats{}
	}
	return h.sender.Stats()
}

// vrrpChanged is called on the router's goroutine after a transition
// (vrrp.Router.OnTransition): it only wakes the watcher, which reads the
// router's Status (that call goes through the router's goroutine).
func (h *alertHooks) vrrpChanged(r *vrrp.Router) {
	if h == nil {
		return
	}
	h.router.Store(r)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *alertHooks) watchVRRP(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		}
		r := h.router.Load()
		if r == nil {
			continue
		}
		st := r.Status()
		if st == nil {
			continue
		}
		h.instances(st)
	}
}

// instances mails each instance whose state changed, then each sync
// group whose first member (the one that runs the group's notify
// scripts) changed.
func (h *alertHooks) instances(st []vrrp.InstanceStatus) {
	h.mu.Lock()
	cfg := h.cfg
	changed := map[string]string{}
	for _, s := range st {
		if h.lastInst[s.Name] != s.State {
			h.lastInst[s.Name] = s.State
			changed[s.Name] = s.State
		}
	}
	h.mu.Unlock()
	for _, in := range cfg.Instances {
		if state, ok := changed[in.Name]; ok {
			h.sender.InstanceState(in.Name, state)
		}
	}
	for _, g := range cfg.SyncGroups {
		if len(g.Members) == 0 {
			continue
		}
		if state, ok := changed[g.Members[0]]; ok {
			h.sender.GroupState(g.Name, state)
		}
	}
}

// checksStarted records the checkers' first states (alpha ones start
// down), so that the first verdict that changes one is mailed. Call it
// after check.Manager.Update.
func (h *alertHooks) checksStarted(m *check.Manager) {
	if h == nil || m == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range m.Status() {
		if _, ok := h.lastChk[s.Key]; !ok {
			h.lastChk[s.Key] = s.Up
		}
	}
}

type rsID struct {
	vs string
	rs netip.AddrPort
}

// checksChanged is called on the checker scheduler's callback after a
// real server's state changed: each checker that turned is mailed with
// its real server's state before and after.
func (h *alertHooks) checksChanged(m *check.Manager) {
	if h == nil || m == nil {
		return
	}
	st := m.Status()
	h.mu.Lock()
	wasAlive, alive := map[rsID]bool{}, map[rsID]bool{}
	for _, s := range st {
		id := rsID{s.Key.VS, s.Key.RS}
		if _, ok := alive[id]; !ok {
			alive[id], wasAlive[id] = true, true
		}
		if !s.Up {
			alive[id] = false
		}
		if up, ok := h.lastChk[s.Key]; ok && !up || !ok && !s.Up {
			wasAlive[id] = false
		}
	}
	type turn struct {
		key check.Key
		up  bool
	}
	var turns []turn
	for _, s := range st {
		if up, ok := h.lastChk[s.Key]; ok && up != s.Up {
			turns = append(turns, turn{s.Key, s.Up})
		}
		h.lastChk[s.Key] = s.Up
	}
	h.mu.Unlock()
	for _, t := range turns {
		id := rsID{t.key.VS, t.key.RS}
		h.sender.CheckerChange(t.key.VS, t.key.RS, t.key.Type, t.up, wasAlive[id], alive[id])
	}
}
