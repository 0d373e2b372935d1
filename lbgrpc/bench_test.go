package lbgrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	v3orcapb "github.com/cncf/xds/go/xds/data/orca/v3"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	_ "google.golang.org/grpc/balancer/leastrequest" // registers least_request_experimental
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/serviceconfig"
)

// benchBalancers are compared in one run: nanolb's P2C and round robin
// against grpc-go's least_request (P2C on in-flight counts, as nanolb's) and
// round_robin (no in-flight count).
var benchBalancers = []string{Name(lb.P2C), "least_request_experimental", Name(lb.RoundRobin), "round_robin"}

// benchConn dials three loopback servers through the named balancer and
// returns once each has served an RPC, so every child is READY.
func benchConn(b *testing.B, name string) *grpc.ClientConn {
	b.Helper()
	servers := startServers(b, 3)
	cc, _ := dial(b, name, "", nil, endpoints(servers)...)
	eventually(b, "every server serving", func() bool {
		if _, err := check(context.Background(), cc); err != nil {
			b.Fatal(err)
		}
		for _, s := range servers {
			if s.checks.Load() == 0 {
				return false
			}
		}
		return true
	})
	return cc
}

// reportCPU reports the process's CPU time per op since start, both ends
// of the RPCs and the GC included: on a machine shared with other work it
// is steadier than wall time, which counts time spent waiting for a CPU.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkUnaryRPC is one unary RPC (grpc.health.v1.Health/Check) on a
// real ClientConn to three servers on 127.0.0.1: the balancer's pick and
// Done inside everything else an RPC costs.
func BenchmarkUnaryRPC(b *testing.B) {
	req := &healthpb.HealthCheckRequest{}
	for _, name := range benchBalancers {
		b.Run("balancer="+name, func(b *testing.B) {
			client := healthpb.NewHealthClient(benchConn(b, name))
			ctx := context.Background()
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

// BenchmarkUnaryRPCParallel is BenchmarkUnaryRPC from GOMAXPROCS
// goroutines, so the balancer sees RPCs in flight.
func BenchmarkUnaryRPCParallel(b *testing.B) {
	req := &healthpb.HealthCheckRequest{}
	for _, name := range benchBalancers {
		b.Run("balancer="+name, func(b *testing.B) {
			client := healthpb.NewHealthClient(benchConn(b, name))
			ctx := context.Background()
			b.ReportAllocs()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Check(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkPick is the picker alone: Pick and Done over n READY children
// standing in for pick_first's, no RPC.
func BenchmarkPick(b *testing.B) {
	for _, policy := range []lb.Policy{lb.P2C, lb.RoundRobin} {
		for _, n := range []int{3, 64} {
			b.Run(fmt.Sprintf("policy=%s/n=%d", policy, n), func(b *testing.B) {
				addrs := make([]string, n)
				children := make(map[string]balancer.Picker, n)
				for i := range addrs {
					addrs[i] = fmt.Sprintf("10.0.0.%d:443", i)
					children[addrs[i]] = readyChild{}
				}
				pool, err := lb.New(lb.Config{Policy: policy}, addrs...)
				if err != nil {
					b.Fatal(err)
				}
				p := newPicker(pool, children, &builder{policy: policy, classify: Classify})
				info := balancer.PickInfo{Ctx: context.Background()}
				done := balancer.DoneInfo{BytesSent: true}
				b.ReportAllocs()
				for b.Loop() {
					res, err := p.Pick(info)
					if err != nil {
						b.Fatal(err)
					}
					res.Done(done)
				}
			})
		}
	}
}

// readyChild is a READY child's picker with nothing to end.
type readyChild struct{}

func (readyChild) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	return balancer.PickResult{}, nil
}

// captureBuilder registers, as "capture_<name>", the named balancer with a
// ClientConn wrapper that keeps the last READY picker it publishes, so a
// benchmark can time that real picker, over real SubConns, alone.
type captureBuilder struct {
	inner  balancer.Builder
	picker *atomic.Pointer[balancer.Picker]
}

func (c captureBuilder) Name() string { return "capture_" + c.inner.Name() }

func (c captureBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	return c.inner.Build(&captureCC{ClientConn: cc, picker: c.picker}, opts)
}

func (c captureBuilder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	if p, ok := c.inner.(balancer.ConfigParser); ok {
		return p.ParseConfig(js)
	}
	return nil, nil
}

type captureCC struct {
	balancer.ClientConn
	picker *atomic.Pointer[balancer.Picker]
}

func (c *captureCC) UpdateState(s balancer.State) {
	if s.ConnectivityState == connectivity.Ready {
		c.picker.Store(&s.Picker)
	}
	c.ClientConn.UpdateState(s)
}

// BenchmarkPickDone is one Pick and its Done on the picker each balancer
// publishes inside a real ClientConn to three loopback servers, all READY:
// the balancer's own cost per RPC, without the RPC.
func BenchmarkPickDone(b *testing.B) {
	for _, name := range benchBalancers {
		b.Run("balancer="+name, func(b *testing.B) {
			picker := new(atomic.Pointer[balancer.Picker])
			balancer.Register(captureBuilder{inner: balancer.Get(name), picker: picker})
			benchConn(b, "capture_"+name)
			p := *picker.Load()
			info := balancer.PickInfo{FullMethodName: "/grpc.health.v1.Health/Check", Ctx: context.Background()}
			done := balancer.DoneInfo{BytesSent: true, BytesReceived: true}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				res, err := p.Pick(info)
				if err != nil {
					b.Fatal(err)
				}
				if res.Done != nil {
					res.Done(done)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkPickLoadReport is BenchmarkPick for nanolb_weighted_round_robin
// with loadWeights on: each Done without an ORCA report, and with one.
func BenchmarkPickLoadReport(b *testing.B) {
	addrs := []string{"10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"}
	children := make(map[string]balancer.Picker, len(addrs))
	for _, a := range addrs {
		children[a] = readyChild{}
	}
	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin, LoadWeights: lb.LoadWeights{Enabled: true}}, addrs...)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	p := newPicker(pool, children, &builder{policy: lb.WeightedRoundRobin, classify: Classify}).withLoadReports(true, nil)
	info := balancer.PickInfo{Ctx: context.Background()}
	report := &v3orcapb.OrcaLoadReport{CpuUtilization: 0.5, RpsFractional: 100, Eps: 1}
	for _, done := range []struct {
		name string
		info balancer.DoneInfo
	}{{"none", balancer.DoneInfo{BytesSent: true}}, {"orca", balancer.DoneInfo{BytesSent: true, ServerLoad: report}}} {
		b.Run("report="+done.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := p.Pick(info)
				if err != nil {
					b.Fatal(err)
				}
				res.Done(done.info)
			}
		})
	}
}
