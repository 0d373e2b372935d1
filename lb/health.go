package lb

import (
	"context"
	"errors"

	"github.com/nanolb/nanolb/internal/fastrand"
)

// The health word packs everything passive health knows about an endpoint
// into one uint64, so every transition is a single compare-and-swap:
//
//	bits  0..1   state: up, ejected, probing, removed
//	bits  2..9   failure streak, saturating at 255
//	bits 10..15  ejections in a row without a success, saturating at 63
//	bits 16..63  deadline, microseconds since the pool's epoch: the end of
//	             the cooldown (ejected) or of the probe lease (probing)
//
// An endpoint that is up with no streak has the word 0, so the common Done
// tests one value and writes nothing.
const (
	stateUp      = 0
	stateEjected = 1
	stateProbing = 2
	stateRemoved = 3

	stateMask     = 3
	streakShift   = 2
	streakMax     = 255
	ejectShift    = 10
	ejectMax      = 63
	deadlineShift = 16
	deadlineMax   = 1<<48 - 1
)

func stateOf(h uint64) uint64     { return h & stateMask }
func streakOf(h uint64) uint64    { return h >> streakShift & streakMax }
func ejectionsOf(h uint64) uint64 { return h >> ejectShift & ejectMax }
func deadlineOf(h uint64) int64   { return int64(h >> deadlineShift) }

func healthWord(state, streak, ejections uint64, deadline int64) uint64 {
	deadline = min(max(deadline, 0), deadlineMax)
	return state | streak<<streakShift | ejections<<ejectShift | uint64(deadline)<<deadlineShift
}

// report applies a lease's outcome to the endpoint's health. probe is the
// health word the lease's probe set, or 0 for an ordinary lease.
func (p *Pool) report(c *core, err error, probe uint64) {
	switch {
	case err == nil:
		p.succeeded(c, probe)
	case errors.Is(err, context.Canceled):
		p.counted(c, false)
		if probe != 0 {
			p.abandonProbe(c, probe)
		}
	default:
		p.counted(c, true)
		p.failed(c, probe, errors.Is(err, context.DeadlineExceeded))
	}
}

// succeeded ends the failure streak. A probe that still owns its endpoint
// reinstates it. An ordinary lease on an ejected endpoint changes nothing:
// only the probe decides when an ejected endpoint comes back.
func (p *Pool) succeeded(c *core, probe uint64) {
	for {
		h := c.health.Load()
		switch {
		case probe != 0 && h == probe:
			if p.transition(c, h, 0, EventReinstated, false) {
				p.counts.ejected.Add(-1)
				p.startRamp(c, false)
				p.track(c)
				p.kick() // reinstated: an endpoint for a waiter
				return
			}
		case h == 0 || stateOf(h) != stateUp:
			return
		case c.health.CompareAndSwap(h, 0):
			return
		}
	}
}

// failed extends the failure streak and ejects at EjectAfter, if the
// MaxEjectedPercent budget allows and, for a timeout, the endpoint has gone
// TimeoutGrace without a success. A failed probe that still owns its
// endpoint ejects it again with the next, doubled, penalty; a superseded
// probe's failure is an ordinary one (it changes nothing while the endpoint
// is out).
//
// While an endpoint is up, its health word's deadline field holds when its
// streak's first timeout came (0: none yet); a success clears the word.
// Only timeouts read the clock here, before an ejection.
func (p *Pool) failed(c *core, probe uint64, timeout bool) {
	if probe != 0 && c.health.Load() == probe {
		k := min(ejectionsOf(probe)+1, ejectMax)
		var note outlierNote // the ejection goes on for the reason it began
		if m := c.meter; m != nil {
			note.reason = EjectReason(m.reason.Load())
		}
		penalty := p.penalty(k)
		if note.reason != ConsecutiveFailures {
			penalty = p.outlierPenalty(k)
		}
		deadline := p.now() + penalty
		next := healthWord(stateEjected, streakOf(probe), k, deadline)
		o := p.ordered()
		swapped := c.health.CompareAndSwap(probe, next)
		if swapped {
			o.record(EventProbeFailed, c, probe, false)
			o.recordNoted(EventEjected, c, next, false, note)
		}
		o.unlock()
		if swapped {
			p.track(c)
			p.arm(deadline)
			return
		}
	}
	// An ordinary lease, or a superseded probe: a probe whose window a later
	// probe took counts as an ordinary lease, as its success does.
	var now int64
	if timeout {
		now = max(p.now(), 1)
	}
	for {
		h := c.health.Load()
		if stateOf(h) != stateUp {
			return // already out: its probe decides
		}
		streak := min(streakOf(h)+1, streakMax)
		since := deadlineOf(h)
		if timeout && since == 0 {
			since = now
		}
		due := streak >= p.cfg.ejectAfter && (!timeout || now-since >= p.cfg.timeoutGrace)
		if !due || !p.reserveEjection() {
			next := healthWord(stateUp, streak, 0, since)
			switch {
			case next == h:
				return // saturated: nothing changes
			case due && streak == p.cfg.ejectAfter: // the cap refused this ejection
				if p.transition(c, h, next, EventEjected, true) {
					return
				}
			case c.health.CompareAndSwap(h, next):
				return
			}
			continue
		}
		deadline := p.now() + p.penalty(1)
		next := healthWord(stateEjected, streak, 1, deadline)
		if m := c.meter; m != nil {
			m.reason.Store(uint32(ConsecutiveFailures))
		}
		if p.transition(c, h, next, EventEjected, false) {
			p.track(c)
			p.arm(deadline)
			return
		}
		p.counts.ejected.Add(-1) // lost a race with another transition: look again
	}
}

// transition moves c's health word from old to next with one
// compare-and-swap and, if it swapped, records kind (next's word) for
// subscribers, in the endpoint's transition order (ordered).
func (p *Pool) transition(c *core, old, next uint64, kind EventKind, refused bool) bool {
	return p.transitionNoted(c, old, next, kind, refused, outlierNote{})
}

// abandonProbe hands a cancelled probe's endpoint back for the next Pick to
// probe at once: the caller gave up, which says nothing about the endpoint.
func (p *Pool) abandonProbe(c *core, probe uint64) {
	if c.health.CompareAndSwap(probe, healthWord(stateEjected, streakOf(probe), ejectionsOf(probe), 0)) {
		p.track(c)
		p.setDue(dueRaised)
	}
}

// reserveEjection takes one place in the MaxEjectedPercent budget.
func (p *Pool) reserveEjection() bool {
	limit := int32(p.cfg.maxEjected(len(p.view.Load().cores)))
	for {
		n := p.counts.ejected.Load()
		if n >= limit {
			return false
		}
		if p.counts.ejected.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// penalty is the cooldown of the k-th ejection in a row, in microseconds:
// EjectFor * 2^(k-1), capped at MaxEjectFor, less up to 10% of jitter.
func (p *Pool) penalty(k uint64) int64 {
	d := p.cfg.maxEjectFor
	if shift := k - 1; shift < 63 && p.cfg.ejectFor <= d>>shift {
		d = p.cfg.ejectFor << shift
	}
	return p.jittered(d)
}

// jittered is cooldown d less up to 10% of jitter, unless Config.NoJitter.
func (p *Pool) jittered(d int64) int64 {
	if p.cfg.jitter && d >= 10 {
		d -= int64(fastrand.Uint63() % uint64(d/10+1))
	}
	return d
}

// maxStreakShift caps the doubling of streakLoad, so the load cannot
// overflow: 2^24 times any real in-flight count still fits an int64.
const maxStreakShift = 24

// trialEvery is how often a streak is not counted: one comparison in
// trialEvery sees an endpoint with a failure streak at its bare in-flight
// count. Without it an endpoint whose streak is below EjectAfter, once
// avoided, would get no more requests: its streak would never end (no
// success) nor finish its ejection (no failure), and it would stay out
// without the probes that bring ejected endpoints back.
const trialEvery = 8

// streakLoad is the load an endpoint that is up shows to the load-aware
// policies (P2C, LeastLoaded, ConsistentHash's bound; PeakEWMA doubles its
// cost alike, with a trial share of its own): its in-flight count, doubled for each failure of its
// current streak, (inflight+1)·2^streak − 1, except in one comparison in
// trialEvery. A failing endpoint answers fast, so its in-flight count stays
// low and, compared by that count alone, it would win most choices: a
// black hole. Doubling per failure in a row makes it lose to any endpoint
// with fewer than 2^streak times its leases after a few failures, without
// a clock or a history; the trial share still sends it a trickle, so it
// either succeeds, which ends the streak and the penalty, or reaches
// EjectAfter and is ejected. With no streak (h == 0 for an endpoint that is
// up) it is the in-flight count, and no random number is drawn.
func streakLoad(inflight int64, h uint64) int64 {
	if h == 0 || fastrand.Uint63()%trialEvery == 0 {
		return inflight
	}
	return (inflight+1)<<min(streakOf(h), maxStreakShift) - 1
}
