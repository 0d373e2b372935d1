package lbgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"github.com/nanolb/nanolb/lbgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// A ClientConn balanced by nanolb's P2C with passive health: name the
// balancer in the service config. Importing lbgrpc registers it.
func Example() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) // returns when stopped
	defer srv.Stop()

	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [
			{"nanolb_p2c": {"ejectAfter": 3, "ejectFor": "2s", "maxEjectFor": "30s"}}
		]}`))
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

// Every policy's balancer name.
func ExampleName() {
	for _, p := range lb.Policies() {
		fmt.Println(lbgrpc.Name(p))
	}
	// Output:
	// nanolb_p2c
	// nanolb_round_robin
	// nanolb_least_loaded
	// nanolb_weighted_round_robin
	// nanolb_peak_ewma
	// nanolb_random
	// nanolb_consistent_hash
	// nanolb_shard
}

// ParseConfig is what the balancers run on their service config; a bad
// value is an error wrapping lb.ErrConfig.
func ExampleParseConfig() {
	c, err := lbgrpc.ParseConfig(lb.P2C, []byte(`{"ejectAfter": 3, "ejectFor": "1.5s"}`))
	fmt.Println(c.LB(lb.P2C).EjectFor, err)
	_, err = lbgrpc.ParseConfig(lb.P2C, []byte(`{"ejectFor": "2s", "maxEjectFor": "1s"}`))
	fmt.Println(err)
	// Output:
	// 1.5s <nil>
	// lb: invalid config: MaxEjectFor 1s is shorter than EjectFor 2s
}

// Outlier detection and slow start are objects of their own in the
// config; a nested field's error names it after its object.
func ExampleParseConfig_outlierAndSlowStart() {
	c, err := lbgrpc.ParseConfig(lb.P2C, []byte(`{
		"outlier": {"interval": "10s", "minHosts": 3, "failurePercent": 50},
		"slowStart": {"window": "30s", "aggression": 2}}`))
	if err != nil {
		log.Fatal(err)
	}
	cfg := c.LB(lb.P2C)
	fmt.Printf("%+v\n%+v\n", cfg.Outlier, cfg.SlowStart)
	_, err = lbgrpc.ParseConfig(lb.P2C, []byte(`{"outlier": {"interval": 10}}`))
	fmt.Println(err)
	// Output:
	// {Off:false Interval:10s MinHosts:3 StdevFactor:0 MinRequests:0 FailurePercent:50 FailureMinRequests:0 EjectFor:0s MaxEjectFor:0s}
	// {Window:30s Aggression:2 MinWeightPercent:0}
	// lb: invalid config: field "outlier.interval": duration 10 is not a string such as "1.5s"
}

// A classifier of one's own: here an RPC the server answered with
// ResourceExhausted also counts against it. Register the builder before
// dialling and name it in the service config.
func ExampleNewBuilder() {
	b, err := lbgrpc.NewBuilder("p2c_shed_aware", lb.P2C, lbgrpc.WithClassifier(func(info balancer.DoneInfo) error {
		if status.Code(info.Err) == codes.ResourceExhausted && info.BytesSent {
			return info.Err
		}
		return lbgrpc.Classify(info)
	}))
	if err != nil {
		log.Fatal(err)
	}
	balancer.Register(b)
	fmt.Println(balancer.Get("p2c_shed_aware") != nil)
	// Output: true
}

// Consistent hashing routes each RPC by the key in its context: every RPC
// made with one key reaches one of the three servers while membership and
// load allow.
func ExampleWithHashKey() {
	var addrs []string
	for range 3 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, health.NewServer())
		go srv.Serve(lis) // returns when stopped
		defer srv.Stop()
		addrs = append(addrs, lis.Addr().String())
	}
	rb, err := lbgrpc.NewResolverBuilder("nanolb-hash",
		discovery.Static{{Addr: addrs[0]}, {Addr: addrs[1]}, {Addr: addrs[2]}}, discovery.Config{})
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient("nanolb-hash:///users",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(rb),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_consistent_hash": {}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	// served calls Check with ctx n times and returns the servers it reached.
	served := func(ctx context.Context, n int) map[string]bool {
		reached := map[string]bool{}
		for range n {
			var p peer.Peer
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
				log.Fatal(err)
			}
			reached[p.Addr.String()] = true
		}
		return reached
	}

	// Until every server is connected a key's endpoint may change: RPCs
	// without a key go to any endpoint, so wait until they reached all three.
	for deadline := time.Now().Add(10 * time.Second); len(served(context.Background(), 30)) < 3; {
		if time.Now().After(deadline) {
			log.Fatal("not every server connected")
		}
	}
	for _, key := range []string{"user-42", "user-7"} {
		ctx := lbgrpc.WithHashKey(context.Background(), key)
		fmt.Println(key, "reached", len(served(ctx, 20)), "server")
	}
	// Output:
	// user-42 reached 1 server
	// user-7 reached 1 server
}

// A pool hook that subscribes to each pool's endpoint events: here it
// reports the first one, the server's endpoint joining the pool when its
// connection is READY. Its stop ends the subscription when the ClientConn
// closes.
func ExampleWithPoolHook() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) // returns when stopped
	defer srv.Stop()

	first := make(chan lb.Event, 1)
	b, err := lbgrpc.NewBuilder("p2c_watched", lb.P2C, lbgrpc.WithPoolHook(func(target string, pool *lb.Pool) func() {
		sub, err := pool.Subscribe(lb.SubscribeOptions{Interval: 10 * time.Millisecond})
		if err != nil {
			log.Print(err)
			return nil
		}
		batches := sub.C()
		go func() {
			for batch := range batches { // until stop closes the subscription
				for _, e := range batch.Events {
					select {
					case first <- e:
					default:
					}
				}
			}
		}()
		return sub.Close
	}))
	if err != nil {
		log.Fatal(err)
	}
	balancer.Register(b)

	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"p2c_watched": {}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		log.Fatal(err)
	}
	select {
	case e := <-first:
		fmt.Println(e.Kind, e.Addr == lis.Addr().String())
	case <-time.After(10 * time.Second):
		fmt.Println("no event")
	}
	// Output: added true
}

// A resolver backed by lb/discovery: here a fixed list, but any
// discovery.Resolver (DNS, a file, a registry's API) fits. Dial its scheme
// and name a nanolb balancer in the service config.
func ExampleNewResolverBuilder() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis) // returns when stopped
	defer srv.Stop()

	rb, err := lbgrpc.NewResolverBuilder("nanolb-static",
		discovery.Static{{Addr: lis.Addr().String()}}, discovery.Config{})
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient("nanolb-static:///users",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(rb),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"nanolb_p2c": {}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close() // closes the discovery Runner too

	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	// Output: SERVING
}
