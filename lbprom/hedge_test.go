package lbprom_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"
	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// HedgeStats has lbhttp.HedgeStats' fields, so the one converts to the
// other (lbgrpc pins its own against lbhttp's).
var _ = lbprom.HedgeStats(lbhttp.HedgeStats{})

// stallingBackends are real HTTP servers on 127.0.0.1 that share a count
// of requests to stall: while it is above zero, a request takes one and
// waits until it is cancelled, or for stallFor, before it answers 200;
// every other request is answered at once.
type stallingBackends struct {
	addrs     []string
	stalls    atomic.Int64
	stallFor  time.Duration
	cancelled atomic.Int64 // stalled requests the client cancelled
}

func newStallingBackends(t *testing.T, n int, stallFor time.Duration) *stallingBackends {
	t.Helper()
	b := &stallingBackends{stallFor: stallFor}
	for range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if b.stalls.Add(-1) < 0 {
				return
			}
			select {
			case <-time.After(b.stallFor):
			case <-r.Context().Done():
				b.cancelled.Add(1)
			}
		}))
		t.Cleanup(srv.Close)
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Fatalf("backend at %s, want 127.0.0.1", srv.URL)
		}
		b.addrs = append(b.addrs, strings.TrimPrefix(srv.URL, "http://"))
	}
	return b
}

// hedgingTransport is a Transport that hedges after 20 ms over a pool of
// b's servers, with a retry budget that holds one token and earns next to
// nothing, and the hedge collector for it named name.
func hedgingTransport(t *testing.T, b *stallingBackends, name string) (*lbhttp.Transport, *lbprom.HedgeCollector) {
	t.Helper()
	pool, err := lb.New(lb.Config{}, b.addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	tr := &lbhttp.Transport{Pool: pool, HedgeAfter: 20 * time.Millisecond, RetryRatio: 0.001, RetryMinPerSecond: 0.01}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := lbprom.NewHedgeCollector(name, func() lbprom.HedgeStats {
		return lbprom.HedgeStats(tr.HedgeStats())
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, c
}

// get sends one GET through tr, failing the test on an error.
func get(t *testing.T, tr *lbhttp.Transport) {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Get("http://search/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func hedgesAre(name string, sent, won, refused float64) []want {
	l := []string{"hedger=" + name}
	return []want{
		{"nanolb_hedges_sent_total", l, sent},
		{"nanolb_hedges_won_total", l, won},
		{"nanolb_hedges_refused_total", l, refused},
	}
}

// An lbhttp Transport's hedging, on real backends, is scraped as the
// Transport counts it: a request whose first attempt stalls is hedged and
// the hedge wins (the stalled attempt is cancelled); the next one that
// stalls finds the budget's one token spent, so its hedges are refused and
// the stalled attempt answers.
func TestHedgesAreScraped(t *testing.T) {
	b := newStallingBackends(t, 2, 300*time.Millisecond)
	tr, c := hedgingTransport(t, b, "search")
	s := serveAll(t, c)

	s.waitFor(hedgesAre("search", 0, 0, 0)...)
	b.stalls.Store(1)
	get(t, tr)
	s.waitFor(hedgesAre("search", 1, 1, 0)...)
	testkit.Eventually(t, waitLimit, "the server to see the losing attempt cancelled", func() bool { return b.cancelled.Load() == 1 })

	b.stalls.Store(1)
	get(t, tr)
	st := tr.HedgeStats()
	if st.Sent != 1 || st.Won != 1 || st.Refused == 0 {
		t.Fatalf("HedgeStats() = %+v after a stalled request with the budget spent, want refusals and still one sent and won", st)
	}
	f := s.waitFor(hedgesAre("search", 1, 1, float64(st.Refused))...)
	for _, name := range []string{"nanolb_hedges_sent_total", "nanolb_hedges_won_total", "nanolb_hedges_refused_total"} {
		if got := f[name].GetType(); got != dto.MetricType_COUNTER {
			t.Errorf("%s is a %v, want a counter", name, got)
		}
		if strings.TrimSpace(f[name].GetHelp()) == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Hedgers are collectors of their own, each under its name: two on one
// registry, beside a throttle collector, are scraped apart, and a second
// collector under a name already registered is refused.
func TestHedgersAreScrapedApart(t *testing.T) {
	b := newStallingBackends(t, 2, 300*time.Millisecond)
	search, searchC := hedgingTransport(t, b, "search")
	users, usersC := hedgingTransport(t, b, "users")
	throttle, err := lbprom.NewThrottleCollector("users", func() lbprom.ThrottleStats { return lbprom.ThrottleStats{Requests: 4} })
	if err != nil {
		t.Fatal(err)
	}
	s := serveAll(t, searchC, usersC, throttle)

	b.stalls.Store(1)
	get(t, search)
	get(t, users)
	s.waitFor(join(hedgesAre("search", 1, 1, 0), hedgesAre("users", 0, 0, 0),
		[]want{{"nanolb_throttle_requests", []string{"throttle=users"}, 4}})...)

	_, again := hedgingTransport(t, b, "search")
	preg := prometheus.NewPedanticRegistry()
	preg.MustRegister(searchC)
	var already prometheus.AlreadyRegisteredError
	if err := preg.Register(again); !errors.As(err, &already) {
		t.Fatalf("Register of a second hedger named search: %v, want AlreadyRegisteredError", err)
	}
}

func TestHedgeCollectorBadArguments(t *testing.T) {
	stats := func() lbprom.HedgeStats { return lbprom.HedgeStats{} }
	for _, tc := range []struct {
		name  string
		hname string
		stats func() lbprom.HedgeStats
	}{
		{"an empty name", "", stats},
		{"a nil stats function", "search", nil},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			c, err := lbprom.NewHedgeCollector(tc.hname, tc.stats)
			if c != nil || !errors.Is(err, lbprom.ErrOption) {
				t.Fatalf("NewHedgeCollector: %v, %v; want nil and an error wrapping ErrOption", c, err)
			}
		})
	}
}
