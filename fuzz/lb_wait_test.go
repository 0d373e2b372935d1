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

// FuzzPickWait drives a pool with a concurrency limit through a script of
// Picks, PickWaits (each a goroutine of its own), cancellations, Dones with
// every outcome, Adds, Removes and clock steps, in a synctest bubble. After
// every step, once the goroutines have settled, it checks the model of
// admission control:
//   - no endpoint has more leases in flight than the limit, and the leases
//     the script holds per endpoint are exactly the in-flight counts;
//   - no waiter waits while a lease could be had: if anyone is queued, no
//     endpoint is up below its limit;
//   - Stats().Waiting is the number of waiters the script started and has
//     seen neither served nor failed;
//   - a waiter's error is ErrClosed, ErrQueueFull, wraps its context's,
//     or wraps ErrShed, and then only past the target in a queue the
//     script has not seen empty for the interval (shedding is on, with a
//     target and interval a few clock steps long, so scripts reach it),
//     and Stats().Shed counts those.
//
// At the end every lease is ended and every waiter cancelled, and every
// count is zero.
func FuzzPickWait(f *testing.F) {
	f.Add([]byte{1, 3, 0, 0, 1, 1, 1, 2, 0, 3, 0, 3, 0})
	f.Add([]byte{2, 2, 1, 1, 1, 1, 1, 4, 0, 2, 1, 3, 0, 3, 1, 5, 7})
	f.Add([]byte{1, 4, 1, 1, 1, 6, 0, 7, 1, 1, 1, 3, 0, 5, 3, 2, 0})
	f.Add([]byte{3, 1, 0, 0, 0, 1, 1, 1, 1, 3, 2, 3, 0, 2, 0, 4, 4, 3, 1, 3, 0})
	f.Add([]byte{0, 3, 0, 0, 0, 1, 6, 2, 6, 2, 6, 2, 1, 3, 0, 0}) // a waiter, 9 ms, another, a Done: the first is shed
	f.Fuzz(func(t *testing.T, script []byte) {
		synctest.Test(t, func(t *testing.T) { runWaitScript(t, &tape{b: script}) })
	})
}

// The fuzzed pool's shedding rule: a few of the script's clock steps each.
const fuzzWaitTarget, fuzzWaitInterval = 2 * time.Millisecond, 8 * time.Millisecond

type waitCall struct {
	joined time.Time
	cancel context.CancelFunc
	done   chan waitOutcome
	over   bool
}

type waitOutcome struct {
	l   lb.Lease
	err error
}

func runWaitScript(t *testing.T, tp *tape) {
	limit := 1 + tp.intn(3)
	cfg := lb.Config{
		MaxConcurrency: limit,
		MaxWaiters:     1 + tp.intn(4),
		EjectAfter:     1 + tp.intn(2),
		EjectFor:       time.Millisecond,
		ProbeTimeout:   time.Millisecond,
		NoJitter:       true,
		Outlier:        lb.Outlier{Off: true}, // the model follows consecutive failures
		MaxWait:        time.Second,
		WaitTarget:     fuzzWaitTarget,
		WaitInterval:   fuzzWaitInterval,
	}
	addrs := []string{"a:1", "b:1", "c:1"}
	p := mustNew(t, cfg, addrs[:1+tp.intn(2)]...)
	// held are the script's leases, each with its endpoint's generation: a
	// removed address that comes back is a new endpoint, and leases on the
	// old one no longer show in Endpoints.
	type heldLease struct {
		l   lb.Lease
		gen int
	}
	var held []heldLease
	gen := map[string]int{}
	hold := func(l lb.Lease) { held = append(held, heldLease{l, gen[l.Endpoint()]}) }
	var calls []*waitCall
	// lastEmpty is when the script last saw nobody waiting: the queue
	// stood no longer than since then.
	lastEmpty, shed := time.Now(), uint64(0)
	collect := func() {
		synctest.Wait()
		for i, c := range calls {
			if c.over {
				continue
			}
			select {
			case r := <-c.done:
				c.over = true
				if r.err == nil {
					tracef(t, "waiter %d served: %s", i, r.l.Endpoint())
					hold(r.l)
				} else if errors.Is(r.err, lb.ErrShed) {
					now := time.Now()
					if now.Sub(c.joined) <= fuzzWaitTarget || now.Sub(lastEmpty) < fuzzWaitInterval {
						t.Fatalf("waiter %d shed after %v in a queue that stood at most %v", i, now.Sub(c.joined), now.Sub(lastEmpty))
					}
					shed++
				} else if !errors.Is(r.err, lb.ErrQueueFull) && !errors.Is(r.err, context.Canceled) && !errors.Is(r.err, context.DeadlineExceeded) {
					t.Fatalf("waiter %d: unexpected error %v", i, r.err)
				}
			default:
			}
		}
	}
	check := func(step string) {
		collect()
		holding := map[string]int64{}
		for _, h := range held {
			if a := h.l.Endpoint(); h.gen == gen[a] {
				holding[a]++
			}
		}
		waiting := 0
		for _, c := range calls {
			if !c.over {
				waiting++
			}
		}
		free := false
		for _, e := range p.Endpoints() {
			if e.InFlight > int64(limit) {
				t.Fatalf("after %s: %s has %d in flight, past the limit %d", step, e.Addr, e.InFlight, limit)
			}
			if e.InFlight != holding[e.Addr] {
				t.Fatalf("after %s: %s has %d in flight, the script holds %d", step, e.Addr, e.InFlight, holding[e.Addr])
			}
			if e.State == lb.Up && e.InFlight < int64(limit) {
				free = true
			}
		}
		if s := p.Stats(); s.Waiting != waiting || s.Shed != shed {
			t.Fatalf("after %s: Stats().Waiting = %d, Shed = %d; the script counts %d, %d", step, s.Waiting, s.Shed, waiting, shed)
		}
		if waiting == 0 {
			lastEmpty = time.Now()
		}
		if waiting > 0 && free {
			t.Fatalf("after %s: %d waiting while an endpoint is up below its limit: %+v", step, waiting, p.Endpoints())
		}
	}
	for step := 0; !tp.empty() && step < 200; step++ {
		switch op := tp.intn(8); op {
		case 0: // Pick
			if l, err := p.Pick(); err == nil {
				hold(l)
			} else if !errors.Is(err, lb.ErrSaturated) && !errors.Is(err, lb.ErrNoEndpoint) {
				t.Fatalf("Pick: %v", err)
			}
		case 1: // PickWait on a goroutine of its own
			ctx, cancel := context.WithCancel(context.Background())
			c := &waitCall{joined: time.Now(), cancel: cancel, done: make(chan waitOutcome, 1)}
			calls = append(calls, c)
			go func() { l, err := p.PickWait(ctx); c.done <- waitOutcome{l, err} }()
		case 2: // cancel a waiter
			if len(calls) > 0 {
				calls[tp.intn(len(calls))].cancel()
			}
		case 3: // Done with an outcome
			if len(held) > 0 {
				i := tp.intn(len(held))
				held[i].l.Done(outcomes[tp.intn(len(outcomes))])
				held = append(held[:i], held[i+1:]...)
			}
		case 4: // Add
			_ = p.Add(addrs[tp.intn(len(addrs))])
		case 5: // Remove, keeping at least one endpoint
			a := addrs[tp.intn(len(addrs))]
			present := false
			for _, e := range p.Endpoints() {
				present = present || e.Addr == a
			}
			if present && p.Len() > 1 {
				_ = p.Remove(a)
				gen[a]++
			}
		case 6: // the clock moves
			time.Sleep(time.Duration(1+tp.intn(3)) * time.Millisecond)
		case 7: // a failure on whatever Pick gives, to eject
			if l, err := p.Pick(); err == nil {
				l.Done(errBackend)
			}
		}
		check(fmt.Sprintf("step %d", step))
	}
	for _, c := range calls {
		c.cancel()
	}
	collect()
	for i := range held {
		held[i].l.Done(nil)
	}
	held = nil
	check("the end")
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Fatalf("at the end %s has %d in flight", e.Addr, e.InFlight)
		}
	}
	p.Close()
}
