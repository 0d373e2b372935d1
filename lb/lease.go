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
	// mark is what the policy's begin returned, for its end, on pools whose
	// leases carry state (Pool.leased); 0 on the others.
	mark int64
}

// Endpoint returns the leased endpoint's address, or "" for a zero or
// finished Lease.
func (l *Lease) Endpoint() string {
	if l.c == nil {
		return ""
	}
	return l.c.addr
}

// Probe reports whether this lease is the probe of an ejected endpoint:
// its outcome decides whether the endpoint is reinstated.
func (l *Lease) Probe() bool { return l.probe != 0 }

// Done ends the lease and reports the request's outcome:
//
//   - nil is a success: it ends the endpoint's failure streak, and a probe's
//     success reinstates its endpoint;
//   - an error wrapping context.Canceled is neither: the caller gave up, so
//     only the in-flight count changes (a cancelled probe hands the endpoint
//     to the next Pick to probe);
//   - any other error, context.DeadlineExceeded included, is a failure: it
//     extends the streak, ejects the endpoint at Config.EjectAfter, and a
//     probe's failure ejects it again with a doubled cooldown.
//
// Done on a zero or finished Lease does nothing.
func (l *Lease) Done(err error) {
	c := l.c
	if c == nil {
		return
	}
	l.c = nil
	p := l.pool
	if l.mark != 0 {
		if !p.totalOnly {
			p.end(c, l.mark, err, l.probe)
			return
		}
		// Pool.end for a lease that carries only its place in the total.
		p.counts.total.AddOn(perproc.Pin(), -1)
		perproc.Unpin()
	}
	c.release()
	if err == nil && l.probe == 0 && c.health.Load() == 0 {
		return // up with no streak: nothing to write
	}
	p.report(c, err, l.probe)
}
