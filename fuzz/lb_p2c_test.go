package fuzz

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// FuzzP2C builds a P2C pool with fuzzed in-flight loads (leases held on
// each endpoint), ejected endpoints (some of them due for a probe) and
// removed endpoints (some with leases still held), then runs a fuzzed run
// of Picks, each held or ended with a fuzzed outcome, with clock steps in
// between. Every Pick is checked against the snapshot taken just before it:
//
//   - a due endpoint (out, deadline passed) is served first, as a probe,
//     and only then is a lease a probe;
//   - otherwise the endpoint returned is up; ejected, probing and removed
//     endpoints never come back from normal selection;
//   - with two or more endpoints up it is never the strictly busiest of
//     them: P2C's winner is never busier than the other candidate, which
//     is distinct from it and up, so some other up endpoint carries at
//     least the winner's load;
//   - with nothing up and nothing due, Pick says ErrNoEndpoint.
func FuzzP2C(f *testing.F) {
	// n, EjectFor, loads (n bytes), eject mask and remove mask (two bytes
	// each), clock step, then one instruction byte per Pick: bits 0-1 hold
	// the lease or end it with success, failure or cancellation; bit 7
	// steps the clock first.
	// More in testdata/fuzz/FuzzP2C. Distinct loads 0..4:
	f.Add([]byte{4, 9, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 1, 1, 0, 3, 1, 0, 1, 1, 0, 3, 1})
	// Ejected endpoints come due between the Picks:
	f.Add([]byte{7, 19, 1, 0, 2, 0, 1, 0, 3, 0, 170, 0, 0, 0, 1, 0, 2, 3, 1, 0, 1, 1, 1, 1, 2, 132, 1, 1})
	// One endpoint removed with its load still held:
	f.Add([]byte{3, 4, 4, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			runP2C(t, &tape{b: data})
		})
	})
}

func runP2C(t *testing.T, tp *tape) {
	n := 1 + tp.intn(10)
	ejectFor := int64(1+tp.intn(50)) * 100
	cfg := lb.Config{
		EjectAfter:        1,
		EjectFor:          time.Duration(ejectFor) * time.Microsecond,
		MaxEjectFor:       time.Duration(ejectFor) * time.Microsecond,
		ProbeTimeout:      time.Duration(ejectFor) * time.Microsecond,
		MaxEjectedPercent: 100,
		NoJitter:          true,
		Outlier:           lb.Outlier{Off: true}, // the model follows consecutive failures
	}
	as := make([]string, n)
	for i := range as {
		as[i] = fmt.Sprintf("p%d:80", i)
	}
	born := time.Now()
	p := mustNew(t, cfg, as...)
	if p.Policy() != lb.P2C {
		t.Fatalf("the zero Config's policy is %v, want p2c", p.Policy())
	}

	var held []lb.Lease
	defer func() {
		for i := range held {
			held[i].Done(outcomes[2])
		}
	}()
	for i, a := range as {
		for range tp.intn(5) {
			l, ok := leaseOn(p, a)
			if !ok {
				t.Fatalf("setup: no Pick returned %s for load", as[i])
			}
			held = append(held, l)
		}
	}
	eject, remove := tp.u16(), tp.u16()
	for i, a := range as {
		if eject>>i&1 == 1 {
			l, ok := leaseOn(p, a)
			if !ok {
				t.Fatalf("setup: no Pick returned %s to fail", a)
			}
			l.Done(errBackend)
		}
	}
	removed := map[string]bool{}
	for i, a := range as {
		if remove>>i&1 == 1 {
			if err := p.Remove(a); err != nil {
				t.Fatal(err)
			}
			removed[a] = true
		}
	}
	step := func(b byte) {
		switch b % 4 {
		case 1:
			sleep(ejectFor)
		case 2:
			sleep(ejectFor - 1)
		case 3:
			sleep(int64(b) * ejectFor / 128)
		}
	}
	step(tp.byte())

	for k := 0; k < 128 && !tp.empty(); k++ {
		ins := tp.byte()
		if ins&0x80 != 0 {
			step(ins >> 2)
		}
		before, now := p.Endpoints(), since(born)
		l, err := p.Pick()
		tracef(t, "t=%dµs Pick = %q probe=%v %v from %+v", now, l.Endpoint(), l.Probe(), err, before)
		if e, ok := find(before, l.Endpoint()); err == nil && (!ok || removed[l.Endpoint()]) {
			t.Fatalf("pick %d: %q is not in the pool (removed: %v): %+v", k, l.Endpoint(), removed[l.Endpoint()], e)
		}
		if due, ok := firstDue(before, born, now); ok {
			if err != nil || !l.Probe() || l.Endpoint() != due.Addr {
				t.Fatalf("pick %d at %dµs: %s is due (%+v), Pick = %q probe=%v %v", k, now, due.Addr, due, l.Endpoint(), l.Probe(), err)
			}
		} else {
			checkP2CPick(t, k, before, l, err)
		}
		switch ins & 3 {
		case 0:
			held = append(held, l)
		case 1:
			l.Done(nil)
		case 2:
			l.Done(errBackend)
		case 3:
			l.Done(outcomes[2])
		}
	}
}

// checkP2CPick checks a Pick that no due endpoint preempted.
func checkP2CPick(t *testing.T, k int, before []lb.EndpointStatus, l lb.Lease, err error) {
	var up []lb.EndpointStatus
	for _, e := range before {
		if e.State == lb.Up {
			up = append(up, e)
		}
	}
	if len(up) == 0 {
		if !errors.Is(err, lb.ErrNoEndpoint) {
			t.Fatalf("pick %d: nothing up or due, Pick = %q, %v; want ErrNoEndpoint", k, l.Endpoint(), err)
		}
		return
	}
	if err != nil || l.Probe() {
		t.Fatalf("pick %d: %d up, nothing due: Pick = %q probe=%v %v", k, len(up), l.Endpoint(), l.Probe(), err)
	}
	won, ok := find(before, l.Endpoint())
	if !ok || won.State != lb.Up {
		t.Fatalf("pick %d: returned %q, which was %+v, not up; snapshot %+v", k, l.Endpoint(), won, before)
	}
	if len(up) < 2 {
		return
	}
	for _, e := range up {
		if e.Addr != won.Addr && e.InFlight >= won.InFlight {
			return
		}
	}
	t.Fatalf("pick %d: returned %s with load %d, busier than every other endpoint up: %+v", k, won.Addr, won.InFlight, up)
}
