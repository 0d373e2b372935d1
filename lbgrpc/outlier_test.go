package lbgrpc

import (
	"context"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/codes"
)

// The service config's "outlier" object reaches the pool. Three real
// servers take 60 RPCs in turn, then one fails a single RPC, an Interval
// (1 ms) after the pool was made: that failure evaluates every RPC so far.
// Only the config that lowers minHosts and the failure percentage to what
// one failure in 21 reaches ejects the server, by failure percentage; with
// the defaults otherwise, three endpoints are fewer than minHosts' 5, and
// the interval is judged by nobody; with "off", nothing is evaluated.
func TestOutlierConfigReachesThePool(t *testing.T) {
	tests := []struct {
		name, config string
		ejected      bool // the failing server is ejected by failure percentage
		evaluated    bool // the pool's endpoints show the interval's requests
	}{
		{"lowered thresholds eject by failure percentage",
			`{"outlier": {"interval": "1ms", "minHosts": 2, "failurePercent": 1, "failureMinRequests": 10}}`, true, true},
		{"a short interval alone evaluates but judges nobody", `{"outlier": {"interval": "1ms"}}`, false, true},
		{"off evaluates nothing", `{"outlier": {"off": true}}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noGoroutinesLeft(t)
			servers := startServers(t, 3)
			name, w := registerTest(lb.RoundRobin)
			cc, _ := dial(t, name, tt.config, w, endpoints(servers)...)
			pool := waitReady(t, w, 3)
			unary(t, cc, 60, context.Background())
			time.Sleep(2 * time.Millisecond) // the pool is older than the Interval

			bad := servers[1]
			bad.fail.Store(int32(codes.Unavailable))
			before := bad.checks.Load()
			for bad.checks.Load() == before { // one RPC fails; a few others may succeed meanwhile
				check(context.Background(), cc)
			}
			bad.fail.Store(0)

			served := byAddr(servers)
			eventually(t, "the failed RPC's lease ended", func() bool { return inFlight(pool) == 0 })
			for _, e := range pool.Endpoints() {
				n := served[e.Addr].checks.Load()
				wantState, wantRequests, wantRate := lb.Up, int64(0), 1.0
				if tt.evaluated {
					wantRequests = n
					if e.Addr == bad.addr {
						wantRate = 1 - 1/float64(n)
					}
				}
				if tt.ejected && e.Addr == bad.addr {
					wantState = lb.Ejected
				}
				if e.State != wantState || e.Requests != wantRequests || e.SuccessRate != wantRate ||
					(wantState == lb.Ejected && e.Reason != lb.FailurePercentage) {
					t.Errorf("%+v (server saw %d RPCs): want %v, %d requests, success rate %g", e, n, wantState, wantRequests, wantRate)
				}
			}
		})
	}
}
