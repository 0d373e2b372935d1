package lbprom_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var lbSubscribeFast = lb.SubscribeOptions{Interval: time.Millisecond}

var errFail = errors.New("connection refused")

const (
	addrA = "10.0.0.1:80"
	addrB = "10.0.0.2:80"
)

// failUntil ends leases on addr as failures and others as successes until
// addr is in state s, within a bounded number of picks.
func failUntil(t *testing.T, pool *lb.Pool, addr string, s lb.State) {
	t.Helper()
	for range 10000 {
		if status(t, pool, addr).State == s {
			return
		}
		l, err := pool.Pick()
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		if l.Endpoint() == addr {
			l.Done(errFail)
		} else {
			l.Done(nil)
		}
	}
	t.Fatalf("%s never %v", addr, s)
}

// probeOf picks until it is leased addr's probe, ending every other lease
// as a success, for at most waitLimit (the cooldown is a few milliseconds).
func probeOf(t *testing.T, pool *lb.Pool, addr string) lb.Lease {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		l, err := pool.Pick()
		if err != nil {
			t.Fatalf("Pick: %v", err)
		}
		if l.Probe() && l.Endpoint() == addr {
			return l
		}
		l.Done(nil)
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatalf("no probe of %s within %v", addr, waitLimit)
	return lb.Lease{}
}

func status(t *testing.T, pool *lb.Pool, addr string) lb.EndpointStatus {
	t.Helper()
	for _, e := range pool.Endpoints() {
		if e.Addr == addr {
			return e
		}
	}
	t.Fatalf("%s not in the pool", addr)
	return lb.EndpointStatus{}
}

func ep(pool, addr string) []string { return []string{"pool=" + pool, "endpoint=" + addr} }

func st(pool, addr, state string) []string {
	return []string{"pool=" + pool, "endpoint=" + addr, "state=" + state}
}

// stateIs expects addr's state series: 1 for s, 0 for the others.
func stateIs(pool, addr, s string) []want {
	var ws []want
	for _, x := range []string{"up", "ejected", "probing"} {
		v := 0.0
		if x == s {
			v = 1
		}
		ws = append(ws, want{"nanolb_endpoint_state", st(pool, addr, x), v})
	}
	return ws
}

func counters(pool, addr string, ejections, refused, probes, probeFailures, probeTimeouts, reinstatements float64) []want {
	l := ep(pool, addr)
	return []want{
		{"nanolb_endpoint_ejections_total", l, ejections},
		{"nanolb_endpoint_ejections_refused_total", l, refused},
		{"nanolb_endpoint_probes_total", l, probes},
		{"nanolb_endpoint_probe_failures_total", l, probeFailures},
		{"nanolb_endpoint_probe_timeouts_total", l, probeTimeouts},
		{"nanolb_endpoint_reinstatements_total", l, reinstatements},
	}
}

func join(wss ...[]want) []want { return slices.Concat(wss...) }

// An endpoint's whole passive-health cycle shows in the scrape: a failure,
// an ejection, a probe held, a failed probe and its re-ejection, a
// successful probe and the reinstatement.
func TestEjectionProbeReinstatementIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("api", lb.Config{Policy: lb.RoundRobin, EjectAfter: 2, EjectFor: 2 * time.Millisecond,
		MaxEjectFor: 4 * time.Millisecond, ProbeTimeout: time.Hour, NoJitter: true}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("api"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)

	t.Run("a fresh pool has every series, counters at zero", func(t *testing.T) {
		s.waitFor(join(
			[]want{
				{"nanolb_pool_info", []string{"pool=api", "policy=round_robin"}, 1},
				{"nanolb_pool_endpoints", []string{"pool=api"}, 2},
				{"nanolb_pool_waiting", []string{"pool=api"}, 0},
				{"nanolb_events_dropped_total", nil, 0},
				{"nanolb_endpoint_weight", ep("api", addrA), 1},
			},
			stateIs("api", addrA, "up"), stateIs("api", addrB, "up"),
			counters("api", addrA, 0, 0, 0, 0, 0, 0), counters("api", addrB, 0, 0, 0, 0, 0, 0),
		)...)
	})

	t.Run("one failure is a streak of one", func(t *testing.T) {
		for {
			l, _ := pool.Pick()
			if l.Endpoint() == addrB {
				l.Done(errFail)
				break
			}
			l.Done(nil)
		}
		s.waitFor(
			want{"nanolb_endpoint_failure_streak", ep("api", addrB), 1},
			want{"nanolb_endpoint_failure_streak", ep("api", addrA), 0},
		)
	})

	t.Run("the second ejects", func(t *testing.T) {
		failUntil(t, pool, addrB, lb.Ejected)
		s.waitFor(join(stateIs("api", addrB, "ejected"), counters("api", addrB, 1, 0, 0, 0, 0, 0),
			[]want{{"nanolb_endpoint_consecutive_ejections", ep("api", addrB), 1}})...)
	})

	probe := probeOf(t, pool, addrB)
	t.Run("a held probe is probing and in flight", func(t *testing.T) {
		s.waitFor(join(stateIs("api", addrB, "probing"), counters("api", addrB, 1, 0, 1, 0, 0, 0), []want{
			{"nanolb_endpoint_in_flight", ep("api", addrB), 1},
			{"nanolb_endpoint_in_flight", ep("api", addrA), 0},
		})...)
	})

	t.Run("a failed probe ejects again", func(t *testing.T) {
		probe.Done(errFail)
		s.waitFor(join(stateIs("api", addrB, "ejected"), counters("api", addrB, 2, 0, 1, 1, 0, 0), []want{
			{"nanolb_endpoint_consecutive_ejections", ep("api", addrB), 2},
			{"nanolb_endpoint_in_flight", ep("api", addrB), 0},
		})...)
	})

	t.Run("a successful probe reinstates", func(t *testing.T) {
		p := probeOf(t, pool, addrB)
		p.Done(nil)
		s.waitFor(join(stateIs("api", addrB, "up"), counters("api", addrB, 2, 0, 2, 1, 0, 1),
			counters("api", addrA, 0, 0, 0, 0, 0, 0), []want{
				{"nanolb_endpoint_consecutive_ejections", ep("api", addrB), 0},
				{"nanolb_endpoint_failure_streak", ep("api", addrB), 0},
				{"nanolb_events_dropped_total", nil, 0},
			})...)
	})
}

// A probe that never reports lets the next Pick probe again: a timeout and
// a second probe.
func TestProbeTimeoutIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("slow", lb.Config{EjectAfter: 1, EjectFor: time.Millisecond,
		ProbeTimeout: 2 * time.Millisecond, NoJitter: true}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("slow"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	failUntil(t, pool, addrB, lb.Ejected)
	first := probeOf(t, pool, addrB)
	second := probeOf(t, pool, addrB) // only once the first's window ended
	s.waitFor(join(stateIs("slow", addrB, "probing"), counters("slow", addrB, 1, 0, 2, 0, 1, 0))...)
	second.Done(nil)
	first.Done(context.Canceled)
	s.waitFor(join(stateIs("slow", addrB, "up"), counters("slow", addrB, 1, 0, 2, 0, 1, 1))...)
}

// An ejection the MaxEjectedPercent cap refuses is counted apart, and the
// endpoint stays up with its streak.
func TestRefusedEjectionIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("solo", lb.Config{EjectAfter: 1}, addrA) // below 100%, never all ejected
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("solo"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	l, _ := pool.Pick()
	l.Done(errFail)
	s.waitFor(join(stateIs("solo", addrA, "up"), counters("solo", addrA, 0, 1, 0, 0, 0, 0),
		[]want{{"nanolb_endpoint_failure_streak", ep("solo", addrA), 1}})...)
}

// A pool created after the collector is reported: one named with WithPools
// as soon as it exists, another one from its first event.
func TestPoolCreatedAfterTheCollectorIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("late"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	f := s.scrape()
	if got := f.series("nanolb_pool_endpoints", "pool", "late"); len(got) != 0 {
		t.Fatalf("series for a pool that does not exist yet: %v", got)
	}
	if _, err := reg.Ensure("late", lb.Config{}, addrA, addrB); err != nil {
		t.Fatal(err)
	}
	s.waitFor(join([]want{{"nanolb_pool_endpoints", []string{"pool=late"}, 2}},
		stateIs("late", addrA, "up"), counters("late", addrB, 0, 0, 0, 0, 0, 0))...)

	unnamed, err := reg.Ensure("unnamed", lb.Config{EjectAfter: 1}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	failUntil(t, unnamed, addrB, lb.Ejected)
	s.waitFor(join([]want{{"nanolb_pool_endpoints", []string{"pool=unnamed"}, 2}},
		stateIs("unnamed", addrB, "ejected"), counters("unnamed", addrB, 1, 0, 0, 0, 0, 0),
		counters("unnamed", addrA, 0, 0, 0, 0, 0, 0))...)
}

// A removed endpoint's series go, its counters with its EventRemoved; added
// again, it starts from zero. A deleted pool's series go, and a pool created
// again under its name starts from zero.
func TestRemovedEndpointAndDeletedPoolLeaveTheScrape(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("api", lb.Config{EjectAfter: 1, EjectFor: time.Hour}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	failUntil(t, pool, addrB, lb.Ejected) // the event makes the pool known
	s.waitFor(counters("api", addrB, 1, 0, 0, 0, 0, 0)...)
	lease, _ := pool.Pick() // on addrA, the endpoint up: ejections count there
	lease.Done(errFail)
	s.waitFor(counters("api", addrA, 0, 1, 0, 0, 0, 0)...) // refused: addrB is out

	if err := pool.Remove(addrB); err != nil {
		t.Fatal(err)
	}
	s.waitUntil(addrB+"'s series gone", func(f families) bool {
		for name := range f {
			if len(f.series(name, "endpoint", addrB)) != 0 {
				return false
			}
		}
		return true
	})
	if err := pool.Add(addrB); err != nil {
		t.Fatal(err)
	}
	s.waitFor(join(stateIs("api", addrB, "up"), counters("api", addrB, 0, 0, 0, 0, 0, 0))...)

	reg.Delete("api")
	s.waitUntil("pool api's series gone", func(f families) bool {
		for name := range f {
			if len(f.series(name, "pool", "api")) != 0 {
				return false
			}
		}
		return true
	})
	// Created again under the name, it is a new pool: counters from zero
	// (it shows with its first event: it is not named with WithPools).
	again, err := reg.Ensure("api", lb.Config{EjectAfter: 1, EjectFor: time.Hour}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	failUntil(t, again, addrB, lb.Ejected)
	s.waitFor(join(counters("api", addrB, 1, 0, 0, 0, 0, 0), counters("api", addrA, 0, 0, 0, 0, 0, 0))...)
}

// Admission under MaxConcurrency: waiters queued, saturated Picks, a full
// queue, a wait that gave up and a grant, each exactly.
func TestAdmissionIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("adm", lb.Config{MaxConcurrency: 1, MaxWaiters: 2}, addrA)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("adm"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	held, err := pool.Pick()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		l   lb.Lease
		err error
	}
	wait := func(ctx context.Context) chan result {
		ch := make(chan result, 1)
		go func() {
			l, err := pool.PickWait(ctx)
			ch <- result{l, err}
		}()
		return ch
	}
	ctx1, cancel1 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel1()
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	w1 := wait(ctx1)
	s.waitFor(want{"nanolb_pool_waiting", []string{"pool=adm"}, 1})
	w2 := wait(ctx2)
	s.waitFor(want{"nanolb_pool_waiting", []string{"pool=adm"}, 2},
		want{"nanolb_endpoint_in_flight", ep("adm", addrA), 1})

	if _, err := pool.Pick(); !errors.Is(err, lb.ErrSaturated) {
		t.Fatalf("Pick: %v, want ErrSaturated", err)
	}
	if _, err := pool.PickWait(context.Background()); !errors.Is(err, lb.ErrQueueFull) {
		t.Fatalf("third PickWait: %v, want ErrQueueFull", err)
	}
	cancel2()
	if r := <-w2; r.err == nil {
		t.Fatal("cancelled PickWait got a lease")
	}
	held.Done(nil) // the slot goes to w1
	r := <-w1
	if r.err != nil {
		t.Fatalf("PickWait: %v", r.err)
	}
	s.waitFor(
		want{"nanolb_pool_waiting", []string{"pool=adm"}, 0},
		want{"nanolb_pool_wait_grants_total", []string{"pool=adm"}, 1},
		want{"nanolb_pool_wait_timeouts_total", []string{"pool=adm"}, 1},
		want{"nanolb_pool_wait_queue_full_total", []string{"pool=adm"}, 1},
		want{"nanolb_endpoint_in_flight", ep("adm", addrA), 1},
	)
	// The plain Pick's refusal alone: a PickWait that queues, or finds the
	// queue full, refuses no Pick.
	sat := pool.Stats().Saturations
	if sat != 1 {
		t.Fatalf("Stats().Saturations = %d, want 1", sat)
	}
	s.waitFor(want{"nanolb_pool_saturations_total", []string{"pool=adm"}, float64(sat)})
	r.l.Done(nil)
	s.waitFor(want{"nanolb_endpoint_in_flight", ep("adm", addrA), 0})
}

// Each endpoint's concurrency limit is scraped where it has one, as
// EndpointStatus.Limit reads it: an adaptive pool's endpoints start at
// lb.DefaultMinConcurrency, a fixed MaxConcurrency shows as it is, and a
// pool without a limit has no series of it.
func TestConcurrencyLimitIsScraped(t *testing.T) {
	reg := lb.NewRegistry()
	pools := map[string]*lb.Pool{}
	for name, cfg := range map[string]lb.Config{
		"adaptive":  {AdaptiveConcurrency: true},
		"fixed":     {MaxConcurrency: 8},
		"unlimited": {},
	} {
		pool, err := reg.Ensure(name, cfg, addrA, addrB)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close) // stops the adaptive evaluator
		pools[name] = pool
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("adaptive", "fixed", "unlimited"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	f := s.waitFor(
		want{"nanolb_endpoint_concurrency_limit", ep("adaptive", addrA), lb.DefaultMinConcurrency},
		want{"nanolb_endpoint_concurrency_limit", ep("adaptive", addrB), lb.DefaultMinConcurrency},
		want{"nanolb_endpoint_concurrency_limit", ep("fixed", addrA), 8},
		want{"nanolb_endpoint_concurrency_limit", ep("fixed", addrB), 8},
		want{"nanolb_endpoint_in_flight", ep("unlimited", addrA), 0}, // the pool is scraped
	)
	if got := f.series("nanolb_endpoint_concurrency_limit", "pool", "unlimited"); len(got) != 0 {
		t.Errorf("limit series for a pool without a limit: %v", got)
	}
	for _, name := range []string{"adaptive", "fixed"} {
		for _, addr := range []string{addrA, addrB} {
			v, _ := f.get("nanolb_endpoint_concurrency_limit", ep(name, addr)...)
			if lim := status(t, pools[name], addr).Limit; v != float64(lim) {
				t.Errorf("%s %s: scraped limit %g, EndpointStatus.Limit %d", name, addr, v, lim)
			}
		}
	}

	t.Run("a lease in flight leaves the limit as it is", func(t *testing.T) {
		l, err := pools["fixed"].Pick()
		if err != nil {
			t.Fatal(err)
		}
		defer l.Done(nil)
		s.waitFor(
			want{"nanolb_endpoint_in_flight", ep("fixed", l.Endpoint()), 1},
			want{"nanolb_endpoint_concurrency_limit", ep("fixed", l.Endpoint()), 8},
		)
	})
}

// Events a slow collector loses are counted: with a buffer of one event,
// every refused ejection is either counted or dropped, exactly.
func TestDroppedEventsAreCounted(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("burst", lb.Config{EjectAfter: 1}, addrA)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, lbprom.WithPools("burst"),
		lbprom.WithSubscribeOptions(lb.SubscribeOptions{Interval: 50 * time.Millisecond, Chunk: 1, Buffer: 1}))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	const n = 200
	for range n { // each failure after a success is one refused ejection
		l, _ := pool.Pick()
		l.Done(errFail)
		l, _ = pool.Pick()
		l.Done(nil)
	}
	f := s.waitUntil("every event counted or dropped", func(f families) bool {
		refused, _ := f.get("nanolb_endpoint_ejections_refused_total", ep("burst", addrA)...)
		dropped, _ := f.get("nanolb_events_dropped_total")
		return refused+dropped == n
	})
	if dropped, _ := f.get("nanolb_events_dropped_total"); dropped == 0 {
		t.Fatal("nothing dropped with a one-event buffer")
	}
}

// A collector for one pool outside a registry labels it with the name given.
func TestPoolCollector(t *testing.T) {
	pool, err := lb.New(lb.Config{EjectAfter: 1, EjectFor: time.Hour}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewPoolCollector("billing", pool, fast)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	s.waitFor(want{"nanolb_pool_info", []string{"pool=billing", "policy=p2c"}, 1})
	failUntil(t, pool, addrA, lb.Ejected)
	s.waitFor(join(stateIs("billing", addrA, "ejected"), counters("billing", addrA, 1, 0, 0, 0, 0, 0))...)
}

// Every metric the package documents is scraped, with a description, and
// passes promlint (naming conventions, units, _total on counters). The
// pool has a concurrency limit, so that its gauge is scraped too, and its
// failure comes after its outlier Interval, so that outlier detection
// evaluates and its series are scraped.
func TestEveryMetricHasHelpAndPassesLint(t *testing.T) {
	reg := lb.NewRegistry()
	pool, err := reg.Ensure("api", lb.Config{EjectAfter: 1, EjectFor: time.Hour, MaxConcurrency: 100,
		Outlier: lb.Outlier{Interval: time.Millisecond}}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("api"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	time.Sleep(2 * time.Millisecond) // past the Interval: the failure evaluates
	failUntil(t, pool, addrB, lb.Ejected)
	f := s.waitFor(want{"nanolb_endpoint_ejections_total", ep("api", addrB), 1})
	documented := []string{
		"nanolb_pool_info", "nanolb_pool_endpoints", "nanolb_pool_waiting", "nanolb_pool_wait_grants_total",
		"nanolb_pool_wait_timeouts_total", "nanolb_pool_wait_queue_full_total", "nanolb_pool_wait_shed_total", "nanolb_pool_saturations_total",
		"nanolb_endpoint_in_flight", "nanolb_endpoint_state", "nanolb_endpoint_failure_streak",
		"nanolb_endpoint_consecutive_ejections", "nanolb_endpoint_weight", "nanolb_endpoint_concurrency_limit",
		"nanolb_endpoint_success_rate", "nanolb_endpoint_interval_requests",
		"nanolb_endpoint_ejections_total", "nanolb_endpoint_outlier_ejections_total",
		"nanolb_endpoint_ejections_refused_total", "nanolb_endpoint_probes_total",
		"nanolb_endpoint_probe_failures_total", "nanolb_endpoint_probe_timeouts_total",
		"nanolb_endpoint_reinstatements_total", "nanolb_events_dropped_total",
	}
	var scraped []string
	for name, fam := range f {
		scraped = append(scraped, name)
		if strings.TrimSpace(fam.GetHelp()) == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	slices.Sort(scraped)
	slices.Sort(documented)
	if !slices.Equal(scraped, documented) {
		t.Errorf("scraped %v\ndocumented %v", scraped, documented)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Close ends the subscription: the collector's goroutine and the pools'
// dispatchers end, Close again is a no-op, and the gauges still scrape.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	const (
		// each goroutine's "created by" line, there whether it has run yet or not
		consumer   = "created by github.com/nanolb/nanolb/lbprom.(*Collector).start"
		dispatcher = "created by github.com/nanolb/nanolb/lb.(*Subscription).attach"
	)
	if n := testkit.CountStacks(consumer) + testkit.CountStacks(dispatcher); n != 0 {
		t.Fatalf("%d goroutines before the test", n)
	}
	reg := lb.NewRegistry()
	for _, name := range []string{"one", "two"} {
		if _, err := reg.Ensure(name, lb.Config{}, addrA); err != nil {
			t.Fatal(err)
		}
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("one", "two"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Ensure("three", lb.Config{}, addrA); err != nil { // attached later
		t.Fatal(err)
	}
	s := serve(t, c)
	if got, want := testkit.CountStacks(consumer), 1; got != want {
		t.Fatalf("%d consumer goroutines, want %d", got, want)
	}
	if got, want := testkit.CountStacks(dispatcher), 3; got != want {
		t.Fatalf("%d dispatcher goroutines, want %d", got, want)
	}
	c.Close()
	c.Close()
	deadline := time.Now().Add(waitLimit)
	for testkit.CountStacks(consumer)+testkit.CountStacks(dispatcher) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after Close: %d consumer and %d dispatcher goroutines",
				testkit.CountStacks(consumer), testkit.CountStacks(dispatcher))
		}
		time.Sleep(time.Millisecond)
	}
	s.waitFor(stateIs("two", addrA, "up")...)
}

func TestBadArguments(t *testing.T) {
	reg := lb.NewRegistry()
	pool, _ := lb.New(lb.Config{}, addrA)
	tests := []struct {
		name   string
		make   func() (*lbprom.Collector, error)
		alsoLB bool // wraps lb.ErrConfig too
	}{
		{"a nil registry", func() (*lbprom.Collector, error) { return lbprom.NewCollector(nil) }, false},
		{"a nil pool", func() (*lbprom.Collector, error) { return lbprom.NewPoolCollector("p", nil) }, false},
		{"an empty pool name", func() (*lbprom.Collector, error) { return lbprom.NewPoolCollector("", pool) }, false},
		{"an empty name in WithPools", func() (*lbprom.Collector, error) {
			return lbprom.NewCollector(reg, lbprom.WithPools("a", ""))
		}, false},
		{"WithPools on a pool collector", func() (*lbprom.Collector, error) {
			return lbprom.NewPoolCollector("p", pool, lbprom.WithPools("a"))
		}, false},
		{"a nil option", func() (*lbprom.Collector, error) { return lbprom.NewCollector(reg, nil) }, false},
		{"an interval lb rejects", func() (*lbprom.Collector, error) {
			return lbprom.NewCollector(reg, lbprom.WithSubscribeOptions(lb.SubscribeOptions{Interval: time.Nanosecond}))
		}, true},
		{"a pool collector's buffer lb rejects", func() (*lbprom.Collector, error) {
			return lbprom.NewPoolCollector("p", pool, lbprom.WithSubscribeOptions(lb.SubscribeOptions{Chunk: 10, Buffer: 5}))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is an error", func(t *testing.T) {
			c, err := tt.make()
			if c != nil {
				c.Close()
				t.Fatal("got a collector")
			}
			if !errors.Is(err, lbprom.ErrOption) {
				t.Fatalf("error %v does not wrap ErrOption", err)
			}
			if tt.alsoLB != errors.Is(err, lb.ErrConfig) {
				t.Fatalf("error %v: wraps lb.ErrConfig %v, want %v", err, !tt.alsoLB, tt.alsoLB)
			}
		})
	}
	if n := testkit.CountStacks("created by github.com/nanolb/nanolb/lb.(*Subscription).attach"); n != 0 {
		t.Fatalf("%d dispatchers left by failed constructors", n)
	}
}
