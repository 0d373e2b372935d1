package lbgrpc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/codes"
)

// What the package documentation says of nanolb_peak_ewma after one
// failure: the endpoint recovers at once, a trial share soon sends it an
// RPC, and that RPC's success ends its penalty; it is neither ejected nor
// probed meanwhile. ewmaDecay 24h: the decay of an average cannot bring
// it back within the test, only a trial can. The bad server answers at
// once and the others in 10 ms, so that it is the cheapest endpoint by
// far: serial RPCs soon reach it to fail, and its trials, from callers in
// parallel, win.
func TestPeakEWMAWinsBackAnEndpointThatFailedOnce(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	for _, s := range servers[1:] {
		s.delay.Store(int64(10 * time.Millisecond))
	}
	name, w := registerTest(lb.PeakEWMA)
	cc, _ := dial(t, name, `{"ewmaDecay": "24h"}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 3)
	unary(t, cc, 30, context.Background()) // every endpoint gets an average

	bad := servers[0]
	bad.fail.Store(int32(codes.Unavailable))
	before := bad.checks.Load()
	eventually(t, "one RPC failing on the bad server", func() bool {
		check(context.Background(), cc)
		return bad.checks.Load() > before
	})
	bad.fail.Store(0) // recovered at once
	if e := endpointOf(t, pool, bad.addr); e.Streak != 1 {
		t.Fatalf("after one failed RPC the endpoint is %+v, want a streak of 1", e)
	}

	served := bad.checks.Load()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	defer stop() // also when the test fails first
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				check(ctx, cc) // a cancelled RPC is neutral
			}
		})
	}
	eventually(t, "an RPC on the recovered server ending its streak", func() bool {
		return bad.checks.Load() > served && endpointOf(t, pool, bad.addr).Streak == 0
	})
	stop()
	if e := endpointOf(t, pool, bad.addr); e.State != lb.Up || e.Ejections != 0 {
		t.Fatalf("the once-failed endpoint is %+v, want up and never ejected", e)
	}
}

// endpointOf returns addr's snapshot in p, failing the test if it is not there.
func endpointOf(t *testing.T, p *lb.Pool, addr string) lb.EndpointStatus {
	t.Helper()
	for _, e := range p.Endpoints() {
		if e.Addr == addr {
			return e
		}
	}
	t.Fatalf("%s is not in the pool", addr)
	return lb.EndpointStatus{}
}
