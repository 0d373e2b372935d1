package lbhttp

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
)

// overloaded is a server with a capacity per round: it answers 200 to the
// first capacity requests of a round and 503 to the rest, as a backend
// shedding load does. The test starts each round.
type overloaded struct {
	capacity int

	mu       sync.Mutex
	inRound  int
	hits     int
	accepted int
}

func (o *overloaded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits++
	o.inRound++
	ok := o.inRound <= o.capacity
	if ok {
		o.accepted++
	}
	o.mu.Unlock()
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (o *overloaded) newRound() {
	o.mu.Lock()
	o.inRound = 0
	o.mu.Unlock()
}

func (o *overloaded) counts() (hits, accepted int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits, o.accepted
}

// TestThrottleShedsToKTimesAccepts offers two servers, each taking 5 of
// every round's 100 requests and answering 503 to the rest, 60 rounds:
// with the throttle on, what reaches them falls to about K times what
// they accept, and they still accept about all they can; with it off,
// every request reaches them.
func TestThrottleShedsToKTimesAccepts(t *testing.T) {
	const (
		rounds   = 60
		perRound = 100
		capacity = 5
	)
	for _, tc := range []struct {
		name     string
		throttle bool
		k        float64
	}{
		{"the default K sheds to twice the accepts", true, 0},
		{"K 1.5 sheds to one and a half times the accepts", true, 1.5},
		{"off, every request reaches the servers", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			a, b := &overloaded{capacity: capacity}, &overloaded{capacity: capacity}
			srvA, srvB := newServer(t, false, a), newServer(t, false, b)
			pool := newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, srvA, srvB)
			tr := &Transport{Pool: pool, Base: baseFor(t, srvA), MaxAttempts: 1, Throttle: tc.throttle, ThrottleK: tc.k}
			client := &http.Client{Transport: tr}
			throttled := 0
			for range rounds {
				a.newRound()
				b.newRound()
				for range perRound {
					resp, err := client.Get("http://svc/")
					if err != nil {
						if !errors.Is(err, ErrThrottled) {
							t.Fatal(err)
						}
						throttled++
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			hitsA, accA := a.counts()
			hitsB, accB := b.counts()
			wire, accepted := hitsA+hitsB, accA+accB
			t.Logf("%d requests: %d throttled, %d sent, %d accepted", rounds*perRound, throttled, wire, accepted)
			if wire+throttled != rounds*perRound {
				t.Errorf("%d sent and %d throttled, want %d in all", wire, throttled, rounds*perRound)
			}
			requireIdle(t, pool)
			if !tc.throttle {
				if throttled != 0 {
					t.Errorf("%d requests throttled with the throttle off", throttled)
				}
				return
			}
			k := tc.k
			if k == 0 {
				k = DefaultThrottleK
			}
			testkit.ThrottledAsSpecified(t, k, wire, accepted, 2*capacity*rounds)
		})
	}
}

// TestThrottledRequestReachesNoEndpoint checks that a request the throttle
// refuses fails at once with ErrThrottled, leases nothing and charges no
// endpoint: the failure streak counts only the 503s sent.
func TestThrottledRequestReachesNoEndpoint(t *testing.T) {
	noLeaks(t)
	rec := &recorder{status: http.StatusServiceUnavailable}
	srv := newServer(t, false, rec)
	pool := newPool(t, lb.Config{EjectAfter: 100}, srv)
	tr := &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1, Throttle: true}
	client := &http.Client{Transport: tr}
	throttled := 0
	for range 50 {
		resp, err := client.Get("http://svc/")
		if err != nil {
			if !errors.Is(err, ErrThrottled) {
				t.Fatal(err)
			}
			throttled++
			if n := inFlight(pool); n != 0 {
				t.Fatalf("%d leases in flight after a throttled request", n)
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if throttled < 25 {
		t.Errorf("%d of 50 requests throttled against a server that rejects all, want most", throttled)
	}
	if got, want := status(t, pool, addr(srv)).Streak, rec.hits(); got != want {
		t.Errorf("failure streak %d, want the %d requests sent", got, want)
	}
	if rec.hits()+throttled != 50 {
		t.Errorf("%d sent and %d throttled, want 50 in all", rec.hits(), throttled)
	}
}

// TestThrottleCountsRetries checks that a retry is an attempt for the
// throttle: against servers that answer 503 to everything, a response
// that took fewer than MaxAttempts attempts had its next retry refused
// (it is the attempt before, a 503), and the throttle counted every
// attempt, sent or refused, first or retry.
func TestThrottleCountsRetries(t *testing.T) {
	noLeaks(t)
	a, b := &recorder{status: http.StatusServiceUnavailable}, &recorder{status: http.StatusServiceUnavailable}
	srvA, srvB := newServer(t, false, a), newServer(t, false, b)
	pool := newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, srvA, srvB)
	tr := &Transport{Pool: pool, Base: baseFor(t, srvA), Throttle: true, RetryMinPerSecond: MaxRetryMinPerSecond}
	client := &http.Client{Transport: tr}
	var throttledFirst, refusedRetries int
	for range 40 {
		before := a.hits() + b.hits()
		resp, err := client.Get("http://svc/")
		if err != nil {
			if !errors.Is(err, ErrThrottled) {
				t.Fatal(err)
			}
			throttledFirst++
			continue
		}
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", resp.StatusCode)
		}
		resp.Body.Close()
		if a.hits()+b.hits()-before < DefaultMaxAttempts {
			refusedRetries++
		}
	}
	sent := a.hits() + b.hits()
	if refusedRetries == 0 {
		t.Errorf("no retry refused in %d attempts sent", sent)
	}
	requests, accepts := tr.throttle.Counts()
	if want := int64(sent + throttledFirst + refusedRetries); requests != want || accepts != 0 {
		t.Errorf("throttle counted %d attempts and %d accepts, want %d (%d sent, %d first and %d retries refused) and 0",
			requests, accepts, want, sent, throttledFirst, refusedRetries)
	}
	if got, want := tr.ThrottleStats().Rejected, uint64(throttledFirst+refusedRetries); got != want {
		t.Errorf("ThrottleStats().Rejected = %d, want %d (%d first attempts and %d retries refused)",
			got, want, throttledFirst, refusedRetries)
	}
	requireIdle(t, pool)
}

// busyHandler answers 200 to /ok and 503 to every other path, as a server
// shedding all but its health checks does, and counts what it answered.
type busyHandler struct {
	mu       sync.Mutex
	ok, busy int
}

func (h *busyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.URL.Path == "/ok" {
		h.ok++
		w.WriteHeader(http.StatusOK)
		return
	}
	h.busy++
	w.WriteHeader(http.StatusServiceUnavailable)
}

func (h *busyHandler) hits() (ok, busy int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, h.busy
}

// sendN sends n requests for path and returns how many the throttle
// refused (ErrThrottled), or the first other error.
func sendN(client *http.Client, path string, n int) (throttled int, err error) {
	for range n {
		resp, err := client.Get("http://svc" + path)
		if err != nil {
			if !errors.Is(err, ErrThrottled) {
				return throttled, err
			}
			throttled++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return throttled, nil
}

// TestThrottleStatsCountWhatTheThrottleDid sends requests through a real
// server on 127.0.0.1: ten it accepts, then two hundred it answers 503,
// until the throttle refuses most. ThrottleStats counts each request as
// the throttle did: every one a request, the 200s accepts, and the
// refusals, exactly those that failed with ErrThrottled, as Rejected.
func TestThrottleStatsCountWhatTheThrottleDid(t *testing.T) {
	noLeaks(t)
	h := &busyHandler{}
	srv := newServer(t, false, h)
	if !strings.HasPrefix(addr(srv), "127.0.0.1:") {
		t.Fatalf("server at %s, want 127.0.0.1", addr(srv))
	}
	pool := newPool(t, lb.Config{EjectAfter: 255}, srv)
	tr := &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1, Throttle: true}
	client := &http.Client{Transport: tr}

	if got := tr.ThrottleStats(); got != (ThrottleStats{}) {
		t.Fatalf("ThrottleStats() = %+v before any request, want zero", got)
	}
	if n, err := sendN(client, "/ok", 10); err != nil || n != 0 {
		t.Fatalf("%d requests throttled while the server accepted all (error %v)", n, err)
	}
	if got, want := tr.ThrottleStats(), (ThrottleStats{Requests: 10, Accepts: 10}); got != want {
		t.Fatalf("ThrottleStats() = %+v after 10 accepted, want %+v", got, want)
	}
	throttled, err := sendN(client, "/busy", 200)
	if err != nil {
		t.Fatal(err)
	}
	ok, busy := h.hits()
	t.Logf("200 requests for 503s: %d throttled, %d sent", throttled, busy)
	if throttled < 100 {
		t.Errorf("%d of 200 requests throttled against a server that rejects them all, want most", throttled)
	}
	if ok != 10 || busy+throttled != 200 {
		t.Errorf("server answered %d 200s and %d 503s with %d throttled, want 10 and %d", ok, busy, throttled, 200-throttled)
	}
	want := ThrottleStats{Requests: 210, Accepts: 10, Rejected: uint64(throttled)}
	if got := tr.ThrottleStats(); got != want {
		t.Errorf("ThrottleStats() = %+v, want %+v", got, want)
	}
	requireIdle(t, pool)
}

// TestThrottleStatsWithoutAThrottleAreZero checks that a Transport with
// Throttle off, or with a field out of range, reports the zero
// ThrottleStats whatever its requests did.
func TestThrottleStatsWithoutAThrottleAreZero(t *testing.T) {
	noLeaks(t)
	h := &busyHandler{}
	srv := newServer(t, false, h)
	pool := newPool(t, lb.Config{EjectAfter: 255}, srv)
	for _, tc := range []struct {
		name string
		tr   *Transport
	}{
		{"Throttle off", &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1}},
		{"ThrottleK out of range", &Transport{Pool: pool, Base: baseFor(t, srv), Throttle: true, ThrottleK: MaxThrottleK + 1}},
	} {
		t.Run(tc.name+" reports zero", func(t *testing.T) {
			client := &http.Client{Transport: tc.tr}
			for range 20 {
				if resp, err := client.Get("http://svc/busy"); err == nil {
					resp.Body.Close()
				}
			}
			if got := tc.tr.ThrottleStats(); got != (ThrottleStats{}) {
				t.Errorf("ThrottleStats() = %+v, want zero", got)
			}
		})
	}
	requireIdle(t, pool)
}

// TestThrottleStatsWhileRequestsRun reads ThrottleStats from a goroutine
// while others send requests, from before the first one (run it under
// -race): Rejected never falls, and the last read counts everything. (The
// window's totals may lag its buckets for an instant while the ring turns,
// so a read in flight is not checked against Requests.)
func TestThrottleStatsWhileRequestsRun(t *testing.T) {
	noLeaks(t)
	h := &busyHandler{}
	srv := newServer(t, false, h)
	pool := newPool(t, lb.Config{EjectAfter: 255}, srv)
	tr := &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1, Throttle: true}
	client := &http.Client{Transport: tr}

	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		var last ThrottleStats
		for {
			s := tr.ThrottleStats()
			switch {
			case s.Rejected < last.Rejected:
				readerDone <- fmt.Errorf("Rejected fell from %d to %d", last.Rejected, s.Rejected)
				return
			}
			last = s
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	throttled := 0
	for range 4 {
		wg.Go(func() {
			n, err := sendN(client, "/busy", 50)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			throttled += n
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	want := ThrottleStats{Requests: 200, Accepts: 0, Rejected: uint64(throttled)}
	if got := tr.ThrottleStats(); got != want {
		t.Errorf("ThrottleStats() = %+v, want %+v", got, want)
	}
	requireIdle(t, pool)
}

func TestThrottleConfig(t *testing.T) {
	pool, err := lb.New(lb.Config{}, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tr   *Transport
	}{
		{"K without Throttle is an error", &Transport{ThrottleK: 2}},
		{"K below 1 is an error", &Transport{Throttle: true, ThrottleK: 0.5}},
		{"K above the maximum is an error", &Transport{Throttle: true, ThrottleK: MaxThrottleK + 1}},
		{"K NaN is an error", &Transport{Throttle: true, ThrottleK: math.NaN()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tr.Pool = pool
			req, _ := http.NewRequest(http.MethodGet, "http://svc/", nil)
			if _, err := tc.tr.RoundTrip(req); !errors.Is(err, lb.ErrConfig) {
				t.Fatalf("err %v, want lb.ErrConfig", err)
			}
		})
	}
}
