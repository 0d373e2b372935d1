package lbgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/nanolb/nanolb/lbgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A throttle on a ClientConn's RPCs, with its counts read for monitoring:
// here the server accepts every RPC, so nothing is refused. Were it to
// reject them with ResourceExhausted or Unavailable, Rejected would count
// the RPCs the interceptor shed.
func ExampleThrottle() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) // returns when stopped
	defer srv.Stop()

	th, err := lbgrpc.NewThrottle(0) // K = DefaultThrottleK
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_p2c": {}}]}`),
		grpc.WithUnaryInterceptor(th.Interceptor()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()

	hc := healthpb.NewHealthClient(cc)
	for range 3 {
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%+v\n", th.Stats())
	// Output:
	// {Requests:3 Accepts:3 Rejected:0}
}
