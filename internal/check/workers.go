package check

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// workerPool runs the probes that block (HTTP_GET, SSL_GET, MISC_CHECK)
// on goroutines owned by the manager's loop: a fixed set that stays, plus
// extra ones, up to maxWorkers, when every worker is busy with a slow
// probe, so that a due check never waits behind them. An extra worker
// leaves after a minute without work. Results are handed back through
// done, and wake tells the loop to collect them.
type workerPool struct {
	ctx  context.Context
	m    *Manager
	wake func()

	jobs    chan *checkState
	pending []*checkState // due, not yet taken by a worker (loop only)
	wg      sync.WaitGroup
	total   atomic.Int64

	mu   sync.Mutex
	done []result
}

func newWorkerPool(ctx context.Context, m *Manager, wake func()) *workerPool {
	p := &workerPool{ctx: ctx, m: m, wake: wake, jobs: make(chan *checkState)}
	for range m.workers {
		p.spawn(nil, true)
	}
	return p
}

func (p *workerPool) spawn(first *checkState, permanent bool) {
	p.total.Add(1)
	p.wg.Add(1)
	go p.work(first, permanent)
}

func (p *workerPool) work(st *checkState, permanent bool) {
	defer p.wg.Done()
	defer p.total.Add(-1)
	linger := time.NewTimer(time.Minute)
	defer linger.Stop()
	for {
		if st == nil {
			select {
			case st = <-p.jobs:
			case <-linger.C:
				if !permanent {
					return
				}
				linger.Reset(time.Minute)
				continue
			case <-p.ctx.Done():
				return
			}
		}
		p.m.mu.Lock()
		probe, cfg := st.probe, st.cfg
		p.m.mu.Unlock()
		start := time.Now()
		pctx, cancel := context.WithTimeout(p.ctx, probeTimeout(cfg))
		w, err := probe(pctx)
		cancel()
		p.mu.Lock()
		p.done = append(p.done, result{st: st, ok: err == nil, weight: w, err: err, at: start, dur: time.Since(start)})
		p.mu.Unlock()
		p.wake()
		st = nil
		linger.Reset(time.Minute)
	}
}

// dispatch hands the pending checks to idle workers, adding workers while
// there are none and the bound allows; what is left waits for a result
// (which wakes the loop) to free a worker.
func (p *workerPool) dispatch() {
	for len(p.pending) > 0 {
		select {
		case p.jobs <- p.pending[0]:
		default:
			if p.total.Load() >= maxWorkers {
				return
			}
			p.spawn(p.pending[0], false)
		}
		p.pending[0] = nil
		p.pending = p.pending[1:]
	}
}

// collect appends the results the workers finished since the last call.
func (p *workerPool) collect(out []result) []result {
	p.mu.Lock()
	out = append(out, p.done...)
	clear(p.done)
	p.done = p.done[:0]
	p.mu.Unlock()
	return out
}

// wait returns when every worker has stopped (after ctx is done).
func (p *workerPool) wait() { p.wg.Wait() }
