package lbgrpc

import (
	"context"
	"errors"
	"math"
	"net"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// overloadedServer is a real gRPC server on 127.0.0.1 with a capacity per
// round: its Check answers the first capacity calls of a round and fails
// the rest with code, as a server shedding load does. The test starts
// each round.
type overloadedServer struct {
	healthpb.UnimplementedHealthServer
	addr     string
	capacity int
	code     codes.Code

	mu       sync.Mutex
	inRound  int
	hits     int
	accepted int
}

func (s *overloadedServer) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	s.inRound++
	if s.inRound > s.capacity {
		return nil, status.Error(s.code, "test server over capacity")
	}
	s.accepted++
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *overloadedServer) newRound() {
	s.mu.Lock()
	s.inRound = 0
	s.mu.Unlock()
}

func (s *overloadedServer) counts() (hits, accepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.accepted
}

func startOverloaded(t *testing.T, capacity int, code codes.Code) *overloadedServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &overloadedServer{addr: lis.Addr().String(), capacity: capacity, code: code}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, s)
	go srv.Serve(lis) // returns when stopped
	t.Cleanup(srv.Stop)
	return s
}

// dialThrottled connects to servers through nanolb_round_robin with the
// interceptor, and closes the connection when the test ends.
func dialThrottled(t *testing.T, ic grpc.UnaryClientInterceptor, servers ...*overloadedServer) *grpc.ClientConn {
	t.Helper()
	r := manual.NewBuilderWithScheme("nanolbthrottle")
	var eps []resolver.Endpoint
	for _, s := range servers {
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: s.addr}}})
	}
	r.InitialState(resolver.State{Endpoints: eps})
	cc, err := grpc.NewClient(r.Scheme()+":///test",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_round_robin": {"ejectAfter": 100}}]}`),
		grpc.WithUnaryInterceptor(ic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestThrottleShedsToKTimesAccepts offers two servers, each taking 5 of
// every round's 100 RPCs and failing the rest with ResourceExhausted or
// Unavailable, 60 rounds: what reaches them falls to about K times what
// they accept, they still accept about all they can, and every refused
// RPC fails with Unavailable wrapping ErrThrottled.
func TestThrottleShedsToKTimesAccepts(t *testing.T) {
	const (
		rounds   = 60
		perRound = 100
		capacity = 5
	)
	for _, tc := range []struct {
		name string
		code codes.Code
		k    float64
	}{
		{"ResourceExhausted with the default K", codes.ResourceExhausted, 0},
		{"Unavailable with K 1.5", codes.Unavailable, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noGoroutinesLeft(t)
			a, b := startOverloaded(t, capacity, tc.code), startOverloaded(t, capacity, tc.code)
			ic, err := ThrottleInterceptor(tc.k)
			if err != nil {
				t.Fatal(err)
			}
			cc := dialThrottled(t, ic, a, b)
			hc := healthpb.NewHealthClient(cc)
			ctx := context.Background()
			// Both connections up first, so no RPC fails for want of one.
			eventually(t, "both servers reached", func() bool {
				a.newRound()
				b.newRound()
				hc.Check(ctx, &healthpb.HealthCheckRequest{})
				hA, _ := a.counts()
				hB, _ := b.counts()
				return hA > 0 && hB > 0
			})
			hA0, accA0 := a.counts()
			hB0, accB0 := b.counts()
			throttled := 0
			for range rounds {
				a.newRound()
				b.newRound()
				for range perRound {
					_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
					switch {
					case errors.Is(err, ErrThrottled):
						if c := status.Code(err); c != codes.Unavailable {
							t.Fatalf("throttled RPC's code %v, want Unavailable", c)
						}
						throttled++
					case err != nil && status.Code(err) != tc.code:
						t.Fatal(err)
					}
				}
			}
			hA, accA := a.counts()
			hB, accB := b.counts()
			wire, accepted := hA-hA0+hB-hB0, accA-accA0+accB-accB0
			t.Logf("%d RPCs: %d throttled, %d sent, %d accepted", rounds*perRound, throttled, wire, accepted)
			if wire+throttled != rounds*perRound {
				t.Errorf("%d sent and %d throttled, want %d in all", wire, throttled, rounds*perRound)
			}
			k := tc.k
			if k == 0 {
				k = DefaultThrottleK
			}
			testkit.ThrottledAsSpecified(t, k, wire, accepted, 2*capacity*rounds)
		})
	}
}

// TestThrottleAcceptsOtherEndings checks the counting rule: RPCs that fail
// with an application code are accepts, so the throttle refuses none; and
// RPCs the caller cancelled count for nothing (were they rejections, 500
// after 200 accepts would have the throttle refuse about 40% of RPCs).
func TestThrottleAcceptsOtherEndings(t *testing.T) {
	noGoroutinesLeft(t)
	s := startOverloaded(t, 0, codes.NotFound) // fails every RPC with NotFound
	ic, err := ThrottleInterceptor(0)
	if err != nil {
		t.Fatal(err)
	}
	hc := healthpb.NewHealthClient(dialThrottled(t, ic, s))
	for i := range 200 {
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.NotFound {
			t.Fatalf("RPC %d: %v, want NotFound from the server", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 500 {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Canceled {
			t.Fatalf("cancelled RPC: %v, want Canceled", err)
		}
	}
	for i := range 100 {
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); errors.Is(err, ErrThrottled) {
			t.Fatalf("RPC %d throttled after NotFound answers and cancelled RPCs", i)
		}
	}
}

func TestThrottleInterceptorRejectsK(t *testing.T) {
	for _, k := range []float64{0.5, -1, MaxThrottleK + 1, math.NaN(), math.Inf(1)} {
		if _, err := ThrottleInterceptor(k); !errors.Is(err, lb.ErrConfig) {
			t.Errorf("ThrottleInterceptor(%v): %v, want lb.ErrConfig", k, err)
		}
		if th, err := NewThrottle(k); th != nil || !errors.Is(err, lb.ErrConfig) {
			t.Errorf("NewThrottle(%v): %v, %v; want nil, lb.ErrConfig", k, th, err)
		}
	}
}

// ThrottleStats has lbhttp.ThrottleStats' fields, so the one converts to
// the other, and both to lbprom.ThrottleStats (which lbprom pins).
var _ = lbhttp.ThrottleStats(ThrottleStats{})

// TestThrottleStatsCountWhatTheInterceptorDid sends RPCs to a real gRPC
// server on 127.0.0.1 that accepts ten, then fails every one with
// Unavailable, until the throttle refuses most. Stats counts each RPC as
// the throttle did: every one a request, the ten accepts, and the
// refusals, exactly the RPCs that failed with ErrThrottled, as Rejected.
func TestThrottleStatsCountWhatTheInterceptorDid(t *testing.T) {
	noGoroutinesLeft(t)
	s := startOverloaded(t, 10, codes.Unavailable) // one round: 10 accepted, then Unavailable
	th, err := NewThrottle(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := th.Stats(); got != (ThrottleStats{}) {
		t.Fatalf("Stats() = %+v before any RPC, want zero", got)
	}
	hc := healthpb.NewHealthClient(dialThrottled(t, th.Interceptor(), s))
	const rpcs = 210
	throttled := 0
	for i := range rpcs {
		_, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		switch {
		case errors.Is(err, ErrThrottled):
			throttled++
		case i < 10 && err != nil:
			t.Fatalf("RPC %d: %v, want it accepted", i, err)
		case i >= 10 && status.Code(err) != codes.Unavailable:
			t.Fatalf("RPC %d: %v, want Unavailable from the server", i, err)
		}
		if i == 9 {
			if got, want := th.Stats(), (ThrottleStats{Requests: 10, Accepts: 10}); got != want {
				t.Fatalf("Stats() = %+v after 10 accepted, want %+v", got, want)
			}
		}
	}
	hits, accepted := s.counts()
	t.Logf("%d RPCs: %d throttled, %d sent, %d accepted", rpcs, throttled, hits, accepted)
	if throttled < 100 {
		t.Errorf("%d of %d RPCs throttled with every one past the tenth rejected, want most", throttled, rpcs-10)
	}
	if hits+throttled != rpcs || accepted != 10 {
		t.Errorf("%d sent (%d accepted) and %d throttled, want %d in all and 10 accepted", hits, accepted, throttled, rpcs)
	}
	want := ThrottleStats{Requests: rpcs, Accepts: int64(accepted), Rejected: uint64(throttled)}
	if got := th.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// TestThrottleInterceptorsShareTheirThrottle checks that every interceptor
// a Throttle returns counts into it: two ClientConns with one each add up
// in its Stats.
func TestThrottleInterceptorsShareTheirThrottle(t *testing.T) {
	noGoroutinesLeft(t)
	s := startOverloaded(t, 100, codes.Unavailable)
	th, err := NewThrottle(1.5)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 4} {
		hc := healthpb.NewHealthClient(dialThrottled(t, th.Interceptor(), s))
		for range n {
			if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := th.Stats(), (ThrottleStats{Requests: 7, Accepts: 7}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}
