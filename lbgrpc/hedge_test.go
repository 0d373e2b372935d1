package lbgrpc

import (
	"context"
	"errors"

	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// HedgeStats has lbhttp.HedgeStats' fields, so the one converts to the
// other, and both to lbprom.HedgeStats (which lbprom pins).
var _ = lbhttp.HedgeStats(HedgeStats{})

// healthCheck is the full name of the method the test servers serve.
const healthCheck = "/grpc.health.v1.Health/Check"

// stallingServers starts n servers that share one count of Checks to
// stall (see server.stall), each stalling at most stallFor.
func stallingServers(t *testing.T, n int, stallFor time.Duration) ([]*server, *atomic.Int64) {
	t.Helper()
	stall := new(atomic.Int64)
	servers := startServers(t, n)
	for _, s := range servers {
		s.stall, s.stallFor = stall, stallFor
	}
	return servers, stall
}

// dialHedged connects to eps through balancer name with config, the
// Hedger's interceptor on the ClientConn, and closes it when the test ends
// (after checking that every lease ended).
func dialHedged(t *testing.T, h *Hedger, name, config string, w *poolWatch, eps ...resolver.Endpoint) *grpc.ClientConn {
	t.Helper()
	if config == "" {
		config = "{}"
	}
	r := manual.NewBuilderWithScheme("nanolbhedge")
	r.InitialState(resolver.State{Endpoints: eps})
	return connect(t, r.Scheme()+":///test", r, name, config, w, grpc.WithUnaryInterceptor(h.Interceptor()))
}

func newHedger(t *testing.T, o HedgeOptions) *Hedger {
	t.Helper()
	h, err := NewHedger(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// stalledOne returns the server whose stalled count passed before's.
func stalledOne(t *testing.T, servers []*server, before map[*server]int64) *server {
	t.Helper()
	var got *server
	for _, s := range servers {
		if s.stalled.Load() > before[s] {
			if got != nil {
				t.Fatalf("%s and %s both stalled, want one", got.addr, s.addr)
			}
			got = s
		}
	}
	if got == nil {
		t.Fatal("no server stalled")
	}
	return got
}

func stalledCounts(servers []*server) map[*server]int64 {
	m := make(map[*server]int64, len(servers))
	for _, s := range servers {
		m[s] = s.stalled.Load()
	}
	return m
}

// An RPC whose first attempt stalls is hedged after Delay to the other
// endpoint, though weighted round robin puts nearly every pick (100 to 1)
// on the endpoint the first attempt took: only the exclusion the picker
// reads from the attempt's context sends the hedge elsewhere. The hedge
// answers, with its peer, header and trailer in the caller's options and
// OnFinish called once; the stalled server sees its RPC cancelled; and its
// lease ends neutral: no streak, no ejection, with ejectAfter 1.
func TestAHedgeGoesToAnotherEndpointWinsAndTheLoserIsNotCharged(t *testing.T) {
	noGoroutinesLeft(t)
	const rounds = 5
	servers, stall := stallingServers(t, 2, waitFor)
	eps := endpoints(servers)
	var err error
	if eps[0], err = WithWeight(eps[0], 100); err != nil {
		t.Fatal(err)
	}
	h := newHedger(t, HedgeOptions{Methods: []string{healthCheck}, Delay: 20 * time.Millisecond})
	name, w := registerTest(lb.WeightedRoundRobin)
	cc := dialHedged(t, h, name, `{"ejectAfter": 1}`, w, eps...)
	pool := waitReady(t, w, 2)
	hc := healthpb.NewHealthClient(cc)

	for i := range rounds {
		stall.Store(1)
		before := stalledCounts(servers)
		var p peer.Peer
		var header, trailer metadata.MD
		var finished []error
		start := time.Now()
		_, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{},
			grpc.Peer(&p), grpc.Header(&header), grpc.Trailer(&trailer),
			grpc.OnFinish(func(err error) { finished = append(finished, err) }))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		slow := stalledOne(t, servers, before)
		if p.Addr == nil || p.Addr.String() == slow.addr || took > waitFor/2 {
			t.Fatalf("round %d: answered by %v after %v; want the hedge's answer from the server that did not stall, not %s", i, p.Addr, took, slow.addr)
		}
		if h, tr := header.Get("server-addr"), trailer.Get("server-addr"); len(h) != 1 || h[0] != p.Addr.String() || len(tr) != 1 || tr[0] != p.Addr.String() {
			t.Fatalf("round %d: header %v and trailer %v, want the answering server's %s", i, header, trailer, p.Addr)
		}
		if len(finished) != 1 || finished[0] != nil {
			t.Fatalf("round %d: OnFinish called with %v, want once with nil", i, finished)
		}
		eventually(t, "the stalled server to see its RPC cancelled", func() bool { return slow.cancelled.Load() == before[slow]+1 })
		eventually(t, "the loser's lease to end", func() bool { return inFlight(pool) == 0 })
		if e := endpointOf(t, pool, slow.addr); e.State != lb.Up || e.Streak != 0 {
			t.Fatalf("round %d: the loser's endpoint is %+v: charged for losing a race", i, e)
		}
	}
	if s := h.Stats(); s != (HedgeStats{Sent: rounds, Won: rounds}) {
		t.Fatalf("Stats() = %+v, want %d hedges sent and won", s, rounds)
	}
	eventually(t, "every lease ended", func() bool { return inFlight(pool) == 0 })
	for _, s := range servers {
		if e := endpointOf(t, pool, s.addr); e.State != lb.Up || e.Streak != 0 || e.Ejections != 0 {
			t.Errorf("%s is %+v: charged for losing a race", s.addr, e)
		}
	}
}

// Only the listed methods are hedged, by full name or by their service's
// prefix: an RPC of any other waits for its stalled attempt, and no copy
// reaches another server.
func TestOnlyListedMethodsAreHedged(t *testing.T) {
	noGoroutinesLeft(t)
	servers, stall := stallingServers(t, 2, 200*time.Millisecond)
	for _, tc := range []struct {
		name    string
		methods []string
		hedged  bool
	}{
		{"the full method name is hedged", []string{healthCheck}, true},
		{"the service's prefix is hedged", []string{"/grpc.health.v1.Health/"}, true},
		{"another method of the service is not", []string{"/grpc.health.v1.Health/List"}, false},
		{"another service is not", []string{"/grpc.health.v2.Health/", "/other.Service/Check"}, false},
		{"no method is not", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHedger(t, HedgeOptions{Methods: tc.methods, Delay: 10 * time.Millisecond})
			name, w := registerTest(lb.RoundRobin)
			cc := dialHedged(t, h, name, "", w, endpoints(servers)...)
			waitReady(t, w, 2)
			checks := servers[0].checks.Load() + servers[1].checks.Load()
			stall.Store(1)
			before := stalledCounts(servers)
			addr, err := check(context.Background(), cc)
			if err != nil {
				t.Fatal(err)
			}
			slow := stalledOne(t, servers, before)
			sent := servers[0].checks.Load() + servers[1].checks.Load() - checks
			hedged := addr != slow.addr
			if hedged != tc.hedged || (sent == 2) != tc.hedged || (h.Stats().Sent == 1) != tc.hedged {
				t.Fatalf("answered by %s (%s stalled), %d Checks sent, stats %+v; hedged = %v, want %v",
					addr, slow.addr, sent, h.Stats(), hedged, tc.hedged)
			}
		})
	}
}

// A status in NonFatalCodes (Unavailable by default) does not answer the
// RPC: the next attempt goes at once, to the other server; any other
// failure answers. The delay is an hour, so no attempt is a hedge.
func TestANonFatalFailureSendsTheNextAttemptAtOnce(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	bad := servers[0]
	for _, tc := range []struct {
		name     string
		fail     codes.Code
		nonFatal []codes.Code
		answer   codes.Code // of the RPCs whose first attempt reached bad
	}{
		{"Unavailable is non-fatal by default", codes.Unavailable, nil, codes.OK},
		{"NotFound is final by default", codes.NotFound, nil, codes.NotFound},
		{"NotFound is non-fatal when listed", codes.NotFound, []codes.Code{codes.NotFound}, codes.OK},
		{"Unavailable is final when not listed", codes.Unavailable, []codes.Code{codes.NotFound}, codes.Unavailable},
		{"every code is final with an empty list", codes.Unavailable, []codes.Code{}, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad.fail.Store(int32(tc.fail))
			defer bad.fail.Store(0)
			h := newHedger(t, HedgeOptions{Methods: []string{healthCheck}, Delay: time.Hour, NonFatalCodes: tc.nonFatal})
			name, w := registerTest(lb.RoundRobin)
			cc := dialHedged(t, h, name, `{"ejectAfter": 255, "outlier": {"off": true}}`, w, endpoints(servers)...)
			waitReady(t, w, 2)
			reached := 0
			for range 10 {
				before := bad.checks.Load()
				addr, err := check(context.Background(), cc)
				if bad.checks.Load() == before {
					if err != nil {
						t.Fatalf("an RPC that never reached the failing server: %v", err)
					}
					continue
				}
				reached++
				if got := status.Code(err); got != tc.answer {
					t.Fatalf("an RPC that reached the failing server ended %v (%v), want %v", got, err, tc.answer)
				}
				if err == nil && addr == bad.addr {
					t.Fatalf("answered by the failing server %s", addr)
				}
			}
			if reached == 0 {
				t.Fatal("no RPC reached the failing server")
			}
			if s := h.Stats(); s != (HedgeStats{}) {
				t.Fatalf("Stats() = %+v with an hour's delay, want no hedge", s)
			}
		})
	}
}

// stallInvoker is a unary invoker for synctest: every attempt takes d (in
// the bubble's time) unless its context ends first.
type stallInvoker struct {
	d        atomic.Int64 // ns
	attempts atomic.Int64
}

func (s *stallInvoker) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	s.attempts.Add(1)
	select {
	case <-time.After(time.Duration(s.d.Load())):
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// When every server is slow, hedges are paid from the budget and stop when
// it is empty: attempts per RPC stay within one, the budget's ratio, and
// what the bucket held and refilled, though MaxAttempts 5 would allow five.
func TestTheBudgetCapsHedgesWhenEveryServerStalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHedger(t, HedgeOptions{Methods: []string{healthCheck}, Delay: 10 * time.Millisecond, MaxAttempts: MaxHedgeAttempts})
		inv := new(stallInvoker)
		inv.d.Store(int64(time.Second))
		ic := h.Interceptor()
		const rpcs = 1000
		start := time.Now()
		var wg sync.WaitGroup
		for range rpcs {
			wg.Go(func() {
				if err := ic(context.Background(), healthCheck, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}, nil, inv.invoke); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		// The bucket starts with 10 s of RetryMinPerSecond, refills at it,
		// and each RPC adds RetryRatio.
		allowed := rpcs*(1+DefaultRetryRatio) + DefaultRetryMinPerSecond*(10+elapsed) + 1
		s := h.Stats()
		if got := float64(inv.attempts.Load()); got > allowed || got != rpcs+float64(s.Sent) {
			t.Fatalf("%v attempts (%+v) for %d RPCs over %.1f s, want %d and the hedges sent, at most %v", got, s, rpcs, elapsed, rpcs, allowed)
		}
		if s.Refused == 0 || s.Sent == 0 {
			t.Fatalf("Stats() = %+v: want hedges both sent and refused", s)
		}
	})
}

// With ExtraLoad the delay is the percentile of the method's recent first
// attempts: after many fast RPCs, a slow one is hedged long before Delay,
// the fallback until enough are seen.
func TestExtraLoadHedgesAtThePercentile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHedger(t, HedgeOptions{Methods: []string{healthCheck}, Delay: time.Hour, ExtraLoad: 0.01})
		inv := new(stallInvoker)
		inv.d.Store(int64(time.Millisecond))
		ic := h.Interceptor()
		call := func() error {
			return ic(context.Background(), healthCheck, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}, nil, inv.invoke)
		}
		for range 300 {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
		if s := h.Stats(); s.Sent != 0 {
			t.Fatalf("Stats() = %+v after RPCs that all took 1 ms, want no hedge", s)
		}
		inv.d.Store(int64(10 * time.Second)) // every attempt stalls now, the hedge too, but it is sent
		done := make(chan error)
		go func() { done <- call() }()
		time.Sleep(50 * time.Millisecond)
		if s := h.Stats(); s.Sent != 1 {
			t.Fatalf("Stats() = %+v 50 ms into a stalled RPC with a 1 ms p99, want one hedge", s)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A method the Hedger does not hedge costs the interceptor a map lookup
// and no allocation.
func TestAnUnhedgedMethodAllocatesNothing(t *testing.T) {
	h := newHedger(t, HedgeOptions{Methods: []string{"/other.Service/", "/grpc.health.v1.Health/Watch"}, Delay: time.Millisecond})
	ic := h.Interceptor()
	ctx := context.Background()
	req, reply := &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}
	noop := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	if n := testing.AllocsPerRun(100, func() { ic(ctx, healthCheck, req, reply, nil, noop) }); n != 0 {
		t.Fatalf("%v allocations per unhedged RPC, want 0", n)
	}
}

func TestHedgeOptionsAreChecked(t *testing.T) {
	m := []string{healthCheck}
	for _, tc := range []struct {
		name string
		o    HedgeOptions
	}{
		{"a negative Delay", HedgeOptions{Methods: m, Delay: -1}},
		{"a Delay under a microsecond", HedgeOptions{Methods: m, Delay: time.Nanosecond}},
		{"a Delay over an hour", HedgeOptions{Methods: m, Delay: 2 * time.Hour}},
		{"an ExtraLoad over a half", HedgeOptions{Methods: m, ExtraLoad: 0.9}},
		{"an ExtraLoad under 0.001", HedgeOptions{Methods: m, ExtraLoad: 0.0001}},
		{"methods with neither Delay nor ExtraLoad", HedgeOptions{Methods: m}},
		{"MaxAttempts 1", HedgeOptions{Methods: m, Delay: time.Millisecond, MaxAttempts: 1}},
		{"MaxAttempts over A6's 5", HedgeOptions{Methods: m, Delay: time.Millisecond, MaxAttempts: 6}},
		{"a RetryRatio over 1", HedgeOptions{Methods: m, Delay: time.Millisecond, RetryRatio: 1.5}},
		{"a negative RetryMinPerSecond", HedgeOptions{Methods: m, Delay: time.Millisecond, RetryMinPerSecond: -1}},
		{"OK as a non-fatal code", HedgeOptions{Methods: m, Delay: time.Millisecond, NonFatalCodes: []codes.Code{codes.OK}}},
		{"an unknown code", HedgeOptions{Methods: m, Delay: time.Millisecond, NonFatalCodes: []codes.Code{17}}},
		{"a method without its service", HedgeOptions{Methods: []string{"Check"}, Delay: time.Millisecond}},
		{"a method without its leading slash", HedgeOptions{Methods: []string{"grpc.health.v1.Health/Check"}, Delay: time.Millisecond}},
		{"an empty service", HedgeOptions{Methods: []string{"//Check"}, Delay: time.Millisecond}},
		{"a method with a third slash", HedgeOptions{Methods: []string{"/a/b/c"}, Delay: time.Millisecond}},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			if h, err := NewHedger(tc.o); h != nil || !errors.Is(err, lb.ErrConfig) {
				t.Fatalf("NewHedger(%+v) = %v, %v; want nil and lb.ErrConfig", tc.o, h, err)
			}
		})
	}
	if _, err := NewHedger(HedgeOptions{}); err != nil {
		t.Fatalf("NewHedger of the zero options: %v, want a Hedger that hedges nothing", err)
	}
}
