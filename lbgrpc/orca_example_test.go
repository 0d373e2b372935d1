package lbgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/orca"
)

// Weights from the load servers report with each RPC (ORCA, gRFC A51):
// the server takes orca.CallMetricsServerOption and records its load in
// each RPC's orca.CallMetricsRecorderFromContext (here in an interceptor,
// for every method); the client names nanolb_weighted_round_robin with
// "loadWeights" enabled. For reports out of band instead, the server calls
// orca.Register and the config adds "enableOobLoadReport": true.
func ExampleLoadWeightsConfig() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		orca.CallMetricsServerOption(nil),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			rec := orca.CallMetricsRecorderFromContext(ctx)
			rec.SetCPUUtilization(0.42) // the server's own measurements, in practice
			rec.SetQPS(180)
			rec.SetEPS(0.5)
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) // returns when stopped
	defer srv.Stop()

	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_weighted_round_robin":
			{"loadWeights": {"enabled": true, "blackoutPeriod": "10s", "weightExpirationPeriod": "3m"}}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()

	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	// Output: SERVING
}

// The "loadWeights" object holds lb.LoadWeights under gRFC A58's names,
// and where reports come from; only nanolb_weighted_round_robin takes it.
func ExampleParseConfig_loadWeights() {
	c, err := lbgrpc.ParseConfig(lb.WeightedRoundRobin, []byte(`{"loadWeights": {"enabled": true,
		"blackoutPeriod": "10s", "weightExpirationPeriod": "180s", "weightUpdatePeriod": "1s",
		"errorUtilizationPenalty": 1.0, "enableOobLoadReport": true, "oobReportingPeriod": "10s"}}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", c.LB(lb.WeightedRoundRobin).LoadWeights)
	fmt.Println(c.LoadWeights.EnableOOBLoadReport, time.Duration(c.LoadWeights.OOBReportingPeriod))
	_, err = lbgrpc.ParseConfig(lb.WeightedRoundRobin, []byte(`{"loadWeights": {"enabled": true, "oobReportingPeriod": "1s"}}`))
	fmt.Println(err)
	_, err = lbgrpc.ParseConfig(lb.P2C, []byte(`{"loadWeights": {"enabled": true}}`))
	fmt.Println(err)
	// Output:
	// {Enabled:true BlackoutPeriod:10s ExpirationPeriod:3m0s UpdatePeriod:1s ErrorUtilizationPenalty:1}
	// true 10s
	// lb: invalid config: field "loadWeights.oobReportingPeriod" set without loadWeights.enableOobLoadReport
	// lb: invalid config: LoadWeights needs the weighted_round_robin policy, not p2c
}
