package lbprom_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// ThrottleStats has lbhttp.ThrottleStats' fields, so the one converts to
// the other (lbgrpc pins its own against lbhttp's).
var _ = lbprom.ThrottleStats(lbhttp.ThrottleStats{})

// busyBackend is a real HTTP server on 127.0.0.1 that answers 200 to /ok
// and 503 to every other path, as a backend shedding load does.
type busyBackend struct {
	srv *httptest.Server

	mu       sync.Mutex
	ok, busy int
}

func newBusyBackend(t *testing.T) *busyBackend {
	t.Helper()
	b := &busyBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if r.URL.Path == "/ok" {
			b.ok++
			return
		}
		b.busy++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(b.srv.Close)
	if !strings.HasPrefix(b.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("backend at %s, want 127.0.0.1", b.srv.URL)
	}
	return b
}

func (b *busyBackend) hits() (ok, busy int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok, b.busy
}

// throttledTransport is a Transport with a throttle over a pool of b, one
// attempt per request, and the throttle collector for it named name.
func throttledTransport(t *testing.T, b *busyBackend, name string) (*lbhttp.Transport, *lbprom.ThrottleCollector) {
	t.Helper()
	pool, err := lb.New(lb.Config{EjectAfter: 255}, strings.TrimPrefix(b.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	tr := &lbhttp.Transport{Pool: pool, MaxAttempts: 1, Throttle: true}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := lbprom.NewThrottleCollector(name, func() lbprom.ThrottleStats {
		return lbprom.ThrottleStats(tr.ThrottleStats())
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, c
}

// send sends n requests for path through tr and returns how many its
// throttle refused; any other error fails the test.
func send(t *testing.T, tr *lbhttp.Transport, path string, n int) (throttled int) {
	t.Helper()
	client := &http.Client{Transport: tr}
	for range n {
		resp, err := client.Get("http://search" + path)
		if err != nil {
			if !errors.Is(err, lbhttp.ErrThrottled) {
				t.Fatal(err)
			}
			throttled++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return throttled
}

func throttleIs(name string, requests, accepts, rejected float64) []want {
	l := []string{"throttle=" + name}
	return []want{
		{"nanolb_throttle_requests", l, requests},
		{"nanolb_throttle_accepts", l, accepts},
		{"nanolb_throttle_rejected_total", l, rejected},
	}
}

// An lbhttp Transport's throttle, on a real backend that accepts ten
// requests and then answers 503 until the throttle rejects most, is
// scraped as the Transport counts it: every request, the ten accepts, and
// exactly the requests that failed with ErrThrottled as rejected.
func TestThrottleIsScraped(t *testing.T) {
	b := newBusyBackend(t)
	tr, c := throttledTransport(t, b, "search")
	s := serveAll(t, c)

	s.waitFor(throttleIs("search", 0, 0, 0)...)
	if n := send(t, tr, "/ok", 10); n != 0 {
		t.Fatalf("%d requests throttled while the backend accepted all", n)
	}
	s.waitFor(throttleIs("search", 10, 10, 0)...)
	throttled := send(t, tr, "/busy", 200)
	if ok, busy := b.hits(); throttled < 100 || ok != 10 || busy+throttled != 200 {
		t.Fatalf("backend answered %d 200s and %d 503s, %d throttled; want 10, and most of 200 throttled", ok, busy, throttled)
	}
	f := s.waitFor(throttleIs("search", 210, 10, float64(throttled))...)
	for name, typ := range map[string]dto.MetricType{
		"nanolb_throttle_requests":       dto.MetricType_GAUGE,
		"nanolb_throttle_accepts":        dto.MetricType_GAUGE,
		"nanolb_throttle_rejected_total": dto.MetricType_COUNTER,
	} {
		if got := f[name].GetType(); got != typ {
			t.Errorf("%s is a %v, want a %v", name, got, typ)
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

// Throttles are collectors of their own, each under its name: two on one
// registry, beside a pool collector, are scraped apart, and a second
// collector under a name already registered is refused.
func TestThrottlesAreScrapedApart(t *testing.T) {
	b := newBusyBackend(t)
	search, searchC := throttledTransport(t, b, "search")
	users, usersC := throttledTransport(t, b, "users")
	reg := lb.NewRegistry()
	if _, err := reg.Ensure("api", lb.Config{}, addrA); err != nil {
		t.Fatal(err)
	}
	pools, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("api"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pools.Close)
	s := serveAll(t, searchC, usersC, pools)

	send(t, search, "/ok", 3)
	send(t, users, "/ok", 5)
	send(t, users, "/busy", 2)
	s.waitFor(join(throttleIs("search", 3, 3, 0), throttleIs("users", 7, 5, 0),
		[]want{{"nanolb_pool_endpoints", []string{"pool=api"}, 1}})...)

	_, again := throttledTransport(t, b, "search")
	preg := prometheus.NewPedanticRegistry()
	preg.MustRegister(searchC)
	var already prometheus.AlreadyRegisteredError
	if err := preg.Register(again); !errors.As(err, &already) {
		t.Fatalf("Register of a second throttle named search: %v, want AlreadyRegisteredError", err)
	}
}

func TestThrottleCollectorBadArguments(t *testing.T) {
	stats := func() lbprom.ThrottleStats { return lbprom.ThrottleStats{} }
	for _, tc := range []struct {
		name  string
		tname string
		stats func() lbprom.ThrottleStats
	}{
		{"an empty name", "", stats},
		{"a nil stats function", "search", nil},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			c, err := lbprom.NewThrottleCollector(tc.tname, tc.stats)
			if c != nil || !errors.Is(err, lbprom.ErrOption) {
				t.Fatalf("NewThrottleCollector: %v, %v; want nil and an error wrapping ErrOption", c, err)
			}
		})
	}
}
