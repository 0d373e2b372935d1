package lb

import (
	"math"
	"time"
)

// How an ejected endpoint comes back, without a clock read on the hot path:
//
// Every ejection and every probe lease arms the pool's wake timer for its
// deadline (arm keeps the timer at the earliest one). While the timer has
// not fired, no ejected endpoint can be due, and Pick only loads p.due.
// When it fires, it raises p.due; the next Pick that sees it scans the
// endpoints once, leases the first due one to itself as a probe with a
// single compare-and-swap, re-arms the timer for the next deadline, and
// lowers the flag unless more endpoints are due. Concurrent Picks go on to
// normal selection meanwhile.

// Values of Pool.due.
const (
	dueNone     = 0 // no ejected endpoint's deadline has passed since the last scan
	dueRaised   = 1 // one may have: the next Pick scans
	dueScanning = 2 // a Pick is scanning
)

const never = math.MaxInt64

// testHookBeforeProbeCAS, when set by a test, runs between a probe scan's read of a
// due endpoint's health word and its compare-and-swap: the window in which a
// competing Pick could lease the same endpoint.
var testHookBeforeProbeCAS func(*Pool)

// leaseProbe hands the first endpoint whose deadline has passed to the
// calling Pick as a probe. It reports false when another Pick is scanning or
// nothing is due. It finds due endpoints with the FirstDue kernel over the
// view's deadlines, checks each against its health word, and re-arms the
// wake timer for the earliest deadline left (MinIndex over the same array).
func (p *Pool) leaseProbe() (Lease, bool) {
	if !p.due.CompareAndSwap(dueRaised, dueScanning) {
		return Lease{}, false
	}
	v := p.view.Load()
	now := p.now()
	more := false
	var won *core
	var token uint64
	for from := 0; from < len(v.deadlines); {
		i := firstDue(v.deadlines[from:], now)
		if i < 0 {
			break
		}
		i += from
		from = i + 1
		c := v.cores[i]
		h := c.health.Load()
		if s := stateOf(h); (s != stateEjected && s != stateProbing) || deadlineOf(h) > now {
			v.trackSlot(i) // a stale entry: mend it and go on
			continue
		}
		if won != nil {
			more = true
			break
		}
		lease := healthWord(stateProbing, streakOf(h), ejectionsOf(h), now+p.cfg.probeTimeout)
		if testHookBeforeProbeCAS != nil {
			testHookBeforeProbeCAS(p)
		}
		if !c.health.CompareAndSwap(h, lease) {
			more = true // it changed under us: let the next Pick look again
			continue
		}
		v.trackSlot(i)
		won, token = c, lease
	}
	if more {
		p.due.Store(dueRaised)
	} else {
		p.due.CompareAndSwap(dueScanning, dueNone) // fails if the timer raised it again meanwhile
	}
	if i := earliest(v.deadlines); i >= 0 {
		if next := v.deadlines[i].Load(); next != never {
			p.arm(max(next, now+1))
		}
	}
	if won == nil {
		return Lease{}, false
	}
	l, _ := p.lease(won) // a probe carries the policy's lease state like any lease
	l.probe = token
	return l, true
}

// arm makes sure the wake timer fires no later than deadline. Callers race
// freely: whoever lowers armedAt resets the timer, then checks that no lower
// deadline was recorded meanwhile whose Reset its own may have overwritten.
func (p *Pool) arm(deadline int64) {
	for {
		at := p.armedAt.Load()
		if at <= deadline {
			return
		}
		if p.armedAt.CompareAndSwap(at, deadline) {
			break
		}
	}
	for {
		p.wake.Reset(time.Duration(max(deadline-p.now(), 0)) * time.Microsecond)
		at := p.armedAt.Load()
		if at >= deadline {
			return
		}
		deadline = at
	}
}

// wakeUp runs on the timer's goroutine when the earliest deadline passes.
func (p *Pool) wakeUp() {
	p.armedAt.Store(never)
	p.due.Store(dueRaised)
}
