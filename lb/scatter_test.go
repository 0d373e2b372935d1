package lb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// wantIdle fails unless every endpoint of p has nothing in flight.
func wantIdle(t *testing.T, p *Pool) {
	t.Helper()
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("%s has %d leases in flight after Scatter returned", e.Addr, e.InFlight)
		}
	}
}

func TestPickAllLeasesEveryEndpointThatIsUpInPoolOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, pol := range Policies() {
			cfg := Config{Policy: pol, EjectAfter: 1, EjectFor: time.Second, ProbeTimeout: time.Second, NoJitter: true, MaxEjectedPercent: 100}
			p := mustNew(t, cfg, "e:1", "d:1", "c:1", "b:1", "a:1")
			failTimes(t, p, "c:1", 1)
			all := p.PickAll(make([]Lease, 0, 8))
			if got := leaseAddrs(all); got != "e:1 d:1 b:1 a:1" {
				t.Fatalf("%v: PickAll = %s; want every endpoint that is up, in pool order", pol, got)
			}
			for _, e := range p.Endpoints() {
				want := int64(1)
				if e.Addr == "c:1" {
					want = 0
				}
				if e.InFlight != want {
					t.Fatalf("%v: %s has %d in flight after one PickAll, want %d", pol, e.Addr, e.InFlight, want)
				}
			}
			for i := range all {
				all[i].Done(nil)
			}
			wantIdle(t, p)

			time.Sleep(time.Second) // c's cooldown passes: PickAll probes it
			synctest.Wait()
			all = p.PickAll(all[:0])
			if got := leaseAddrs(all); got != "e:1 d:1 c:1 b:1 a:1" || !all[2].Probe() {
				t.Fatalf("%v: PickAll after the cooldown = %s (probe %v); want c's probe among them", pol, got, all[2].Probe())
			}
			if again := p.PickAll(nil); len(again) != 4 {
				t.Fatalf("%v: a second PickAll while c is probing leased %d endpoints, want 4", pol, len(again))
			} else {
				for i := range again {
					again[i].Done(nil)
				}
			}
			for i := range all {
				all[i].Done(nil)
			}
			if e := mustStatus(t, p, "c:1"); e.State != Up {
				t.Fatalf("%v: c's probe succeeded but c is %v", pol, e.State)
			}
			wantIdle(t, p)
		}
	})
}

func leaseAddrs(ls []Lease) string {
	var out []string
	for i := range ls {
		out = append(out, ls[i].Endpoint())
	}
	return strings.Join(out, " ")
}

func TestPickAllAllocatesNothingWithRoom(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	p := mustNew(t, Config{Policy: Shard}, addrs(64)...)
	dst := make([]Lease, 0, 64)
	if allocs := testing.AllocsPerRun(100, func() {
		dst = p.PickAll(dst[:0])
		for i := range dst {
			dst[i].Done(nil)
		}
	}); allocs != 0 {
		t.Fatalf("PickAll with room for every lease: %.1f allocations", allocs)
	}
	if len(dst) != 64 {
		t.Fatalf("PickAll leased %d of 64", len(dst))
	}
}

func TestScatterReturnsResultsInEndpointOrder(t *testing.T) {
	p := mustNew(t, Config{Policy: Shard}, addrs(16)...)
	results, err := Scatter(context.Background(), p, func(ctx context.Context, ep string) (string, error) {
		return "hello " + ep, nil
	}, ScatterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eps := p.Endpoints()
	if len(results) != len(eps) {
		t.Fatalf("%d results for %d endpoints", len(results), len(eps))
	}
	for i, r := range results {
		if r.Endpoint != eps[i].Addr || r.Value != "hello "+eps[i].Addr || r.Err != nil {
			t.Fatalf("result %d = %+v; want endpoint %s's", i, r, eps[i].Addr)
		}
	}
	wantIdle(t, p)
}

// The first error cancels every other call's context; the others end their
// leases neutrally, whatever error they return once cancelled, and the
// joined error holds only the failure. Real goroutines, under -race; the
// test's deadline bounds it if cancellation never came.
func TestScatterCancelsSiblingsOnTheFirstError(t *testing.T) {
	const n = 8
	p := mustNew(t, Config{Policy: P2C, EjectAfter: 1, MaxEjectedPercent: 100}, addrs(n)...)
	bad := p.Endpoints()[3].Addr
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	var started atomic.Int64
	allStarted := make(chan struct{})
	errClosed := errors.New("use of closed connection") // what a cancelled transport may say
	results, err := Scatter(ctx, p, func(ctx context.Context, ep string) (int, error) {
		if started.Add(1) == n {
			close(allStarted)
		}
		if ep == bad {
			<-allStarted
			return 0, errBackend
		}
		<-ctx.Done()
		if context.Cause(ctx) != errScatterCancelled {
			return 0, fmt.Errorf("not cancelled by Scatter: %w", context.Cause(ctx))
		}
		if ep == p.Endpoints()[0].Addr {
			return 0, errClosed
		}
		return 0, ctx.Err()
	}, ScatterOptions{})
	if !errors.Is(err, errBackend) || strings.Count(err.Error(), "\n") != 0 || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Fatalf("Scatter error = %v; want only %s's failure", err, bad)
	}
	for _, r := range results {
		switch {
		case r.Endpoint == bad:
			if r.Err != errBackend {
				t.Errorf("failed call's result: %+v", r)
			}
		case r.Err == nil || (!errors.Is(r.Err, context.Canceled) && r.Err != errClosed):
			t.Errorf("sibling %s's result = %v; want its cancellation", r.Endpoint, r.Err)
		}
	}
	wantIdle(t, p)
	for _, e := range p.Endpoints() {
		if e.Addr == bad && e.State != Ejected {
			t.Errorf("the failing endpoint is %v; want ejected by its failure", e.State)
		}
		if e.Addr != bad && (e.State != Up || e.Streak != 0) {
			t.Errorf("sibling %s was blamed: %+v", e.Addr, e)
		}
	}
}

func TestScatterCollectAllJoinsEveryError(t *testing.T) {
	p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 5}, addrs(6)...)
	eps := p.Endpoints()
	errA, errB := errors.New("a failed"), errors.New("b failed")
	var calls atomic.Int64
	results, err := Scatter(context.Background(), p, func(ctx context.Context, ep string) (int, error) {
		calls.Add(1)
		switch ep {
		case eps[1].Addr:
			return 0, errA
		case eps[4].Addr:
			return 0, errB
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 1, nil
	}, ScatterOptions{CollectAll: true})
	if calls.Load() != 6 || !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("%d calls, error %v; want 6 calls and both errors", calls.Load(), err)
	}
	if want := eps[1].Addr + ": a failed\n" + eps[4].Addr + ": b failed"; err.Error() != want {
		t.Fatalf("joined error %q; want %q (endpoint order)", err, want)
	}
	sum := 0
	for _, r := range results {
		sum += r.Value
	}
	if sum != 4 {
		t.Fatalf("%d successes; want 4", sum)
	}
	for i, e := range p.Endpoints() {
		if want := map[bool]int{true: 1, false: 0}[i == 1 || i == 4]; e.Streak != want || e.InFlight != 0 {
			t.Errorf("%s: %+v; want streak %d, nothing in flight", e.Addr, e, want)
		}
	}
}

// ScatterOptions.Limit bounds the calls running at once; with a limit, calls not
// yet started when one fails are not made, and their leases end neutrally.
func TestScatterLimitBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: Random}, addrs(12)...)
		var running, peak, calls atomic.Int64
		_, err := Scatter(context.Background(), p, func(ctx context.Context, ep string) (int, error) {
			calls.Add(1)
			now := running.Add(1)
			for old := peak.Load(); now > old && !peak.CompareAndSwap(old, now); old = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			return 0, nil
		}, ScatterOptions{Limit: 3})
		if err != nil || calls.Load() != 12 || peak.Load() != 3 {
			t.Fatalf("err %v, %d calls, peak %d running; want 12 calls, 3 at a time", err, calls.Load(), peak.Load())
		}

		calls.Store(0)
		results, err := Scatter(context.Background(), p, func(ctx context.Context, ep string) (int, error) {
			calls.Add(1)
			return 0, errBackend
		}, ScatterOptions{Limit: 1})
		if calls.Load() != 1 || !errors.Is(err, errBackend) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("limit 1, first call fails: %d calls, error %v; want 1 call and its error alone", calls.Load(), err)
		}
		for _, r := range results[1:] {
			if !errors.Is(r.Err, context.Canceled) || !errors.Is(r.Err, errScatterCancelled) {
				t.Fatalf("a call not made: %+v; want the cancellation", r)
			}
		}
		wantIdle(t, p)
		for _, e := range p.Endpoints()[1:] {
			if e.Streak != 0 {
				t.Fatalf("%s was never called but has streak %d", e.Addr, e.Streak)
			}
		}
	})
}

func TestScatterWithNothingToCall(t *testing.T) {
	call := func(context.Context, string) (int, error) { t.Fatal("called"); return 0, nil }
	empty := mustNew(t, Config{})
	if r, err := Scatter(context.Background(), empty, call, ScatterOptions{}); r != nil || !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("empty pool: %v, %v; want ErrNoEndpoint", r, err)
	}
	out := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, "a:1")
	failTimes(t, out, "a:1", 1)
	if r, err := Scatter(context.Background(), out, call, ScatterOptions{}); r != nil || !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("every endpoint ejected: %v, %v; want ErrNoEndpoint", r, err)
	}
	if _, err := Scatter(context.Background(), out, call, ScatterOptions{Limit: -1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative limit: %v; want ErrConfig", err)
	}
}

// A caller that gives up cancels every call; the leases end neutrally and
// the error says why.
func TestScatterParentCancelled(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 1, MaxEjectedPercent: 100}, addrs(4)...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err := Scatter(ctx, p, func(ctx context.Context, ep string) (int, error) { return 0, ctx.Err() }, ScatterOptions{})
	if !errors.Is(err, context.Canceled) || len(results) != 4 {
		t.Fatalf("%d results, %v; want 4 and context.Canceled", len(results), err)
	}
	wantIdle(t, p)
	for _, e := range p.Endpoints() {
		if e.State != Up || e.Streak != 0 {
			t.Fatalf("a cancelled scatter changed health: %+v", e)
		}
	}
}

// With ScatterOptions.Complete a shard that is out is an error, not a gap: it has
// its Result (ErrShardDown), and without ScatterOptions.CollectAll no call is made.
// Without the option it is skipped.
func TestScatterCompleteAnswersForEveryShard(t *testing.T) {
	names := shardAddrs(4)
	p := mustNew(t, Config{Policy: Shard, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, names...)
	l, _ := p.PickKey(keyOf(t, p, names[2]))
	l.Done(errBackend)
	var calls atomic.Int64
	call := func(ctx context.Context, ep string) (string, error) {
		calls.Add(1)
		return ep, ctx.Err()
	}

	results, err := Scatter(context.Background(), p, call, ScatterOptions{})
	if err != nil || len(results) != 3 || calls.Load() != 3 {
		t.Fatalf("without ScatterOptions.Complete: %d results, %d calls, %v; want the 3 shards up", len(results), calls.Load(), err)
	}

	calls.Store(0)
	results, err = Scatter(context.Background(), p, call, ScatterOptions{Complete: true})
	if !errors.Is(err, ErrShardDown) || err.Error() != names[2]+": "+ErrShardDown.Error() || calls.Load() != 0 {
		t.Fatalf("ScatterOptions.Complete with shard 2 out: %v after %d calls; want its ErrShardDown alone, before any call", err, calls.Load())
	}
	for i, r := range results {
		if r.Endpoint != names[i] {
			t.Fatalf("result %d is %s's; want %s's", i, r.Endpoint, names[i])
		}
		if want := error(errScatterCancelled); i == 2 && r.Err != ErrShardDown || i != 2 && r.Err != want {
			t.Fatalf("result %d = %+v", i, r)
		}
	}

	calls.Store(0)
	results, err = Scatter(context.Background(), p, call, ScatterOptions{Complete: true, CollectAll: true})
	if !errors.Is(err, ErrShardDown) || strings.Contains(err.Error(), "\n") || calls.Load() != 3 || len(results) != 4 || results[3].Value != names[3] {
		t.Fatalf("ScatterOptions.Complete and ScatterOptions.CollectAll: %d results, %d calls, %v; want 4, 3 and shard 2's error", len(results), calls.Load(), err)
	}
	wantIdle(t, p)
	for _, e := range p.Endpoints() {
		if e.Addr != names[2] && e.Streak != 0 {
			t.Fatalf("%+v was blamed", e)
		}
	}
}

// On a pool with a layout, ScatterOptions.Complete answers for the layout's shards
// in shard order: a missing one is down, and an endpoint outside the
// layout is not called (its lease ends at once).
func TestScatterCompleteFollowsTheShardLayout(t *testing.T) {
	layout, err := NewShardLayout("db-1:1", "db-0:1", "db-2:1")
	if err != nil {
		t.Fatal(err)
	}
	p := mustNew(t, Config{Policy: Shard, Shards: layout}, "spare:1", "db-2:1", "db-1:1")
	results, err := Scatter(context.Background(), p, func(ctx context.Context, ep string) (string, error) {
		if ep == "spare:1" {
			t.Error("the spare outside the layout was called")
		}
		return ep, nil
	}, ScatterOptions{Complete: true, CollectAll: true})
	if !errors.Is(err, ErrShardDown) || err.Error() != "db-0:1: "+ErrShardDown.Error() {
		t.Fatalf("error %v; want db-0's ErrShardDown", err)
	}
	var got []string
	for _, r := range results {
		got = append(got, fmt.Sprintf("%s=%s/%v", r.Endpoint, r.Value, r.Err != nil))
	}
	if fmt.Sprint(got) != "[db-1:1=db-1:1/false db-0:1=/true db-2:1=db-2:1/false]" {
		t.Fatalf("results %v; want the layout's order with db-0 down", got)
	}
	wantIdle(t, p)
}
