package lb

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeServer is a backend that serves capacity requests at once in service
// each, queues the rest first in first out, and drops a queued or running
// request whose caller gave up.
type fakeServer struct {
	slots   chan struct{}
	service time.Duration
}

func newFakeServer(capacity int, service time.Duration) *fakeServer {
	return &fakeServer{slots: make(chan struct{}, capacity), service: service}
}

func (s *fakeServer) serve(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.slots }()
	t := time.NewTimer(s.service)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// overloadRun drives p with callers closed-loop callers, each request
// bounded by deadline, against servers by address, for d; a caller
// refused a lease tries again after 10 ms. It returns the successes and
// timeouts of the run's second half.
func overloadRun(t *testing.T, p *Pool, servers map[string]*fakeServer, callers int, deadline, d time.Duration) (ok, timeouts int64) {
	t.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	var okN, timeoutN atomic.Int64
	for range callers {
		wg.Go(func() {
			for time.Since(start) < d {
				l, err := p.Pick()
				if err != nil {
					if !errors.Is(err, ErrSaturated) {
						t.Errorf("Pick: %v", err)
						return
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				err = servers[l.Endpoint()].serve(ctx)
				cancel()
				l.Done(err)
				if time.Since(start) < d/2 {
					continue
				}
				if err == nil {
					okN.Add(1)
				} else {
					timeoutN.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return okN.Load(), timeoutN.Load()
}

// Two servers of capacity 8 × 80 ms (200 requests a second in all) and 64
// callers with a 300 ms deadline: without a limit the servers' queues
// outgrow the deadline; an adaptive limit finds the capacity from latency
// and keeps goodput at it with no timeouts.
func TestAdaptiveLimitKeepsGoodputAtCapacityWithoutTimeouts(t *testing.T) {
	const capacity = 2 * 8 / 0.080 // requests a second
	run := func(cfg Config) (goodput float64, timeouts int64, status []EndpointStatus) {
		synctest.Test(t, func(t *testing.T) {
			servers := map[string]*fakeServer{"a:1": newFakeServer(8, 80*time.Millisecond), "b:1": newFakeServer(8, 80*time.Millisecond)}
			p := mustNew(t, cfg, "a:1", "b:1")
			const d = 20 * time.Second
			var ok int64
			ok, timeouts = overloadRun(t, p, servers, 64, 300*time.Millisecond, d)
			goodput = float64(ok) / (d / 2).Seconds()
			status = p.Endpoints()
		})
		return goodput, timeouts, status
	}
	none, noneTimeouts, _ := run(Config{})
	if noneTimeouts == 0 {
		t.Fatalf("without a limit: no timeouts at %.0f/s; the scenario is not overloaded", none)
	}
	got, timeouts, status := run(Config{AdaptiveConcurrency: true})
	if got < 0.9*capacity || timeouts != 0 {
		t.Fatalf("adaptive limit: goodput %.0f/s of %.0f, %d timeouts (no limit: %.0f/s, %d timeouts)", got, capacity, timeouts, none, noneTimeouts)
	}
	for _, e := range status {
		if e.Limit < 8 || e.Limit > 24 {
			t.Errorf("%s: adaptive limit %d, want between the capacity 8 and 24", e.Addr, e.Limit)
		}
	}
	t.Logf("goodput: no limit %.0f/s (%d timeouts), adaptive %.0f/s, capacity %.0f/s", none, noneTimeouts, got, capacity)
}

// A new endpoint starts at MinConcurrency, where its unloaded latency is
// measured; the limit never leaves [MinConcurrency, MaxConcurrency].
func TestAdaptiveLimitStartsAtItsMinimumAndKeepsItsBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{AdaptiveConcurrency: true, MinConcurrency: 2, MaxConcurrency: 5}, "a:1")
		if e := mustStatus(t, p, "a:1"); e.Limit != 2 {
			t.Fatalf("new endpoint's limit %d, want MinConcurrency 2", e.Limit)
		}
		var held []Lease
		for range 2 {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, l)
		}
		if _, err := p.Pick(); !errors.Is(err, ErrSaturated) {
			t.Fatalf("third Pick at limit 2: %v, want ErrSaturated", err)
		}
		for _, l := range held {
			l.Done(nil)
		}
		// A caller that uses every place the limit gives, on an endpoint
		// that answers in 1 ms whatever its load: the limit rises to the cap.
		for range 200 {
			for range 10 {
				held = held[:0]
				for {
					l, err := p.Pick()
					if err != nil {
						break
					}
					held = append(held, l)
				}
				time.Sleep(time.Millisecond)
				for _, l := range held {
					l.Done(nil)
				}
			}
			time.Sleep(10 * time.Millisecond)
			if e := mustStatus(t, p, "a:1"); e.Limit < 2 || e.Limit > 5 {
				t.Fatalf("limit %d outside [2, 5]", e.Limit)
			}
		}
		if e := mustStatus(t, p, "a:1"); e.Limit != 5 {
			t.Fatalf("limit %d after 4 s of fast answers, want the cap 5", e.Limit)
		}
	})
}

// Closing a pool stops its evaluations: the bubble would otherwise never
// end, and the limit stays where it was.
func TestCloseStopsTheAdaptiveLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := New(Config{AdaptiveConcurrency: true}, "a:1")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		p.Close()
		limit := mustStatus(t, p, "a:1").Limit
		time.Sleep(time.Minute)
		if got := mustStatus(t, p, "a:1").Limit; got != limit {
			t.Fatalf("limit moved from %d to %d after Close", limit, got)
		}
	})
}

// A meter times every lease until its window holds adaptSampleFloor
// samples, then about one in adaptSampleEvery.
func TestAdaptiveLimitTimesASampleOfBusyEndpointsLeases(t *testing.T) {
	var m meter
	for range 100 {
		if !m.timed() {
			t.Fatal("a lease untimed while the window holds no sample")
		}
	}
	m.window.Store(adaptSampleFloor << windowShift)
	const n = 80000
	timed := 0
	for range n {
		if m.timed() {
			timed++
		}
	}
	if want := n / adaptSampleEvery; timed < want*3/4 || timed > want*5/4 {
		t.Fatalf("%d of %d leases timed past the floor, want about %d", timed, n, want)
	}
}
