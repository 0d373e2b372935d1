package lbhttp

import (
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// statusTripper answers every request with a bodiless response of its
// status, counting attempts: the budget test's stand-in for a server, so
// that it runs in synctest's fake time.
type statusTripper struct {
	status   int
	attempts atomic.Int64
}

func (s *statusTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	s.attempts.Add(1)
	return &http.Response{StatusCode: s.status, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

// TestBudgetBoundsRetriesInAnOutage sends 100 requests a second for 20
// seconds to endpoints that all fail: retries stay within 20% of requests
// plus the bucket's start and its 10 a second, instead of the 2 per request
// that MaxAttempts 3 would send.
func TestBudgetBoundsRetriesInAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lb.New(lb.Config{EjectAfter: 255}, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
		if err != nil {
			t.Fatal(err)
		}
		down := &statusTripper{status: http.StatusServiceUnavailable}
		client := &http.Client{Transport: &Transport{Pool: pool, Base: down}}
		const requests, perSecond = 2000, 100
		for range requests {
			resp, err := client.Get("http://service/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			time.Sleep(time.Second / perSecond)
		}
		seconds := requests / perSecond
		retries := down.attempts.Load() - requests
		// 0.2 × 2000 + 10 × 20 s + 100 at start = 700; without a budget, 4000.
		limit := int64(requests/5 + 10*seconds + 100)
		if retries > limit || retries < limit-10 {
			t.Errorf("%d retries of %d failing requests over %d s, want %d (within 10 below)",
				retries, requests, seconds, limit)
		}
		requireIdle(t, pool)
	})
}

// TestBudgetKeepsTheTokenOfARetryNotSent has a bucket with room for one
// retry: a retry that finds no endpoint is not sent and gives its token
// back, so the next request's retry still has it.
func TestBudgetKeepsTheTokenOfARetryNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lb.New(lb.Config{Policy: lb.RoundRobin, EjectAfter: 255}, "10.0.0.1:80", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		down := &statusTripper{status: http.StatusServiceUnavailable}
		refuse := true
		client := &http.Client{Transport: &Transport{Pool: pool, Base: down,
			RetryRatio: 1e-6, RetryMinPerSecond: 0.1, // a bucket of one token, refilled in 10 s
			Pick: func(_ *http.Request, tried []string) (lb.Lease, error) {
				if len(tried) > 0 && refuse {
					return lb.Lease{}, lb.ErrNoEndpoint
				}
				return pool.PickExcept(tried...)
			}}}
		for i, wantAttempts := range []int64{1, 2} {
			before := down.attempts.Load()
			resp, err := client.Get("http://service/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := down.attempts.Load() - before; got != wantAttempts {
				t.Fatalf("request %d made %d attempts, want %d", i+1, got, wantAttempts)
			}
			refuse = false
		}
		requireIdle(t, pool)
	})
}
