package lb

import (
	"errors"
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

// Values of Pool.due's probe state, its low bits.
const (
	dueNone     = 0 // no ejected endpoint's deadline has passed since the last scan
	dueRaised   = 1 // one may have: the next Pick scans
	dueScanning = 2 // a Pick is scanning
	dueMask     = 3
)

// dueRamping is Pool.due's bit set while slow start ramps an endpoint
// (slowstart.go), so that Pick's one test of due covers both.
const dueRamping = 4

// probeState is the probe part of p.due.
func (p *Pool) probeState() uint32 { return p.due.Load() & dueMask }

// setDue sets the probe part of p.due to v, keeping the ramp bit.
func (p *Pool) setDue(v uint32) {
	for {
		old := p.due.Load()
		if p.due.CompareAndSwap(old, old&^dueMask|v) {
			return
		}
	}
}

// swapDue moves the probe part of p.due from old to next, keeping the ramp
// bit, and reports whether it was old.
func (p *Pool) swapDue(old, next uint32) bool {
	for {
		d := p.due.Load()
		if d&dueMask != old {
			return false
		}
		if p.due.CompareAndSwap(d, d&^dueMask|next) {
			return true
		}
	}
}

const never = math.MaxInt64

// testHookBeforeProbeCAS, when set by a test, runs between a probe scan's read of a
// due endpoint's health word and its compare-and-swap: the window in which a
// competing Pick could lease the same endpoint.
var testHookBeforeProbeCAS func(*Pool)

// leaseProbe hands the first endpoint whose deadline has passed to the
// calling Pick as a probe. It reports false when another Pick is scanning or
// nothing is due. It finds due endpoints with the FirstDue kernel over the
// view's deadlines (claimDue), and re-arms the wake timer for the earliest
// deadline left (MinIndex over the same array).
func (p *Pool) leaseProbe() (Lease, bool) {
	if !p.swapDue(dueRaised, dueScanning) {
		return Lease{}, false
	}
	v := p.view.Load()
	now := p.now()
	won, token, more := p.claimDue(v, now)
	if more {
		p.setDue(dueRaised)
	} else {
		p.swapDue(dueScanning, dueNone) // fails if the timer raised it again meanwhile
	}
	if i := earliest(v.deadlines); i >= 0 {
		if next := v.deadlines[i].Load(); next != never {
			p.arm(max(next, now+1))
		}
	}
	if won == nil {
		return Lease{}, false
	}
	return p.probeLease(won, token)
}

// claimDue leases the first endpoint of v whose deadline is at or before
// now as a probe, with a compare-and-swap on its health word, and returns
// it with the word it set. more reports that another endpoint may be due.
func (p *Pool) claimDue(v *view, now int64) (won *core, token uint64, more bool) {
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
			return won, token, true
		}
		if testHookBeforeProbeCAS != nil {
			testHookBeforeProbeCAS(p)
		}
		if t, ok := p.startProbe(v, i, h, now); ok {
			won, token = c, t
		} else {
			more = true // it changed under us: let the next Pick look again
		}
	}
	return won, token, more
}

// startProbe moves v's endpoint i from health word h to probing for
// ProbeTimeout, and returns the word it set; false if h changed meanwhile.
func (p *Pool) startProbe(v *view, i int, h uint64, now int64) (uint64, bool) {
	c := v.cores[i]
	token := healthWord(stateProbing, streakOf(h), ejectionsOf(h), now+p.cfg.probeTimeout)
	o := p.ordered()
	swapped := c.health.CompareAndSwap(h, token)
	if swapped {
		if stateOf(h) == stateProbing { // the last probe's window ended unreported
			o.record(EventProbeTimedOut, c, h, false)
		}
		o.record(EventProbeLeased, c, token, false)
	}
	o.unlock()
	if !swapped {
		return 0, false
	}
	p.track(c)
	return token, true
}

// probeLease leases c as the probe whose health word is token: a probe
// carries the policy's lease state like any lease, and respects the
// concurrency limit; at it, the probe is handed back (abandonProbe) for a
// later Pick.
func (p *Pool) probeLease(c *core, token uint64) (Lease, bool) {
	if !p.take(c) {
		p.abandonProbe(c, token)
		return Lease{}, false
	}
	return p.newLease(c, token), true
}

// errProbeLost is probeNow's answer when the endpoint's health word
// changed before its compare-and-swap: another transition came first.
var errProbeLost = errors.New("lb: probe lost its race")

// probeNow leases v's endpoint i, whose health word was h, to the caller
// as its probe at once (due or not: the callers decide) and arms the wake
// timer for the probe's window. It returns errProbeLost if the word changed
// meanwhile, and ErrSaturated if the endpoint is at its concurrency limit.
func (p *Pool) probeNow(v *view, i int, h uint64, now int64) (Lease, error) {
	token, ok := p.startProbe(v, i, h, now)
	if !ok {
		return Lease{}, errProbeLost
	}
	p.arm(now + p.cfg.probeTimeout)
	if l, ok := p.probeLease(v.cores[i], token); ok {
		return l, nil
	}
	return Lease{}, ErrSaturated
}

// lastResort is Pick when the policy found no endpoint up. The policy may
// have read a table older than the view, which publish installs first: an
// endpoint up in the view is then leased, drawn uniformly. A due probe
// comes next, even while another Pick holds the probe scan (that flag keeps the
// wake timer's bookkeeping single, not the probes). Then, below
// MaxEjectedPercent 100, a pool that is not empty still serves — panic
// mode, as Envoy's panic threshold: the endpoint whose cooldown ends first
// is leased, as an early probe while no probe holds it, else as an ordinary
// lease, whose outcome changes nothing while the endpoint is out. A view
// that changed meanwhile is looked at again. ErrNoEndpoint remains for an
// empty pool, and at 100% for a pool with every endpoint out and none due.
func (p *Pool) lastResort() (Lease, error) {
	v := p.view.Load()
	for {
		if len(v.cores) == 0 {
			return Lease{}, ErrNoEndpoint
		}
		if popCountUp(v.up) > 0 {
			if i := v.drawUp(-1); i >= 0 {
				return p.leaseOn(v.cores[i])
			}
		}
		now := p.now()
		if won, token, _ := p.claimDue(v, now); won != nil {
			if l, ok := p.probeLease(won, token); ok {
				return l, nil
			}
		}
		if i := earliest(v.deadlines); i >= 0 && p.cfg.maxPercent < 100 {
			c := v.cores[i]
			switch h := c.health.Load(); stateOf(h) {
			case stateUp: // it came back meanwhile
				return p.leaseOn(c)
			case stateEjected:
				if l, err := p.probeNow(v, i, h, now); err != errProbeLost {
					return l, err
				}
				return p.leaseOn(c)
			case stateProbing:
				return p.leaseOn(c)
			}
		}
		next := p.view.Load()
		if next == v {
			return Lease{}, ErrNoEndpoint
		}
		v = next // the membership changed under us
	}
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
	p.setDue(dueRaised)
	p.kick() // a probe may be due for a waiter
}
