package lbgrpc

import (
	"context"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestMaxConcurrencyFailsFastWhileAStreamHoldsTheSlot holds the one slot a
// maxConcurrency of 1 allows with a stream, and checks that a unary RPC,
// with and without wait-for-ready, fails at once with Unavailable without
// reaching the server, and succeeds once the stream has ended.
func TestMaxConcurrencyFailsFastWhileAStreamHoldsTheSlot(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 1)
	name, w := registerTest(lb.P2C)
	cc, _ := dial(t, name, `{"maxConcurrency": 1}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams(t, ctx, cc, 1)
	if n := inFlight(pool); n != 1 {
		t.Fatalf("in flight with the stream open: %d, want 1", n)
	}
	for _, waitForReady := range []bool{false, true} {
		rpcCtx, rpcCancel := context.WithTimeout(context.Background(), waitFor)
		_, err := healthpb.NewHealthClient(cc).Check(rpcCtx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(waitForReady))
		rpcCancel()
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "maxConcurrency") {
			t.Fatalf("wait-for-ready %v: error %v, want Unavailable naming maxConcurrency", waitForReady, err)
		}
	}
	if n := servers[0].checks.Load(); n != 0 {
		t.Fatalf("refused RPCs reached the server %d times", n)
	}
	if s := pool.Stats(); s.Saturations != 2 {
		t.Fatalf("pool counted %d saturations, want 2", s.Saturations)
	}
	if n := inFlight(pool); n != 1 {
		t.Fatalf("in flight after the refusals: %d, want the stream's 1", n)
	}

	cancel()
	eventually(t, "the stream's lease ended", func() bool { return inFlight(pool) == 0 })
	if _, err := check(context.Background(), cc); err != nil {
		t.Fatalf("RPC with the slot free: %v", err)
	}
}

// TestAdaptiveConcurrencyReachesThePool dials with adaptiveConcurrency and
// a floor and cap of 1: the pool's endpoint starts at its floor, so a
// stream holding the one place makes a unary RPC fail fast as under a
// fixed limit, and the endpoint's status shows the adaptive limit.
func TestAdaptiveConcurrencyReachesThePool(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 1)
	name, w := registerTest(lb.P2C)
	cc, _ := dial(t, name, `{"adaptiveConcurrency": true, "minConcurrency": 1, "maxConcurrency": 1, "timeoutGrace": "2s"}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 1)
	if e := pool.Endpoints(); len(e) != 1 || e[0].Limit != 1 {
		t.Fatalf("endpoints %+v, want one with the adaptive limit's floor 1", e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams(t, ctx, cc, 1)
	if _, err := check(context.Background(), cc); status.Code(err) != codes.Unavailable {
		t.Fatalf("RPC while the stream holds the place: %v, want Unavailable", err)
	}
	cancel()
	eventually(t, "the stream's lease ended", func() bool { return inFlight(pool) == 0 })
	if _, err := check(context.Background(), cc); err != nil {
		t.Fatalf("RPC with the place free: %v", err)
	}
}
