package lbgrpc

import (
	"context"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// benchHedgers are the interceptors compared: none (the baseline), a
// Hedger that hedges other methods than the one called, by full names
// alone (one map lookup) or with a service prefix too (two), and one that
// hedges it, with a delay no RPC reaches.
var benchHedgers = []struct {
	name string
	opts *HedgeOptions
}{
	{"none", nil},
	{"unhedged", &HedgeOptions{Methods: []string{"/grpc.health.v1.Health/Watch", "/other.Service/Check"}, Delay: time.Second}},
	{"unhedged_prefix", &HedgeOptions{Methods: []string{"/grpc.health.v1.Health/Watch", "/other.Service/"}, Delay: time.Second}},
	{"hedged", &HedgeOptions{Methods: []string{healthCheck}, Delay: time.Second}},
}

// benchInterceptor returns the interceptor for opts, nil for none, and
// sets hedgersMade as a program that made that Hedger, or none, has it.
func benchInterceptor(b *testing.B, opts *HedgeOptions) grpc.UnaryClientInterceptor {
	b.Helper()
	if opts == nil {
		hedgersMade.Store(false)
		return nil
	}
	h, err := NewHedger(*opts)
	if err != nil {
		b.Fatal(err)
	}
	return h.Interceptor()
}

// BenchmarkHedgerInterceptor is the interceptor alone around an invoker
// that returns at once: none calls the invoker directly.
func BenchmarkHedgerInterceptor(b *testing.B) {
	req, reply := &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	for _, bh := range benchHedgers {
		b.Run("interceptor="+bh.name, func(b *testing.B) {
			ic := benchInterceptor(b, bh.opts)
			b.ReportAllocs()
			if ic == nil {
				for b.Loop() {
					invoker(ctx, healthCheck, req, reply, nil)
				}
				return
			}
			for b.Loop() {
				ic(ctx, healthCheck, req, reply, nil, invoker)
			}
		})
	}
}

// BenchmarkHedgerUnaryRPC is one unary RPC on a real ClientConn balanced
// by nanolb_p2c over three servers on 127.0.0.1, with each interceptor:
// what an unhedged method, and a hedged one that answers before its
// delay, cost beside the RPC.
func BenchmarkHedgerUnaryRPC(b *testing.B) {
	req := &healthpb.HealthCheckRequest{}
	for _, bh := range benchHedgers {
		b.Run("interceptor="+bh.name, func(b *testing.B) {
			ic := benchInterceptor(b, bh.opts)
			var opts []grpc.DialOption
			if ic != nil {
				opts = append(opts, grpc.WithUnaryInterceptor(ic))
			}
			servers := startServers(b, 3)
			r := manual.NewBuilderWithScheme("nanolbbench")
			r.InitialState(resolver.State{Endpoints: endpoints(servers)})
			cc := connect(b, r.Scheme()+":///bench", r, Name(lb.P2C), "{}", nil, opts...)
			client := healthpb.NewHealthClient(cc)
			ctx := context.Background()
			eventually(b, "every server serving", func() bool {
				if _, err := client.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
				return servers[0].checks.Load() > 0 && servers[1].checks.Load() > 0 && servers[2].checks.Load() > 0
			})
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := client.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}
