package lbprom_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
)

// outlierSeries are the series reported once outlier detection has
// evaluated a pool.
var outlierSeries = []string{
	"nanolb_endpoint_success_rate", "nanolb_endpoint_interval_requests", "nanolb_endpoint_outlier_ejections_total",
}

// addrsN returns n distinct endpoint addresses.
func addrsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.1.%d:80", i+1)
	}
	return out
}

// rounds ends rounds × Len Picks of a RoundRobin pool, one per endpoint per
// round, failing the k-th lease of addr (counted from 0 in this call) when
// fails[addr](k) says so, and returns each endpoint's leases.
func rounds(t *testing.T, pool *lb.Pool, n int, fails map[string]func(k int) bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n * pool.Len() {
		l, err := pool.Pick()
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Endpoint()
		k := seen[addr]
		seen[addr]++
		if f := fails[addr]; f != nil && f(k) {
			l.Done(errFail)
		} else {
			l.Done(nil)
		}
	}
	return seen
}

// every fails one request in n, never two in a row.
func every(n int) func(int) bool { return func(k int) bool { return k%n == n-1 } }

// leaseOn picks until it is leased addr, and cancels the other leases it
// took, which outlier detection does not count as requests.
func leaseOn(t *testing.T, pool *lb.Pool, addr string) lb.Lease {
	t.Helper()
	var others []lb.Lease
	defer func() {
		for _, l := range others {
			l.Done(context.Canceled)
		}
	}()
	for range 10000 {
		l, err := pool.Pick()
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		if l.Endpoint() == addr {
			return l
		}
		others = append(others, l)
	}
	t.Fatalf("no Pick returned %s", addr)
	return lb.Lease{}
}

// successRate is lb's success rate of n requests with fails failures,
// computed as lb computes it (constant arithmetic would round otherwise).
func successRate(fails, n int) float64 { return 1 - float64(fails)/float64(n) }

// noSeries fails the test if f has a series of any of names for pool.
func noSeries(t *testing.T, f families, pool string, names ...string) {
	t.Helper()
	for _, name := range names {
		if got := f.series(name, "pool", pool); len(got) != 0 {
			t.Errorf("pool %s has %s series %v", pool, name, got)
		}
	}
}

// outlierCounters expects addr's outlier ejection counters.
func outlierCounters(pool, addr string, successRate, failurePercentage float64) []want {
	return []want{
		{"nanolb_endpoint_outlier_ejections_total", append(ep(pool, addr), "reason=success_rate"), successRate},
		{"nanolb_endpoint_outlier_ejections_total", append(ep(pool, addr), "reason=failure_percentage"), failurePercentage},
	}
}

// The interval gauges are outlier detection's last evaluated interval,
// scraped over HTTP: absent before the pool's first evaluation, then the
// requests and success rate of the interval its first failure (an
// Interval after the pool was made) evaluated, unchanged by the successes
// after it. A pool with Outlier.Off, given the same requests, never has
// them.
func TestOutlierIntervalIsScrapedOnceEvaluated(t *testing.T) {
	reg := lb.NewRegistry()
	cfgs := map[string]lb.Config{
		"on":  {Policy: lb.RoundRobin, Outlier: lb.Outlier{Interval: time.Millisecond}},
		"off": {Policy: lb.RoundRobin, Outlier: lb.Outlier{Off: true}},
	}
	pools := map[string]*lb.Pool{}
	for name, cfg := range cfgs {
		pool, err := reg.Ensure(name, cfg, addrA, addrB)
		if err != nil {
			t.Fatal(err)
		}
		pools[name] = pool
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("on", "off"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)

	t.Run("a pool not yet evaluated has no interval series", func(t *testing.T) {
		f := s.waitFor(stateIs("on", addrA, "up")...)
		noSeries(t, f, "on", outlierSeries...)
		noSeries(t, f, "off", outlierSeries...)
	})

	time.Sleep(2 * time.Millisecond) // past the 1 ms Interval: the next failure evaluates
	requests := map[string]map[string]int{}
	for name, pool := range pools {
		requests[name] = rounds(t, pool, 10, nil)
		l := leaseOn(t, pool, addrB)
		l.Done(errFail) // one failure, below EjectAfter; MinHosts 5 judges nobody
		requests[name][addrB]++
	}
	nA, nB := requests["on"][addrA], requests["on"][addrB]

	t.Run("the first failure's interval is scraped", func(t *testing.T) {
		f := s.waitFor(join(
			[]want{
				{"nanolb_endpoint_interval_requests", ep("on", addrA), float64(nA)},
				{"nanolb_endpoint_interval_requests", ep("on", addrB), float64(nB)},
				{"nanolb_endpoint_success_rate", ep("on", addrA), 1},
				{"nanolb_endpoint_success_rate", ep("on", addrB), successRate(1, nB)},
				{"nanolb_endpoint_failure_streak", ep("off", addrB), 1}, // the off pool's failure is scraped
			},
			stateIs("on", addrB, "up"),
			outlierCounters("on", addrA, 0, 0), outlierCounters("on", addrB, 0, 0),
		)...)
		noSeries(t, f, "off", outlierSeries...)
		for _, addr := range []string{addrA, addrB} {
			e := status(t, pools["on"], addr)
			rate, _ := f.get("nanolb_endpoint_success_rate", ep("on", addr)...)
			n, _ := f.get("nanolb_endpoint_interval_requests", ep("on", addr)...)
			if rate != e.SuccessRate || n != float64(e.Requests) {
				t.Errorf("%s: scraped rate %g of %g requests, EndpointStatus %g of %d", addr, rate, n, e.SuccessRate, e.Requests)
			}
		}
	})

	t.Run("successes after it leave the last interval as it was", func(t *testing.T) {
		rounds(t, pools["on"], 10, nil)
		s.waitFor(
			want{"nanolb_endpoint_interval_requests", ep("on", addrB), float64(nB)},
			want{"nanolb_endpoint_success_rate", ep("on", addrB), successRate(1, nB)},
		)
	})

	t.Run("an endpoint joining an evaluated pool has the series before its first interval", func(t *testing.T) {
		const addrC = "10.0.0.3:80"
		if err := pools["on"].Set(lb.Endpoint{Addr: addrC}); err != nil { // no endpoint with requests is left
			t.Fatal(err)
		}
		f := s.waitFor(join(outlierCounters("on", addrC, 0, 0), []want{
			{"nanolb_endpoint_interval_requests", ep("on", addrC), 0},
			{"nanolb_endpoint_success_rate", ep("on", addrC), 1},
		})...)
		if got := f.series("nanolb_endpoint_success_rate", "endpoint", addrB); len(got) != 0 {
			t.Errorf("a removed endpoint's rate is scraped: %v", got)
		}
	})
}

// An outlier's ejection is counted under its reason, scraped from promhttp
// on the bubble's fake clock, which makes the intervals exact, as lb's own
// outlier tests drive them.
func TestOutlierEjectionsAreCountedByReason(t *testing.T) {
	t.Run("one of ten failing a fifth of its requests, by success rate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			addrs := addrsN(10)
			gray := addrs[9]
			pool, preg := outlierPool(t, lb.Config{Policy: lb.RoundRobin, NoJitter: true}, addrs)
			rounds(t, pool, 200, map[string]func(int) bool{gray: every(5)}) // 40 failures in 200, never 5 in a row
			time.Sleep(time.Second)
			l := leaseOn(t, pool, gray)
			l.Done(errFail) // 201 requests, 41 failures: evaluates the interval, ejects
			time.Sleep(100 * time.Millisecond)
			synctest.Wait() // the subscription's batch is counted

			f := gatherText(t, preg)
			check(t, f, join(
				stateIs("p", gray, "ejected"),
				counters("p", gray, 1, 0, 0, 0, 0, 0),
				outlierCounters("p", gray, 1, 0),
				[]want{
					{"nanolb_endpoint_interval_requests", ep("p", gray), 201},
					{"nanolb_endpoint_success_rate", ep("p", gray), successRate(41, 201)},
				},
			)...)
			for _, addr := range addrs[:9] {
				check(t, f, join(stateIs("p", addr, "up"), outlierCounters("p", addr, 0, 0), []want{
					{"nanolb_endpoint_interval_requests", ep("p", addr), 200},
					{"nanolb_endpoint_success_rate", ep("p", addr), 1},
				})...)
			}
		})
	})

	t.Run("two of five failing 90% of their requests, by failure percentage", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			addrs := addrsN(5)
			pool, preg := outlierPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 255, NoJitter: true}, addrs)
			nine := func(k int) bool { return k%10 != 0 }
			rounds(t, pool, 100, map[string]func(int) bool{addrs[0]: nine, addrs[1]: nine})
			time.Sleep(time.Second)
			l := leaseOn(t, pool, addrs[2])
			l.Done(errFail) // evaluates: 90 failures in 100 on each bad endpoint
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()

			f := gatherText(t, preg)
			for _, addr := range addrs[:2] {
				check(t, f, join(stateIs("p", addr, "ejected"), counters("p", addr, 1, 0, 0, 0, 0, 0),
					outlierCounters("p", addr, 0, 1), []want{
						{"nanolb_endpoint_interval_requests", ep("p", addr), 100},
						{"nanolb_endpoint_success_rate", ep("p", addr), successRate(90, 100)},
					})...)
			}
			check(t, f, join(stateIs("p", addrs[2], "up"), outlierCounters("p", addrs[2], 0, 0), []want{
				{"nanolb_endpoint_interval_requests", ep("p", addrs[2]), 101},
				{"nanolb_endpoint_success_rate", ep("p", addrs[2]), successRate(1, 101)},
			})...)
		})
	})
}

// outlierPool makes pool "p" of a registry from cfg and addrs, with a
// collector at lb's default pace registered on a pedantic Prometheus
// registry; both are closed when the test ends.
func outlierPool(t *testing.T, cfg lb.Config, addrs []string) (*lb.Pool, *prometheus.Registry) {
	t.Helper()
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("p", cfg, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	c, err := lbprom.NewCollector(reg, lbprom.WithPools("p"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	preg := prometheus.NewPedanticRegistry()
	preg.MustRegister(c)
	return pool, preg
}
