package lbgrpc

import (
	"context"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/codes"
)

// What the package documentation says of nanolb_peak_ewma after one
// failure: the endpoint recovers at once, yet gets no RPCs while its
// average (at least 1 s from the failure) decays, and it is neither
// ejected nor probed meanwhile. ewmaDecay 24h makes "meanwhile" the whole
// test.
func TestPeakEWMAAvoidsAnEndpointThatFailedOnceWithoutEjectingIt(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
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

	served := bad.checks.Load()
	got := unary(t, cc, 200, context.Background())
	if got[bad.addr] != 0 || bad.checks.Load() != served {
		t.Fatalf("the recovered server got %d of 200 RPCs: %v", got[bad.addr], got)
	}
	for _, e := range pool.Endpoints() {
		if e.Addr == bad.addr && (e.State != lb.Up || e.Ejections != 0) {
			t.Fatalf("the once-failed endpoint is %+v, want up and never ejected", e)
		}
	}
}
