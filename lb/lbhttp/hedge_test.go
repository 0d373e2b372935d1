package lbhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"
	"github.com/nanolb/nanolb/lb"
)

// slowOnce answers its first request after delay (or when the request is
// cancelled, which it counts), and every other at once.
type slowOnce struct {
	delay     time.Duration
	calls     atomic.Int64
	cancelled atomic.Int64
}

func (s *slowOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.calls.Add(1) == 1 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			s.cancelled.Add(1)
			return
		}
	}
	io.WriteString(w, "ok")
}

// firstOn is a Pick hook that sends first attempts to endpoint a and the
// rest where Pool.PickExcept says.
func firstOn(pool *lb.Pool, a string) func(*http.Request, []string) (lb.Lease, error) {
	return func(req *http.Request, tried []string) (lb.Lease, error) {
		if len(tried) > 0 {
			return pool.PickExcept(tried...)
		}
		for {
			l, err := pool.Pick()
			if err != nil || l.Endpoint() == a {
				return l, err
			}
			l.Done(context.Canceled)
		}
	}
}

// A request whose first endpoint stalls is hedged after HedgeAfter to an
// endpoint not tried; the hedge answers, the stalled attempt is cancelled
// (the server sees it go) and its lease ends neutrally: the slow endpoint
// is not charged, even with EjectAfter 1.
func TestAHedgeOnAnotherEndpointAnswersAndTheLoserIsNotCharged(t *testing.T) {
	for _, v := range protocols {
		t.Run(v.name, func(t *testing.T) {
			noLeaks(t)
			slow := &slowOnce{delay: 10 * time.Second}
			fast := &slowOnce{}
			fast.calls.Store(1)
			sa, sb := newServer(t, v.http2, slow), newServer(t, v.http2, fast)
			pool := newPool(t, lb.Config{EjectAfter: 1}, sa, sb)
			tr := &Transport{Pool: pool, Base: baseFor(t, sa), HedgeAfter: 20 * time.Millisecond, Pick: firstOn(pool, addr(sa))}
			client := &http.Client{Transport: tr}
			start := time.Now()
			resp, err := client.Get(scheme(sa) + "://svc/x")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if took := time.Since(start); string(b) != "ok" || resp.Request.URL.Host != addr(sb) || took > 5*time.Second {
				t.Fatalf("answer %q from %s after %v, want the hedge's from %s", b, resp.Request.URL.Host, took, addr(sb))
			}
			if s := tr.HedgeStats(); s != (HedgeStats{Sent: 1, Won: 1}) {
				t.Fatalf("HedgeStats() = %+v, want one sent and won", s)
			}
			testkit.Eventually(t, 5*time.Second, "the stalled attempt to end", func() bool { return inFlight(pool) == 0 })
			if e := status(t, pool, addr(sa)); e.State != lb.Up || e.Streak != 0 {
				t.Fatalf("the loser's endpoint %+v: charged for losing", e)
			}
			testkit.Eventually(t, 5*time.Second, "the server to see the loser cancelled", func() bool { return slow.cancelled.Load() == 1 })
		})
	}
}

// A request that may not be sent twice is never hedged; an
// Idempotency-Key makes a POST hedgeable.
func TestOnlyRequestsThatMayBeRetriedAreHedged(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		name   string
		key    bool
		hedged bool
	}{{"POST", false, false}, {"POST with an Idempotency-Key", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			slow := &slowOnce{delay: 300 * time.Millisecond}
			fast := &slowOnce{}
			fast.calls.Store(1)
			sa, sb := newServer(t, false, slow), newServer(t, false, fast)
			pool := newPool(t, lb.Config{}, sa, sb)
			tr := &Transport{Pool: pool, Base: baseFor(t, sa), HedgeAfter: 10 * time.Millisecond, Pick: firstOn(pool, addr(sa))}
			req, _ := http.NewRequest(http.MethodPost, "http://svc/x", strings.NewReader("body"))
			if tc.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if hedged := resp.Request.URL.Host == addr(sb); hedged != tc.hedged || (tr.HedgeStats().Sent == 1) != tc.hedged {
				t.Fatalf("answered by %s, stats %+v; hedged = %v, want %v", resp.Request.URL.Host, tr.HedgeStats(), hedged, tc.hedged)
			}
			testkit.Eventually(t, 5*time.Second, "leases to end", func() bool { return inFlight(pool) == 0 })
		})
	}
}

// stallBase is a RoundTripper for synctest: every attempt takes d (in the
// bubble's time) unless its request is cancelled first.
type stallBase struct {
	d        time.Duration
	attempts atomic.Int64
}

func (s *stallBase) RoundTrip(req *http.Request) (*http.Response, error) {
	s.attempts.Add(1)
	select {
	case <-time.After(s.d):
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// When every endpoint is slow, hedges are paid from the retry budget and
// stop when it is empty: attempts per request stay within one, the budget's
// ratio, and what the bucket held and refilled.
func TestTheBudgetCapsHedgesWhenEverythingIsSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lb.New(lb.Config{}, "a:1", "b:1", "c:1", "d:1")
		if err != nil {
			t.Fatal(err)
		}
		base := &stallBase{d: time.Second}
		tr := &Transport{Pool: pool, Base: base, HedgeAfter: 10 * time.Millisecond, MaxAttempts: 4, MaxHedges: 4}
		const requests = 1000
		start := time.Now()
		var wg sync.WaitGroup
		for range requests {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, "http://svc/x", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			})
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		// The bucket starts with 10 s of RetryMinPerSecond, refills at it,
		// and each request adds RetryRatio.
		allowed := requests*(1+DefaultRetryRatio) + DefaultRetryMinPerSecond*(10+elapsed) + 1
		if got := float64(base.attempts.Load()); got > allowed {
			t.Fatalf("%v attempts for %d requests over %.1f s, want at most %v", got, requests, elapsed, allowed)
		}
		if s := tr.HedgeStats(); s.Refused == 0 || s.Sent == 0 || s.Refused > requests {
			t.Fatalf("HedgeStats() = %+v: want hedges both sent and refused, refusals at most one a request", s)
		}
		time.Sleep(2 * time.Second) // losers still report
		if n := inFlight(pool); n != 0 {
			t.Fatalf("%d leases in flight after every request", n)
		}
	})
}

// With HedgeExtraLoad the delay is the percentile of recent first
// attempts: after many fast requests, a slow one is hedged long before
// HedgeAfter, the fallback for a Transport that has seen too few.
func TestHedgeExtraLoadHedgesAtThePercentile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lb.New(lb.Config{}, "a:1", "b:1")
		if err != nil {
			t.Fatal(err)
		}
		base := &stallBase{d: time.Millisecond}
		tr := &Transport{Pool: pool, Base: base, HedgeAfter: time.Hour, HedgeExtraLoad: 0.01}
		get := func() time.Duration {
			req, _ := http.NewRequest(http.MethodGet, "http://svc/x", nil)
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return time.Since(start)
		}
		for range 300 {
			get()
		}
		base.d = 10 * time.Second // now every first attempt stalls; the hedge too, but it is sent
		before := tr.HedgeStats().Sent
		done := make(chan time.Duration)
		go func() { done <- get() }()
		time.Sleep(50 * time.Millisecond)
		if tr.HedgeStats().Sent != before+1 {
			t.Fatalf("no hedge within 50 ms of a 1 ms p99: %+v", tr.HedgeStats())
		}
		<-done
	})
}

// A Transport with no hedge fields is not hedging, and hedging needs
// retries.
func TestHedgingFieldsAreChecked(t *testing.T) {
	pool, _ := lb.New(lb.Config{}, "a:1")
	for _, tr := range []*Transport{
		{Pool: pool, HedgeAfter: -1},
		{Pool: pool, HedgeExtraLoad: 0.9},
		{Pool: pool, MaxHedges: 3},
		{Pool: pool, HedgeAfter: time.Millisecond, MaxAttempts: 1},
		{Pool: pool, HedgeAfter: time.Millisecond, MaxAttempts: 3, MaxHedges: 4},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://svc/", nil)
		if _, err := tr.RoundTrip(req); !errors.Is(err, lb.ErrConfig) {
			t.Errorf("%+v: %v, want lb.ErrConfig", tr, err)
		}
	}
}
