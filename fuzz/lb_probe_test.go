package fuzz

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// FuzzProbeLease builds a pool from the input, ejects some of its endpoints,
// then runs a script of Picks, Dones (success, failure, cancel, or never),
// and clock steps, checking the probe lease's contract at every step:
//
//   - the first Pick after an ejected endpoint's cooldown (or a probe's
//     window) has passed is its probe, the first such endpoint in pool
//     order; no other Pick is a probe, and no Pick returns an endpoint that
//     is not up except as its probe;
//   - at most one probe is outstanding per endpoint per lease window, by the
//     test's own record of the windows it was handed;
//   - a probe never reported is leased again once ProbeTimeout has passed;
//   - a probe's success reinstates (up, no streak, no ejections); its
//     failure ejects again for exactly EjectFor·2^(k-1) capped at
//     MaxEjectFor (Until - now, to the microsecond, with NoJitter); its
//     cancellation makes the endpoint due at once; a superseded probe's
//     outcome leaves an endpoint that is still out as it is;
//   - ordinary outcomes: a failure extends the streak and ejects at
//     EjectAfter when MaxEjectedPercent allows, for exactly EjectFor;
//   - the clock alone changes no snapshot;
//   - at the end, every ejected endpoint comes back through one successful
//     probe, and every in-flight count returns to zero.
func FuzzProbeLease(f *testing.F) {
	// The input: n-1, policy, EjectAfter-1, unit (1µs, 10µs, 1ms),
	// EjectFor-1 and the cap's multiple of it less 1, ProbeTimeout-1 in
	// units, budget (0: 100%, else a byte for 1..100%), eject mask; then
	// the script (probeScript.step). More in testdata/fuzz/FuzzProbeLease.
	// A lost probe, leased again when its window ends and not before:
	f.Add([]byte{2, 0, 0, 0, 9, 3, 19, 0, 1, 6, 2, 0, 7, 0, 6, 1, 19, 0, 3, 0, 6, 0, 0, 3, 0, 0, 3, 0})
	// A cancelled probe hands the endpoint to the next Pick at once:
	f.Add([]byte{3, 0, 1, 1, 4, 7, 29, 0, 6, 6, 2, 0, 5, 0, 0, 0, 5, 0, 1, 0, 0, 4, 0, 1, 6, 2, 0, 3, 0})
	// A superseded probe reports late:
	f.Add([]byte{1, 0, 0, 0, 9, 0, 9, 0, 2, 6, 2, 0, 7, 0, 6, 4, 0, 0, 3, 0, 4, 0, 0, 6, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			s := newProbeScript(t, &tape{b: data})
			for range 200 {
				if s.tp.empty() {
					break
				}
				s.step()
			}
			s.finish()
		})
	})
}

// probeLease is a lease the script holds, or lost (never reported).
type probeLease struct {
	l     lb.Lease
	addr  string
	probe bool
	end   int64 // a probe's window end on the health clock
	seq   int   // a probe's number among its endpoint's probes
	lost  bool
}

type probeScript struct {
	t     *testing.T
	tp    *tape
	p     *lb.Pool
	born  time.Time
	addrs []string

	ejectAfter, pct                 int
	ejectFor, maxEjectFor, probeFor int64

	leases []*probeLease
	latest map[string]int // seq of the newest probe handed out per endpoint
	// timedOut is when an up endpoint's streak's first timeout came (µs
	// since born; absent: none): a streak ending in a timeout ejects only
	// Config.TimeoutGrace after it.
	timedOut map[string]int64
}

func newProbeScript(t *testing.T, tp *tape) *probeScript {
	s := &probeScript{t: t, tp: tp, latest: map[string]int{}, timedOut: map[string]int64{}}
	n := 1 + tp.intn(6)
	policy := lb.Policy(tp.intn(numPolicies()))
	s.ejectAfter = 1 + tp.intn(3)
	unit := []int64{1, 10, 1000}[tp.intn(3)]
	s.ejectFor = int64(1+tp.intn(100)) * unit
	s.maxEjectFor = s.ejectFor * int64(1+tp.intn(40))
	s.probeFor = int64(1+tp.intn(100)) * unit
	s.pct = 100
	if tp.intn(4) != 0 {
		s.pct = 1 + tp.intn(100)
	}
	for i := range n {
		s.addrs = append(s.addrs, fmt.Sprintf("e%d:80", i))
	}
	cfg := lb.Config{
		Policy:            policy,
		EjectAfter:        s.ejectAfter,
		EjectFor:          time.Duration(s.ejectFor) * time.Microsecond,
		MaxEjectFor:       time.Duration(s.maxEjectFor) * time.Microsecond,
		ProbeTimeout:      time.Duration(s.probeFor) * time.Microsecond,
		MaxEjectedPercent: s.pct,
		NoJitter:          true,
		Outlier:           lb.Outlier{Off: true}, // the model follows consecutive failures
	}
	s.born = time.Now() // the pool's epoch: the bubble's clock stands still inside New
	s.p = mustNew(t, cfg, s.addrs...)

	// Eject the endpoints of the mask, by EjectAfter failures each.
	mask := tp.byte()
	for i, a := range s.addrs {
		if mask>>i&1 == 0 {
			continue
		}
		for range s.ejectAfter {
			e, _ := find(s.p.Endpoints(), a)
			if e.State != lb.Up {
				break
			}
			l, ok := leaseOn(s.p, a)
			if !ok {
				t.Fatalf("setup: no Pick returned %s, which is up", a)
			}
			s.leases = append(s.leases, &probeLease{l: l, addr: a})
			s.done(len(s.leases)-1, errBackend)
		}
	}
	tracef(t, "pool %+v: %+v", cfg, s.p.Endpoints())
	s.check()
	return s
}

// step runs one instruction of the script: a byte modulo 8, then its
// operands. 0-2: Pick. 3: Done(nil), 4: Done(failure), 5: Done(cancelled)
// on a held lease (a byte chooses it; 4 and 5 read one more for the kind
// of error). 6: clock step (a byte chooses: 1µs, a byte of µs, to the next
// deadline, to a µs before it, a probe window, two bytes of µs). 7: lose a
// held lease, never to be reported.
func (s *probeScript) step() {
	switch op := s.tp.intn(8); op {
	case 0, 1, 2:
		s.pick()
	case 3:
		if i, ok := s.choose(); ok {
			s.done(i, nil)
		}
	case 4:
		if i, ok := s.choose(); ok {
			s.done(i, []error{errBackend, context.DeadlineExceeded}[s.tp.intn(2)])
		}
	case 5:
		if i, ok := s.choose(); ok {
			s.done(i, []error{context.Canceled, outcomes[3]}[s.tp.intn(2)])
		}
	case 6:
		s.advance()
	case 7:
		if i, ok := s.choose(); ok {
			tracef(s.t, "lose the lease on %s probe=%v", s.leases[i].addr, s.leases[i].probe)
			s.leases[i].lost = true // never reported
		}
	}
	s.check()
}

// choose picks one of the leases still held, if any.
func (s *probeScript) choose() (int, bool) {
	var held []int
	for i, h := range s.leases {
		if !h.lost {
			held = append(held, i)
		}
	}
	if len(held) == 0 {
		return 0, false
	}
	return held[s.tp.intn(len(held))], true
}

func (s *probeScript) now() int64 { return since(s.born) }

// pick runs one Pick and checks it against the snapshot taken before it.
func (s *probeScript) pick() lb.Lease {
	t := s.t
	before, now := s.p.Endpoints(), s.now()
	l, err := s.p.Pick()
	tracef(t, "t=%dµs Pick = %q probe=%v %v", now, l.Endpoint(), l.Probe(), err)
	due, isDue := firstDue(before, s.born, now)
	if isDue {
		if err != nil || !l.Probe() || l.Endpoint() != due.Addr {
			t.Fatalf("t=%dµs: %s is due (%+v) but Pick = %q probe=%v %v; want its probe", now, due.Addr, due, l.Endpoint(), l.Probe(), err)
		}
		for _, h := range s.leases {
			if h.probe && h.addr == due.Addr && h.end > now {
				t.Fatalf("t=%dµs: a second probe on %s inside the window of probe %d, which ends at %dµs", now, due.Addr, h.seq, h.end)
			}
		}
		after, _ := find(s.p.Endpoints(), due.Addr)
		if after.State != lb.Probing || deadline(after, s.born) != now+s.probeFor ||
			after.InFlight != due.InFlight+1 || after.Streak != due.Streak || after.Ejections != due.Ejections {
			t.Fatalf("t=%dµs: probed %s: %+v -> %+v; want probing until now+%dµs, one more in flight, same streak and ejections", now, due.Addr, due, after, s.probeFor)
		}
		s.latest[due.Addr]++
		s.leases = append(s.leases, &probeLease{l: l, addr: due.Addr, probe: true, end: now + s.probeFor, seq: s.latest[due.Addr]})
		return l
	}
	for _, h := range s.leases {
		if h.probe && h.seq == s.latest[h.addr] && h.end <= now {
			t.Fatalf("t=%dµs: probe %d on %s ended its window at %dµs unreported, yet %s is not due: %+v", now, h.seq, h.addr, h.end, h.addr, before)
		}
	}
	up := 0
	for _, e := range before {
		if e.State == lb.Up {
			up++
		}
	}
	if up == 0 {
		if !errors.Is(err, lb.ErrNoEndpoint) {
			t.Fatalf("t=%dµs: nothing up or due, Pick = %q, %v; want ErrNoEndpoint", now, l.Endpoint(), err)
		}
		return l
	}
	if err != nil || l.Probe() {
		t.Fatalf("t=%dµs: %d up and nothing due, Pick = %q probe=%v %v", now, up, l.Endpoint(), l.Probe(), err)
	}
	if e, ok := find(before, l.Endpoint()); !ok || e.State != lb.Up {
		t.Fatalf("t=%dµs: Pick returned %q, which was %+v (in pool: %v), not up", now, l.Endpoint(), e, ok)
	}
	s.leases = append(s.leases, &probeLease{l: l, addr: l.Endpoint()})
	return l
}

// done ends lease i with err and checks the transition.
func (s *probeScript) done(i int, err error) {
	t := s.t
	h := s.leases[i]
	s.leases = append(s.leases[:i], s.leases[i+1:]...)
	es, now := s.p.Endpoints(), s.now()
	before, _ := find(es, h.addr)
	out := 0
	for _, e := range es {
		if e.State != lb.Up {
			out++
		}
	}
	current := h.probe && h.seq == s.latest[h.addr]
	tracef(t, "t=%dµs Done(%v) on %s probe=%v current=%v", now, err, h.addr, h.probe, current)
	h.l.Done(err)
	after, _ := find(s.p.Endpoints(), h.addr)
	if after.InFlight != before.InFlight-1 {
		t.Fatalf("Done(%v) on %s: in-flight %d -> %d", err, h.addr, before.InFlight, after.InFlight)
	}
	if current && (before.State != lb.Probing || deadline(before, s.born) != h.end) {
		t.Fatalf("probe %d on %s, the newest, does not own it: %+v, window end %dµs", h.seq, h.addr, before, h.end)
	}
	want := before
	want.InFlight--
	switch kind := kindOf(err); {
	case current && kind == success:
		want = lb.EndpointStatus{Addr: h.addr, State: lb.Up, InFlight: before.InFlight - 1}
		delete(s.timedOut, h.addr)
	case current && kind == failure:
		want.State, want.Ejections = lb.Ejected, min(before.Ejections+1, 63)
		want.Until = s.born.Add(time.Duration(now+penalty(s.ejectFor, s.maxEjectFor, want.Ejections)) * time.Microsecond)
	case current && kind == cancelled:
		want.State, want.Until = lb.Ejected, s.born // due at once
	case before.State != lb.Up:
		// An ordinary lease on an endpoint that is out, or a superseded
		// probe: only the probe that owns the endpoint decides.
	case kind == success:
		want.Streak = 0
		delete(s.timedOut, h.addr)
	case kind == failure: // an ordinary lease, or a superseded probe on an endpoint that is up
		want.Streak = min(before.Streak+1, 255)
		timeout := errors.Is(err, context.DeadlineExceeded)
		first, ok := s.timedOut[h.addr]
		if timeout && !ok {
			first = max(now, 1)
			s.timedOut[h.addr] = first
		}
		grace := micros(lb.DefaultTimeoutGrace)
		if want.Streak >= s.ejectAfter && (!timeout || now-first >= grace) && out < maxEjected(s.pct, len(es)) {
			want.State, want.Ejections = lb.Ejected, 1
			want.Until = s.born.Add(time.Duration(now+penalty(s.ejectFor, s.maxEjectFor, 1)) * time.Microsecond)
			delete(s.timedOut, h.addr)
		}
	}
	if !sameStatus(after, want) {
		t.Fatalf("t=%dµs: Done(%v) on %s (probe=%v current=%v ejected=%d of %d): %+v -> %+v; want %+v",
			now, err, h.addr, h.probe, current, out, len(es), before, after, want)
	}
}

// sameStatus compares the fields of two snapshots that health defines.
func sameStatus(a, b lb.EndpointStatus) bool {
	return a.Addr == b.Addr && a.State == b.State && a.InFlight == b.InFlight &&
		a.Streak == b.Streak && a.Ejections == b.Ejections && a.Until.Equal(b.Until)
}

// advance moves the clock: by a microsecond, by a fuzzed amount, to the next
// deadline exactly or a microsecond before it, or by a probe window.
func (s *probeScript) advance() {
	now := s.now()
	next := int64(-1)
	for _, e := range s.p.Endpoints() {
		if d := deadline(e, s.born); e.State != lb.Up && d > now && (next < 0 || d < next) {
			next = d
		}
	}
	var by int64
	switch s.tp.intn(6) {
	case 0:
		by = 1
	case 1:
		by = int64(s.tp.byte())
	case 2:
		by = max(next-now, 0)
	case 3:
		by = max(next-now-1, 0)
	case 4:
		by = s.probeFor
	case 5:
		by = int64(s.tp.u16())
	}
	before := s.p.Endpoints()
	tracef(s.t, "t=%dµs sleep %dµs", now, by)
	sleep(by)
	after := s.p.Endpoints()
	for i := range before {
		if !sameStatus(before[i], after[i]) {
			s.t.Fatalf("the clock alone (+%dµs) changed %+v into %+v", by, before[i], after[i])
		}
	}
}

// check tests the invariants of every snapshot.
func (s *probeScript) check() {
	t := s.t
	es := s.p.Endpoints()
	out := 0
	for _, e := range es {
		switch e.State {
		case lb.Up:
			if e.Ejections != 0 || !e.Until.IsZero() {
				t.Fatalf("up endpoint with ejections or a deadline: %+v", e)
			}
		case lb.Ejected, lb.Probing:
			out++
			if e.Ejections < 1 || e.Streak < s.ejectAfter {
				t.Fatalf("out without an ejection or a full streak: %+v", e)
			}
		}
		if e.State == lb.Probing {
			owners := 0
			for _, h := range s.leases {
				if h.probe && h.addr == e.Addr && h.seq == s.latest[e.Addr] && h.end == deadline(e, s.born) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("probing endpoint %+v has %d outstanding probes owning its window", e, owners)
			}
		}
	}
	if out > maxEjected(s.pct, len(es)) {
		t.Fatalf("%d of %d endpoints out, past MaxEjectedPercent %d", out, len(es), s.pct)
	}
}

// finish lets every endpoint back: past every deadline each Pick probes one
// due endpoint, and its success reinstates it. Then every lease ends and
// every in-flight count must be zero.
func (s *probeScript) finish() {
	t := s.t
	for range 2*len(s.addrs) + 2 {
		last := int64(-1)
		for _, e := range s.p.Endpoints() {
			if e.State != lb.Up {
				last = max(last, deadline(e, s.born))
			}
		}
		if last < 0 {
			break
		}
		sleep(max(last-s.now(), 0))
		l := s.pick()
		if !l.Probe() {
			t.Fatalf("past every deadline, Pick = %q, not a probe", l.Endpoint())
		}
		s.done(len(s.leases)-1, nil)
		s.check()
	}
	for _, e := range s.p.Endpoints() {
		if e.State != lb.Up {
			t.Fatalf("%s is still out after its successful probe: %+v", e.Addr, e)
		}
	}
	for len(s.leases) > 0 {
		s.leases[0].lost = false
		s.done(0, outcomes[2])
	}
	for _, e := range s.p.Endpoints() {
		if e.InFlight != 0 {
			t.Fatalf("%s: in-flight %d after every lease ended", e.Addr, e.InFlight)
		}
	}
}
