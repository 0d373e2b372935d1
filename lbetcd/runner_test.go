package lbetcd_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"github.com/nanolb/nanolb/lbetcd"
)

// members returns the pool's endpoints, in the order of Set (by address).
func members(pool *lb.Pool) []lb.Endpoint {
	var eps []lb.Endpoint
	for _, st := range pool.Endpoints() {
		eps = append(eps, lb.Endpoint{Addr: st.Addr, Weight: st.Weight})
	}
	return eps
}

func follows(t *testing.T, pool *lb.Pool, what string, want ...lb.Endpoint) {
	t.Helper()
	testkit.Eventually(t, wait, what+": the pool holds "+describe(want), func() bool { return slices.Equal(members(pool), want) })
}

func describe(eps []lb.Endpoint) string {
	s := "["
	for i, ep := range eps {
		if i > 0 {
			s += " "
		}
		s += ep.Addr
	}
	return s + "]"
}

// The whole path a service and its clients take: services Register, a
// discovery.Runner keeps a pool in step through the Resolver's watch (its
// schedule is a minute, longer than the test, so only the watch can explain
// a prompt change), through etcd being killed and started again.
func TestRunnerKeepsAPoolInStepWithEtcd(t *testing.T) {
	t.Parallel()
	s := newEtcd(t)
	c := newClient(t, s.url)
	const p = "/svc/users/"
	a := lb.Endpoint{Addr: "127.0.0.1:8001", Weight: 1}
	b := lb.Endpoint{Addr: "127.0.0.1:8002", Weight: 2}
	cc := lb.Endpoint{Addr: "127.0.0.1:8003", Weight: 1}
	d := lb.Endpoint{Addr: "127.0.0.1:8004", Weight: 1}
	register(t, c, p, a, 5*time.Second)
	gb := register(t, c, p, b, 5*time.Second)

	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, c, p, lbetcd.Config{})
	run, err := discovery.Start(pool, r, discovery.Config{
		StartupEvery: time.Minute, Every: time.Minute, // no poll during the test
		RetryAfter: 200 * time.Millisecond, MaxRetryAfter: time.Second,
		Timeout: time.Second, NoJitter: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if err := run.WaitForReady(timeoutCtx(t, wait)); err != nil {
		t.Fatal(err)
	}
	same(t, "the pool when ready", members(pool), []lb.Endpoint{a, b})

	register(t, c, p, cc, 5*time.Second)
	follows(t, pool, "a service registered", a, b, cc)
	if err := gb.Close(); err != nil {
		t.Fatal(err)
	}
	follows(t, pool, "a service deregistered", a, cc)

	s.kill()
	testkit.Eventually(t, wait, "the Runner reports the lost etcd", func() bool {
		err := run.Status().LastError
		return errors.Is(err, discovery.ErrResolve) && errors.Is(err, lbetcd.ErrEtcd)
	})
	same(t, "the pool while etcd is away (the last good set)", members(pool), []lb.Endpoint{a, cc})
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, "the Runner recovers", func() bool {
		st := run.Status()
		return st.LastError == nil && st.Failures == 0
	})
	same(t, "the pool after the restart (leases survive it)", members(pool), []lb.Endpoint{a, cc})
	register(t, c, p, d, 5*time.Second)
	follows(t, pool, "a service registered after the restart", a, cc, d)
	if st := run.Status(); st.WatchError != nil {
		t.Fatalf("the watch failed at some point (%v): it should ride out the restart", st.WatchError)
	}
}
