package lbgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/lbgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// stallsFirst is a health server whose first Check, across the servers
// sharing stalled, waits until its RPC is cancelled.
type stallsFirst struct {
	healthpb.UnimplementedHealthServer
	stalled *atomic.Bool
}

func (s stallsFirst) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if s.stalled.CompareAndSwap(false, true) {
		<-ctx.Done() // the attempt that lost: cancelled
		return nil, ctx.Err()
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// Hedging Health/Check on a ClientConn balanced by nanolb_p2c over two
// servers: the first Check stalls, so after 50 ms a hedge goes to an
// endpoint the RPC has not tried, answers, and the stalled attempt is
// cancelled.
func ExampleHedger() {
	var stalled atomic.Bool
	var eps []resolver.Endpoint
	for range 2 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, stallsFirst{stalled: &stalled})
		go srv.Serve(lis) // returns when stopped
		defer srv.Stop()
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: lis.Addr().String()}}})
	}
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: eps})

	h, err := lbgrpc.NewHedger(lbgrpc.HedgeOptions{
		Methods: []string{"/grpc.health.v1.Health/Check"}, // may run twice: hedge it
		Delay:   50 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient(r.Scheme()+":///health",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_p2c": {}}]}`),
		grpc.WithUnaryInterceptor(h.Interceptor()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		cc.WaitForStateChange(context.Background(), s) // an endpoint READY: the first attempt is picked at once
	}

	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	fmt.Printf("%+v\n", h.Stats())
	// Output:
	// SERVING
	// {Sent:1 Won:1 Refused:0}
}
