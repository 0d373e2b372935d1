package lbgrpc

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

func TestEveryPolicyIsRegisteredUnderItsName(t *testing.T) {
	want := []string{"nanolb_p2c", "nanolb_round_robin", "nanolb_least_loaded",
		"nanolb_weighted_round_robin", "nanolb_peak_ewma", "nanolb_random", "nanolb_consistent_hash", "nanolb_shard"}
	var got []string
	for _, p := range lb.Policies() {
		got = append(got, Name(p))
		b := balancer.Get(Name(p))
		if b == nil {
			t.Fatalf("%s is not registered", Name(p))
		}
		if _, ok := b.(balancer.ConfigParser); !ok {
			t.Errorf("%s does not parse its config", Name(p))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}

// unary sends n Checks one after another and counts them by serving address.
func unary(t *testing.T, cc *grpc.ClientConn, n int, ctx context.Context) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	for range n {
		addr, err := check(ctx, cc)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		counts[addr]++
	}
	return counts
}

func TestUnaryTrafficSpreadsAsEachPolicyPromises(t *testing.T) {
	const n = 300
	tests := []struct {
		policy  lb.Policy
		weights []int // per server; nil means none set
		slow    int   // index of a server that answers 50ms late, or -1
		want    func(counts []int) bool
		promise string
	}{
		{lb.RoundRobin, nil, -1, func(c []int) bool { return spread(c) <= 2 }, "each endpoint in turn: within 1 of n/3"},
		{lb.P2C, nil, -1, func(c []int) bool { return minOf(c) >= n/6 }, "every endpoint at least half its share"},
		{lb.Random, nil, -1, func(c []int) bool { return minOf(c) >= n/6 }, "every endpoint at least half its share"},
		{lb.WeightedRoundRobin, []int{3, 1, 1}, -1, func(c []int) bool {
			return near(c[0], n*3/5, 6) && near(c[1], n/5, 6) && near(c[2], n/5, 6)
		}, "shares 3:1:1 within 2% of n"},
		// 50ms: well above the latency spikes a loaded test machine gives
		// the fast servers, which a peak-sensitive average also follows.
		{lb.PeakEWMA, nil, 0, func(c []int) bool { return c[0] <= n/10 && minOf(c[1:]) >= n/4 }, "the slow endpoint gets under 10%"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String()+" keeps its promise: "+tt.promise, func(t *testing.T) {
			noGoroutinesLeft(t)
			servers := startServers(t, 3)
			eps := endpoints(servers)
			for i, w := range tt.weights {
				var err error
				if eps[i], err = WithWeight(eps[i], w); err != nil {
					t.Fatal(err)
				}
			}
			if tt.slow >= 0 {
				servers[tt.slow].delay.Store(int64(50 * time.Millisecond))
			}
			name, w := registerTest(tt.policy)
			cc, _ := dial(t, name, "", w, eps...)
			waitReady(t, w, 3)
			got := unary(t, cc, n, context.Background())
			counts := make([]int, len(servers))
			for i, s := range servers {
				counts[i] = got[s.addr]
			}
			if !tt.want(counts) {
				t.Fatalf("per server %v of %d", counts, n)
			}
			t.Logf("per server %v of %d", counts, n)
		})
	}
}

func spread(c []int) int { return slices.Max(c) - slices.Min(c) }
func minOf(c []int) int  { return slices.Min(c) }
func near(got, want, tol int) bool {
	return got >= want-tol && got <= want+tol
}

func TestConsistentHashSendsAKeyToOneEndpoint(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.ConsistentHash)
	cc, _ := dial(t, name, "", w, endpoints(servers)...)
	waitReady(t, w, 3)
	used := make(map[string]bool)
	for _, key := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"} {
		got := unary(t, cc, 10, WithHashKey(context.Background(), key))
		if len(got) != 1 {
			t.Fatalf("key %q went to %v, want one endpoint", key, got)
		}
		for a := range got {
			used[a] = true
		}
	}
	if len(used) < 2 {
		t.Fatalf("12 keys all went to %v", used)
	}
}

// nanolb_shard sends a key's RPCs to the endpoint lb's PickKey names, and
// once that server is ejected its keys fail with Unavailable instead of
// reaching another server.
func TestShardSendsAKeyOnlyToItsShard(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.Shard)
	cc, _ := dial(t, name, `{"ejectAfter": 1, "ejectFor": "1h", "maxEjectedPercent": 100}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 3)
	owner := func(key string) string {
		l, err := pool.PickKey(key)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Done(context.Canceled)
		return l.Endpoint()
	}
	keys := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	for _, key := range keys {
		got := unary(t, cc, 5, WithHashKey(context.Background(), key))
		if want := owner(key); len(got) != 1 || got[want] != 5 {
			t.Fatalf("key %q went to %v, want all 5 at its shard %s", key, got, want)
		}
	}
	bad := servers[0]
	bad.fail.Store(int32(codes.Unavailable))
	var badKey string
	for _, key := range keys {
		if owner(key) == bad.addr {
			badKey = key
		}
	}
	if badKey == "" {
		t.Skip("no test key maps to the first server")
	}
	if _, err := check(WithHashKey(context.Background(), badKey), cc); status.Code(err) != codes.Unavailable {
		t.Fatalf("the failing shard answered %v", err)
	}
	before := bad.checks.Load()
	for range 5 {
		if addr, err := check(WithHashKey(context.Background(), badKey), cc); status.Code(err) != codes.Unavailable || addr != "" {
			t.Fatalf("a key of the ejected shard: %q, %v; want Unavailable from the balancer", addr, err)
		}
	}
	if bad.checks.Load() != before {
		t.Fatal("RPCs reached the ejected shard")
	}
}

// streams opens n Watch streams, each after the last has its first
// response, and returns them with the address serving each. The streams end
// when ctx does.
func streams(t *testing.T, ctx context.Context, cc *grpc.ClientConn, n int) ([]healthpb.Health_WatchClient, []string) {
	t.Helper()
	var ss []healthpb.Health_WatchClient
	var addrs []string
	for range n {
		s, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		md, err := s.Header()
		if err != nil || len(md.Get("server-addr")) != 1 {
			t.Fatalf("stream header %v, %v", md, err)
		}
		ss = append(ss, s)
		addrs = append(addrs, md.Get("server-addr")[0])
	}
	return ss, addrs
}

func TestOpenStreamsSpreadByLeasesInFlight(t *testing.T) {
	tests := []struct {
		policy  lb.Policy
		streams int
		maxGap  int
	}{
		{lb.LeastLoaded, 9, 0}, // exact: each stream goes where fewest are open
		{lb.P2C, 30, 6},        // the pair's loser never takes the stream
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			noGoroutinesLeft(t)
			servers := startServers(t, 3)
			name, w := registerTest(tt.policy)
			cc, _ := dial(t, name, "", w, endpoints(servers)...)
			pool := waitReady(t, w, 3)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, addrs := streams(t, ctx, cc, tt.streams)
			counts := make(map[string]int)
			for _, a := range addrs {
				counts[a]++
			}
			var per []int
			for _, e := range pool.Endpoints() {
				if int(e.InFlight) != counts[e.Addr] {
					t.Errorf("%s: %d leases in flight, %d streams open", e.Addr, e.InFlight, counts[e.Addr])
				}
				per = append(per, counts[e.Addr])
			}
			if spread(per) > tt.maxGap {
				t.Fatalf("open streams per endpoint %v: spread over %d", per, tt.maxGap)
			}
			t.Logf("open streams per endpoint %v", per)
		})
	}
}

func TestStreamHoldsItsLeaseUntilItEnds(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	var mu sync.Mutex
	var verdicts []error
	name, w := registerTest(lb.P2C, WithClassifier(func(info balancer.DoneInfo) error {
		err := Classify(info)
		mu.Lock()
		verdicts = append(verdicts, err)
		mu.Unlock()
		return err
	}))
	calls := func() int { mu.Lock(); defer mu.Unlock(); return len(verdicts) }
	cc, _ := dial(t, name, "", w, endpoints(servers)...)
	pool := waitReady(t, w, 2)

	t.Run("ended by the server", func(t *testing.T) {
		ss, addrs := streams(t, context.Background(), cc, 1)
		unary(t, cc, 10, context.Background())
		if got := inFlight(pool); got != 1 {
			t.Fatalf("in flight with one stream open: %d", got)
		}
		if n := calls(); n != 10 {
			t.Fatalf("%d leases ended, want the 10 unary ones", n)
		}
		close(byAddr(servers)[addrs[0]].release)
		if _, err := ss[0].Recv(); err != io.EOF {
			t.Fatalf("Recv after release: %v", err)
		}
		// grpc-go ends the pick in the Recv that sees the end.
		if got := inFlight(pool); got != 0 {
			t.Fatalf("in flight after the stream ended: %d", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(verdicts) != 11 || verdicts[10] != nil {
			t.Fatalf("verdicts %v: want 11, the stream's a success", verdicts)
		}
	})
	t.Run("cancelled by the client", func(t *testing.T) {
		before := calls()
		ctx, cancel := context.WithCancel(context.Background())
		streams(t, ctx, cc, 1)
		if got := inFlight(pool); got != 1 {
			t.Fatalf("in flight with one stream open: %d", got)
		}
		cancel()
		eventually(t, "the cancelled stream's lease ended", func() bool { return inFlight(pool) == 0 })
		mu.Lock()
		defer mu.Unlock()
		if len(verdicts) != before+1 || !errors.Is(verdicts[before], context.Canceled) {
			t.Fatalf("verdicts %v: want one more, neutral", verdicts[before:])
		}
	})
}

func TestUnavailableServerIsEjectedThenProbedBack(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	bad := servers[0]
	bad.fail.Store(int32(codes.Unavailable))
	name, w := registerTest(lb.P2C)
	cc, _ := dial(t, name, `{"ejectAfter": 2, "ejectFor": "1s", "maxEjectFor": "1s",
		"maxEjectedPercent": 50, "noJitter": true}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 3)
	health := func() lb.EndpointStatus {
		for _, e := range pool.Endpoints() {
			if e.Addr == bad.addr {
				return e
			}
		}
		t.Fatalf("%s left the pool", bad.addr)
		return lb.EndpointStatus{}
	}

	// Traffic until two Unavailable in a row eject it.
	failed := 0
	for i := 0; health().State != lb.Ejected; i++ {
		if i == 200 {
			t.Fatalf("200 RPCs and %s is still %v", bad.addr, health().State)
		}
		if _, err := check(context.Background(), cc); err != nil {
			failed++
		}
	}
	if failed != 2 || bad.checks.Load() != 2 {
		t.Fatalf("%d RPCs failed, %d reached the bad server: want 2 and 2", failed, bad.checks.Load())
	}

	// While it cools down (1s), nothing reaches it.
	got := unary(t, cc, 50, context.Background())
	if s := health(); s.State != lb.Ejected {
		t.Fatalf("50 RPCs outlasted the 1s cooldown (state %v); machine too slow to tell", s.State)
	}
	if got[bad.addr] != 0 || bad.checks.Load() != 2 {
		t.Fatalf("ejected server served %d of 50 RPCs", got[bad.addr])
	}

	// Its first probe fails (one RPC, after the cooldown): ejected again.
	eventually(t, "the first probe failing", func() bool {
		check(context.Background(), cc) // the probe fails
		return health().Ejections == 2
	})
	if n := bad.checks.Load(); n != 3 {
		t.Fatalf("bad server served %d RPCs, want 2 failures and 1 probe", n)
	}

	// Healed, the next probe reinstates it, and it takes traffic again.
	bad.fail.Store(0)
	eventually(t, "the second probe reinstating it", func() bool {
		if _, err := check(context.Background(), cc); err != nil {
			t.Fatalf("RPC failed with the server healed: %v", err)
		}
		return health().State == lb.Up
	})
	if s := health(); s.Ejections != 0 || s.Streak != 0 {
		t.Fatalf("reinstated with history %+v", s)
	}
	if got := unary(t, cc, 60, context.Background()); got[bad.addr] == 0 {
		t.Fatalf("reinstated server got none of 60 RPCs: %v", got)
	}
}

func TestStoppedServerIsRoutedAround(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.P2C)
	cc, _ := dial(t, name, "", w, endpoints(servers)...)
	pool := waitReady(t, w, 3)

	// Traffic from four goroutines while one server stops.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				sent.Add(1)
				if _, err := check(ctx, cc); err != nil && ctx.Err() == nil {
					failed.Add(1)
				}
			}
		})
	}
	eventually(t, "traffic flowing", func() bool { return sent.Load() > 40 })
	servers[1].stop()
	eventually(t, "the stopped server leaving the pool", func() bool { return pool.Len() == 2 })
	cancel()
	wg.Wait()
	t.Logf("%d RPCs, %d failed around the stop", sent.Load(), failed.Load())

	got := unary(t, cc, 60, context.Background())
	if got[servers[1].addr] != 0 || got[servers[0].addr] == 0 || got[servers[2].addr] == 0 {
		t.Fatalf("after the stop: %v", got)
	}
}

func TestEveryEndpointEjectedFailsFastWithUnavailable(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 1)
	servers[0].fail.Store(int32(codes.Unavailable))
	name, w := registerTest(lb.RoundRobin)
	cc, _ := dial(t, name, `{"ejectAfter": 1, "ejectFor": "1h", "maxEjectedPercent": 100}`, w, endpoints(servers)...)
	waitReady(t, w, 1)
	if _, err := check(context.Background(), cc); status.Code(err) != codes.Unavailable {
		t.Fatalf("first RPC: %v", err)
	}
	_, err := check(context.Background(), cc)
	if status.Code(err) != codes.Unavailable || servers[0].checks.Load() != 1 {
		t.Fatalf("second RPC: %v after %d reached the server", err, servers[0].checks.Load())
	}
	t.Logf("second RPC: %v", err)
}

func TestResolverUpdatesKeepHealthAndChangedConfigStartsAPool(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.RoundRobin)
	cc, r := dial(t, name, `{"ejectAfter": 1, "ejectFor": "1h"}`, w, endpoints(servers[:2])...)
	pool := waitReady(t, w, 2)
	servers[0].fail.Store(int32(codes.Unavailable))
	eventually(t, "the failing server ejected", func() bool {
		check(context.Background(), cc) // some fail
		return pool.Endpoints()[0].State == lb.Ejected || pool.Endpoints()[1].State == lb.Ejected
	})

	r.UpdateState(resolver.State{Endpoints: endpoints(servers)})
	eventually(t, "the third server joining", func() bool { return pool.Len() == 3 })
	if len(w.all()) != 1 {
		t.Fatalf("an endpoint update made a new pool")
	}
	for _, e := range pool.Endpoints() {
		if want := e.Addr == servers[0].addr; (e.State == lb.Ejected) != want {
			t.Fatalf("after the update: %+v", pool.Endpoints())
		}
	}

	sc := r.CC().ParseServiceConfig(`{"loadBalancingConfig": [{"` + name + `": {"ejectAfter": 3}}]}`)
	if sc.Err != nil {
		t.Fatal(sc.Err)
	}
	r.UpdateState(resolver.State{Endpoints: endpoints(servers), ServiceConfig: sc})
	eventually(t, "a new pool for the new config", func() bool {
		p := w.last()
		return p != pool && p.Len() == 3
	})
}

func TestInvalidServiceConfigIsRejectedAtDial(t *testing.T) {
	_, err := grpc.NewClient("passthrough:///x", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(
		`{"loadBalancingConfig": [{"nanolb_p2c": {"ejectAfter": -1}}]}`))
	if err == nil {
		t.Fatal("a negative ejectAfter was accepted")
	}
	t.Log(err)
}

func TestEveryLeaseEndsUnderConcurrentMixedTraffic(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	servers[0].fail.Store(int32(codes.Unavailable))
	servers[1].delay.Store(int64(2 * time.Millisecond))
	name, w := registerTest(lb.P2C)
	cc, _ := dial(t, name, `{"ejectAfter": 3, "ejectFor": "20ms", "maxEjectedPercent": 50}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 3)
	var wg sync.WaitGroup
	var ok, failed, cancelled atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := range 60 {
				ctx, cancel := context.WithCancel(context.Background())
				switch (g + i) % 3 {
				case 1: // cancelled before it starts
					cancel()
				case 2: // cancelled while the server may still work on it
					time.AfterFunc(time.Millisecond, cancel)
				}
				_, err := check(ctx, cc)
				cancel()
				switch status.Code(err) {
				case codes.OK:
					ok.Add(1)
				case codes.Canceled:
					cancelled.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d ok, %d failed, %d cancelled", ok.Load(), failed.Load(), cancelled.Load())
	if ok.Load() == 0 || cancelled.Load() == 0 || failed.Load() == 0 {
		t.Fatalf("the mix lacks a kind of ending")
	}
	eventually(t, "every lease ended", func() bool { return inFlight(pool) == 0 })
}
