package lbgrpc

import (
	"context"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/resolver"
)

// Every endpoint joins the pool when its connection is READY, after the
// pool was made, so an endpoint the resolver adds later ramps under the
// service config's "slowStart" while its peers are past their ramps. With
// aggression 0.1 the ramp stays at its 1% floor for most of the 1 s window,
// so the new server gets a small fraction of its third of 300 round-robin
// RPCs however slowly the machine sends them; once the window is over it
// gets its third.
func TestSlowStartRampsAnEndpointThatConnectsLater(t *testing.T) {
	noGoroutinesLeft(t)
	const window = time.Second
	servers := startServers(t, 3)
	name, w := registerTest(lb.RoundRobin)
	cc, r := dial(t, name, `{"slowStart": {"window": "1s", "aggression": 0.1, "minWeightPercent": 1}}`, w,
		endpoints(servers[:2])...)
	pool := waitReady(t, w, 2)
	time.Sleep(window) // the first two endpoints' ramps end

	r.UpdateState(resolver.State{Endpoints: endpoints(servers)})
	if p := waitReady(t, w, 3); p != pool {
		t.Fatal("a resolver update made a new pool")
	}
	late := servers[2].addr
	const n = 300
	if got := unary(t, cc, n, context.Background()); got[late] >= n/6 {
		t.Fatalf("the endpoint that joined got %d of %d RPCs (%v), want under half its third", got[late], n, got)
	}

	eventually(t, "the joined endpoint's ramp ending", func() bool {
		got := unary(t, cc, 30, context.Background())
		return got[late] >= 9
	})
}
