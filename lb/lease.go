package lb

import "github.com/nanolb/nanolb/internal/perproc"

// Lease is one request's hold on an endpoint, returned by Pick. While it is
// held the endpoint's in-flight count includes it; Done ends it and reports
// how the request went.
//
// The contract: call Done exactly once per lease, on the variable Pick's
// result was stored in. Done clears the lease, so a second Done on the same
// variable does nothing, and the in-flight count never goes below zero. A
// Lease is a small value; copying it and calling Done on both copies is a
// misuse, like copying a sync.Mutex: it takes another lease's count away
// (and a count it would drive below zero is put back at once, so it never
// stays negative). A lease outlives its endpoint's removal and its pool's
// deletion: its Done is then still safe and only lowers the in-flight count.
//
// Lease keeps to four fields: the compiler keeps structs of up to four
// fields in registers, and a fifth costs every Pick a trip through memory.
type Lease struct {
	c     *core
	pool  *Pool
	probe uint64 // the health word this lease's probe set; 0 for ordinary leases
	mark  int64  // the policy's per-lease state (policyBegin), for its end
}

// leaseMode is what a pool's leases carry beyond their endpoint's
// in-flight count. It is chosen at New from the policy and
// Config.MaxConcurrency; Pick and Done switch on it.
type leaseMode uint8

const (
	leaseBare    leaseMode = iota // nothing more
	leaseLimit                    // a place under MaxConcurrency
	leaseTotal                    // a place in the pool's total, which ConsistentHash's bound reads
	leaseTracked                  // any other mix, or the policy's own state: begin and end
)

// leaseModeOf is the lease mode of a pool of policy with a concurrency
// limit (0 for none), adaptive or not.
func leaseModeOf(policy Policy, limit int64, adaptive bool) leaseMode {
	switch {
	case adaptive || leasedPolicies[policy] || totalPolicies[policy] && limit != 0:
		return leaseTracked
	case totalPolicies[policy]:
		return leaseTotal
	case limit != 0:
		return leaseLimit
	}
	return leaseBare
}

// Endpoint returns the leased endpoint's address, or "" for a zero or
// finished Lease.
func (l *Lease) Endpoint() string {
	if l.c == nil {
		return ""
	}
	return *l.c.addr
}

// Probe reports whether this lease is the probe of an ejected endpoint:
// its outcome decides whether the endpoint is reinstated.
func (l *Lease) Probe() bool { return l.probe != 0 }

// Done ends the lease and reports the request's outcome: nil is a success,
// which ends the streak (a probe's reinstates its endpoint); an error
// wrapping context.Canceled is neutral, only the in-flight count changes;
// any other error is a failure, which extends the streak and ejects at
// Config.EjectAfter (a probe's, again with a doubled cooldown); a failure
// wrapping context.DeadlineExceeded, a timeout, ejects only an endpoint
// that has also gone Config.TimeoutGrace without a success. Done on a zero
// or finished Lease does nothing.
func (l *Lease) Done(err error) {
	c := l.c
	if c == nil {
		return
	}
	l.c = nil
	p := l.pool
	switch p.mode {
	case leaseBare:
	case leaseTotal: // Sum.Add, which is over the inlining budget
		p.counts.total.AddOn(perproc.Pin(), -1)
		perproc.Unpin()
	default:
		p.end(c, l.mark, err, l.probe)
		return
	}
	c.release()
	if err == nil && l.probe == 0 && c.health.Load() == 0 {
		return // up with no streak: nothing to write
	}
	p.report(c, err, l.probe)
}

// begin starts what a lease of a pool not in leaseBare mode carries: its
// place in the pool's total, for policies that read the total, and the
// policy's state, if its table keeps some, whose mark it returns. The total
// is counted per processor (procSum), so that a lease writes no line other
// processors write, and ConsistentHash's bound reads it only when a key's
// owner is busy. Under an adaptive limit the meter times a sample of
// leases (meter.timed): their mark is their start (startMark), which
// PeakEWMA's also is when it samples.
func (p *Pool) begin(c *core) int64 {
	if totalPolicies[p.policy] {
		p.counts.total.Add(1)
	}
	mark := p.policyBegin(c)
	if p.adaptive && mark == unsampled && c.meter.timed() {
		mark = startMark()
	}
	return mark
}

// end is Done for a lease of a pool in leaseLimit or leaseTracked mode: the
// lease leaves the pool's total and the policy's state; then, under a
// concurrency limit, a successful lease's slot goes straight to the oldest
// waiter when it can (passOn); else the slot is given back, the outcome
// reported, and only then the queue kicked, so that a waiter is never
// handed the endpoint that just failed before its failure counts.
func (p *Pool) end(c *core, mark int64, err error, probe uint64) {
	if totalPolicies[p.policy] {
		p.counts.total.Add(-1)
	}
	if leasedPolicies[p.policy] {
		p.policyEnd(c, mark, err)
	}
	if p.adaptive {
		c.meter.record(mark, err, c.inFlight())
	}
	if p.limit != 0 && err == nil && probe == 0 && p.queue.waiting() && p.passOn(c) {
		return
	}
	c.release()
	if err != nil || probe != 0 || c.health.Load() != 0 {
		p.report(c, err, probe)
	}
	if p.limit != 0 {
		p.kick()
		if p.stats.full.Load() {
			p.drained()
		}
	}
}
