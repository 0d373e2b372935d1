package lbetcd_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// wait bounds every wait for something etcd or the watch does.
const wait = 10 * time.Second

func newResolver(t testing.TB, c *clientv3.Client, prefix string, cfg lbetcd.Config) *lbetcd.Resolver {
	t.Helper()
	r, err := lbetcd.NewResolver(c, prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func put(t testing.TB, c *clientv3.Client, key, val string) {
	t.Helper()
	if _, err := c.Put(timeoutCtx(t, wait), key, val); err != nil {
		t.Fatal(err)
	}
}

func del(t testing.TB, c *clientv3.Client, key string) {
	t.Helper()
	if _, err := c.Delete(timeoutCtx(t, wait), key); err != nil {
		t.Fatal(err)
	}
}

func mustResolve(t testing.TB, r *lbetcd.Resolver) []lb.Endpoint {
	t.Helper()
	eps, err := r.Resolve(timeoutCtx(t, wait))
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

func same(t testing.TB, what string, got, want []lb.Endpoint) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestNewResolverRejects(t *testing.T) {
	t.Parallel()
	c, _ := dial("http://127.0.0.1:1") // never used: the arguments fail first
	defer c.Close()
	for _, tc := range []struct {
		name   string
		c      *clientv3.Client
		prefix string
	}{
		{"a nil client", nil, "/svc/"},
		{"an empty prefix", c, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := lbetcd.NewResolver(tc.c, tc.prefix, lbetcd.Config{}); !errors.Is(err, lbetcd.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

func TestResolveReadsEveryFormUnderThePrefixOnly(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	put(t, c, p+"a", `{"addr":"127.0.0.1:8001","weight":2}`)
	put(t, c, p+"b", `"127.0.0.1:8002"`)
	put(t, c, p+"c", `127.0.0.1:8003`)
	put(t, c, p[:len(p)-1]+"-other/d", `127.0.0.1:8004`) // shares the prefix without its slash
	put(t, c, p[:len(p)-1], `127.0.0.1:8005`)            // the prefix without its slash
	r := newResolver(t, c, p, lbetcd.Config{})
	if r.Prefix() != p {
		t.Fatalf("Prefix = %q, want %q", r.Prefix(), p)
	}
	eps := mustResolve(t, r)
	want := []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 2}, {Addr: "127.0.0.1:8002"}, {Addr: "127.0.0.1:8003"}}
	same(t, "Resolve", eps, want)

	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Set(eps...); err != nil {
		t.Fatal(err)
	}
	var got []lb.Endpoint
	for _, st := range pool.Endpoints() {
		got = append(got, lb.Endpoint{Addr: st.Addr, Weight: st.Weight})
	}
	same(t, "the pool after Set", got, []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 2}, {Addr: "127.0.0.1:8002", Weight: 1}, {Addr: "127.0.0.1:8003", Weight: 1}})
}

// Register stores an endpoint's zone and Resolve returns it; values
// written without a zone, by an older Register or by hand, still read, as
// endpoints without one.
func TestResolveCarriesZonesAndReadsValuesWithout(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8001", Weight: 2, Zone: "us-east-1a"}, 5*time.Second)
	register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8002", Zone: "us-east-1b"}, 5*time.Second)
	put(t, c, p+"old", `{"addr":"127.0.0.1:8003","weight":3}`) // before zones
	put(t, c, p+"bare", `127.0.0.1:8004`)
	r := newResolver(t, c, p, lbetcd.Config{OnBadValue: func(key string, err error) { t.Errorf("bad value at %s: %v", key, err) }})
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{
		{Addr: "127.0.0.1:8001", Weight: 2, Zone: "us-east-1a"},
		{Addr: "127.0.0.1:8002", Zone: "us-east-1b"},
		{Addr: "127.0.0.1:8003", Weight: 3},
		{Addr: "127.0.0.1:8004"},
	})

	// A registrant that moves zones re-registers; the newer key wins.
	put(t, c, p+"moved", `{"addr":"127.0.0.1:8003","weight":3,"zone":"us-east-1c"}`)
	same(t, "Resolve after a move", mustResolve(t, r), []lb.Endpoint{
		{Addr: "127.0.0.1:8001", Weight: 2, Zone: "us-east-1a"},
		{Addr: "127.0.0.1:8002", Zone: "us-east-1b"},
		{Addr: "127.0.0.1:8003", Weight: 3, Zone: "us-east-1c"},
		{Addr: "127.0.0.1:8004"},
	})
}

func TestResolveOfAnEmptyPrefixIsEmpty(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	eps, err := newResolver(t, c, p, lbetcd.Config{}).Resolve(timeoutCtx(t, wait))
	if err != nil || len(eps) != 0 {
		t.Fatalf("got %v, %v; want no endpoints and no error", eps, err)
	}
}

func TestResolveSkipsBadValuesAndReportsEachVersionOnce(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	var mu sync.Mutex
	reports := map[string]int{}
	r := newResolver(t, c, p, lbetcd.Config{OnBadValue: func(key string, err error) {
		if !errors.Is(err, lbetcd.ErrValue) {
			t.Errorf("report for %s: %v does not wrap ErrValue", key, err)
		}
		mu.Lock()
		reports[key]++
		mu.Unlock()
	}})
	count := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return reports[key]
	}
	put(t, c, p+"good", `127.0.0.1:8001`)
	bad := map[string]string{
		"empty": ``, "no-port": `127.0.0.1`, "json": `{"addr":`, "weight": `{"addr":"127.0.0.1:8002","weight":-3}`, "url": `http://127.0.0.1:80`,
	}
	for k, v := range bad {
		put(t, c, p+k, v)
	}
	for range 2 { // the second Resolve reports nothing new
		same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}})
		if n := r.BadValues(); n != len(bad) {
			t.Fatalf("BadValues = %d, want %d", n, len(bad))
		}
		for k := range bad {
			if n := count(p + k); n != 1 {
				t.Fatalf("%s reported %d times, want once", k, n)
			}
		}
	}

	put(t, c, p+"no-port", `still bad`)  // a new version of a bad key: reported again
	put(t, c, p+"url", `127.0.0.1:8003`) // fixed: no longer bad
	same(t, "Resolve after the fix", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}, {Addr: "127.0.0.1:8003"}})
	if n := count(p + "no-port"); n != 2 {
		t.Fatalf("a new bad version was reported %d times in all, want 2", n)
	}
	if n := r.BadValues(); n != len(bad)-1 {
		t.Fatalf("BadValues = %d, want %d", n, len(bad)-1)
	}

	del(t, c, p+"good")
	del(t, c, p+"url")
	eps, err := r.Resolve(timeoutCtx(t, wait))
	if !errors.Is(err, lbetcd.ErrValue) || eps != nil {
		t.Fatalf("with only bad values: got %v, %v; want an error wrapping ErrValue", eps, err)
	}
}

func TestResolveKeepsTheNewestKeyOfAnAddress(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	put(t, c, p+"old", `{"addr":"127.0.0.1:8001","weight":1}`)
	put(t, c, p+"new", `{"addr":"127.0.0.1:8001","weight":5}`)
	r := newResolver(t, c, p, lbetcd.Config{})
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 5}})
	put(t, c, p+"old", `{"addr":"127.0.0.1:8001","weight":3}`) // now the newer one
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 3}})
}

// watching runs r.Watch until t ends, sending each change on the returned
// channel (never blocking the watch), and checks at the end that Watch
// returned ctx's error and nothing else.
func watching(t *testing.T, r *lbetcd.Resolver) (changes <-chan struct{}, failed <-chan error) {
	t.Helper()
	ch := make(chan struct{}, 1)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		errc <- r.Watch(ctx, func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Watch returned %v at the end, want context.Canceled", err)
			}
		case <-time.After(wait):
			t.Errorf("Watch did not return within %v of its context's end", wait)
		}
	})
	return ch, errc
}

// changed waits for one change from a watch, and fails t if the watch
// ended or none came in time.
func changed(t *testing.T, changes <-chan struct{}, failed <-chan error, what string) {
	t.Helper()
	select {
	case <-changes:
	case err := <-failed:
		t.Fatalf("%s: Watch failed: %v", what, err)
	case <-time.After(wait):
		t.Fatalf("%s: no change reported within %v", what, wait)
	}
}

// quiet drains the changes already reported.
func quiet(changes <-chan struct{}) {
	select {
	case <-changes:
	default:
	}
}

func TestWatchReportsEachChangeAndResolveSeesIt(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	r := newResolver(t, c, p, lbetcd.Config{})
	put(t, c, p+"a", `127.0.0.1:8001`)
	same(t, "first Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}})
	changes, failed := watching(t, r)
	// Put before the watch may have started: it watches from the revision
	// after the last Resolve, so this change is reported all the same.
	put(t, c, p+"b", `{"addr":"127.0.0.1:8002","weight":4}`)
	for _, step := range []struct {
		what string
		do   func()
		want []lb.Endpoint
	}{
		{"an endpoint added before the watch began", func() {}, []lb.Endpoint{{Addr: "127.0.0.1:8001"}, {Addr: "127.0.0.1:8002", Weight: 4}}},
		{"a weight changed", func() { put(t, c, p+"a", `{"addr":"127.0.0.1:8001","weight":3}`) }, []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 3}, {Addr: "127.0.0.1:8002", Weight: 4}}},
		{"an endpoint removed", func() { del(t, c, p+"b") }, []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 3}}},
		{"an endpoint added", func() { put(t, c, p+"c", `127.0.0.1:8003`) }, []lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 3}, {Addr: "127.0.0.1:8003"}}},
	} {
		step.do()
		changed(t, changes, failed, step.what)
		same(t, "Resolve after "+step.what, mustResolve(t, r), step.want)
	}
}

func TestWatchWithoutAResolveAsksForOne(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	r := newResolver(t, c, p, lbetcd.Config{})
	changes, failed := watching(t, r)
	changed(t, changes, failed, "a Watch before any Resolve")
	same(t, "Resolve", mustResolve(t, r), nil)
	quiet(changes)
	put(t, c, p+"a", `127.0.0.1:8001`)
	changed(t, changes, failed, "a put")
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}})
}

// A watch that starts from a revision a compaction removed gets
// ErrCompacted from etcd: Watch reports a change (so the Runner lists
// again) and goes on watching from the compaction's revision.
func TestWatchAfterACompactionListsAgain(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	r := newResolver(t, c, p, lbetcd.Config{})
	put(t, c, p+"a", `127.0.0.1:8001`)
	put(t, c, p+"b", `127.0.0.1:8002`)
	same(t, "first Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}, {Addr: "127.0.0.1:8002"}})

	// While no watch runs: changes, then a compaction past them.
	del(t, c, p+"a")
	put(t, c, p+"c", `127.0.0.1:8003`)
	resp, err := c.Put(timeoutCtx(t, wait), p[:len(p)-1]+"-unrelated", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(timeoutCtx(t, wait), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	// Etcd itself refuses the watch the Resolver needs.
	wctx, cancel := context.WithCancel(context.Background())
	first := <-c.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision-2))
	cancel()
	if first.CompactRevision != resp.Header.Revision {
		t.Fatalf("a raw watch from before the compaction got %+v, want CompactRevision %d", first, resp.Header.Revision)
	}

	changes, failed := watching(t, r)
	changed(t, changes, failed, "a watch from a compacted revision")
	same(t, "Resolve after the compaction", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8002"}, {Addr: "127.0.0.1:8003"}})

	// The watch goes on: the next change is reported too.
	quiet(changes)
	put(t, c, p+"d", `127.0.0.1:8004`)
	changed(t, changes, failed, "a put after the compaction")
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8002"}, {Addr: "127.0.0.1:8003"}, {Addr: "127.0.0.1:8004"}})
}

// Etcd killed and started again on the same ports and data: Resolve fails
// while it is away, Watch reports the loss and the return, and follows
// changes after it.
func TestResolveAndWatchAcrossAnEtcdRestart(t *testing.T) {
	t.Parallel()
	s := newEtcd(t)
	c := newClient(t, s.url)
	const p = "/svc/restart/"
	r := newResolver(t, c, p, lbetcd.Config{})
	put(t, c, p+"a", `127.0.0.1:8001`)
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}})
	changes, failed := watching(t, r)

	quiet(changes)
	s.kill()
	changed(t, changes, failed, "etcd killed")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	eps, err := r.Resolve(ctx)
	cancel()
	if !errors.Is(err, lbetcd.ErrEtcd) || !errors.Is(err, context.DeadlineExceeded) || eps != nil {
		t.Fatalf("Resolve with etcd down: %v, %v; want an error wrapping ErrEtcd and the deadline", eps, err)
	}

	quiet(changes)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	changed(t, changes, failed, "etcd back")
	same(t, "Resolve after the restart", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}})
	quiet(changes)
	put(t, c, p+"b", `127.0.0.1:8002`)
	changed(t, changes, failed, "a put after the restart")
	same(t, "Resolve", mustResolve(t, r), []lb.Endpoint{{Addr: "127.0.0.1:8001"}, {Addr: "127.0.0.1:8002"}})
}

func TestWatchFailsWhenTheClientCloses(t *testing.T) {
	t.Parallel()
	needEtcd(t)
	c, err := dial(exampleEtcd)
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, c, "/svc/closed/", lbetcd.Config{})
	mustResolve(t, r)
	errc := make(chan error, 1)
	ready := make(chan struct{}, 1)
	go func() {
		errc <- r.Watch(context.Background(), func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		})
	}()
	put(t, c, "/svc/closed/a", "127.0.0.1:1") // the watch is up once this is reported
	select {
	case <-ready:
	case <-time.After(wait):
		t.Fatal("no change reported")
	}
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, lbetcd.ErrEtcd) {
			t.Fatalf("Watch returned %v, want an error wrapping ErrEtcd", err)
		}
		t.Log(err)
	case <-time.After(wait):
		t.Fatal("Watch did not return after the client closed")
	}
}
