package script

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// RunFunc runs one script with arguments and returns its exit code.
type RunFunc func(ctx context.Context, s *config.Script, args ...string) (int, error)

// Notifier runs notify scripts off the caller's path: VRRP transitions,
// real servers and quorum changes only queue; nothing waits for a script,
// so a 30 s notify_master delays no advert, no check, no reload and no
// stop. The VRRP router hands its notifier to the next router at a
// reload, so scripts already running keep running and the bounds below
// hold across reloads.
//
// Bounds: at most maxRunning scripts at once, at most maxPendingPerKey
// queued per key, an instance or a real server (a flapping one keeps only
// its latest transitions: the state it ends in is what its scripts must
// hear last),
// and maxPending in all. What is dropped is counted and logged once per
// burst.
type Notifier struct {
	log     *slog.Logger
	timeout time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // running scripts

	mu         sync.Mutex
	queue      []notifyJob
	running    int
	closed     bool
	dropLogged bool
	idle       chan struct{}     // closed when nothing runs or waits; nil while busy
	droppedBy  map[string]uint64 // by instance (or group)

	Dropped atomic.Uint64
	Started atomic.Uint64
}

type notifyJob struct {
	key    string // the instance (or group) it reports on
	run    RunFunc
	script *config.Script
	args   []string
}

const (
	maxRunning       = 8
	maxPending       = 64
	maxPendingPerKey = 4
	// notifyTimeout bounds one script, as keepalived's default
	// script timeout does not: a hung notify would hold a slot forever.
	notifyTimeout = time.Minute
)

// Bounds on what a stop waits for notify scripts: StopDrain to end on
// their own, then StopKill for their process groups to die. SIGTERM must
// end lvsd well inside systemd's 10 s, and keepalived's peers take over
// in 3 advert intervals.
const (
	StopDrain = 500 * time.Millisecond
	StopKill  = 1 * time.Second
)

// NewNotifier returns a notifier; Close ends it.
func NewNotifier(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{log: log, timeout: notifyTimeout, ctx: ctx, cancel: cancel}
}

// Submit queues a script; it never blocks.
func (n *Notifier) Submit(key string, run RunFunc, s *config.Script, args ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	perKey := 0
	for _, j := range n.queue {
		if j.key == key {
			perKey++
		}
	}
	if perKey >= maxPendingPerKey {
		// Drop the oldest queued job of this key: the newest states win.
		for i, j := range n.queue {
			if j.key == key {
				n.queue = append(n.queue[:i], n.queue[i+1:]...)
				break
			}
		}
		n.dropped(key)
	} else if len(n.queue) >= maxPending {
		n.queue = n.queue[1:]
		n.dropped(key)
	}
	n.queue = append(n.queue, notifyJob{key: key, run: run, script: s, args: args})
	n.idle = nil
	n.startLocked()
}

func (n *Notifier) dropped(key string) {
	n.Dropped.Add(1)
	if n.droppedBy == nil {
		n.droppedBy = map[string]uint64{}
	}
	n.droppedBy[key]++
	if !n.dropLogged {
		n.dropLogged = true
		n.log.Warn("notify scripts are queued faster than they run; older ones are dropped (logged once per burst)",
			"instance", key, "running", n.running, "queued", len(n.queue))
	}
}

// DroppedFor is how many of key's notifications were dropped.
func (n *Notifier) DroppedFor(key string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.droppedBy[key]
}

// startLocked starts queued jobs up to the concurrency bound.
func (n *Notifier) startLocked() {
	for n.running < maxRunning && len(n.queue) > 0 {
		j := n.queue[0]
		n.queue = n.queue[1:]
		n.running++
		n.Started.Add(1)
		n.wg.Add(1)
		go n.exec(j)
	}
}

func (n *Notifier) exec(j notifyJob) {
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(n.ctx, n.timeout)
	code, err := j.run(ctx, j.script, j.args...)
	cancel()
	if err != nil || code != 0 {
		n.log.Warn("notify script", "instance", j.key, "argv", j.script.Argv, "args", j.args, "exit", code, "err", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running--
	n.startLocked()
	if n.running == 0 && len(n.queue) == 0 {
		n.dropLogged = false
		if n.idle != nil {
			close(n.idle)
			n.idle = nil
		}
	}
}

// Close stops taking jobs, lets what is queued and running finish for up
// to drain, then cancels the rest (the runner kills each script's process
// group) and waits for at most kill more. It returns whether every script
// ended.
func (n *Notifier) Close(drain, kill time.Duration) bool {
	n.mu.Lock()
	n.closed = true
	var idle chan struct{}
	if n.running > 0 || len(n.queue) > 0 {
		idle = make(chan struct{})
		n.idle = idle
	}
	n.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(drain):
		}
	}
	n.mu.Lock()
	n.queue = nil
	n.mu.Unlock()
	n.cancel()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(kill):
		n.log.Warn("notify scripts still running after stop", "waited", drain+kill)
		return false
	}
}
