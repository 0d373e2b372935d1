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
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Client 3 of a fleet, given six servers, connects to two of them: the
// subset the service config's rule chooses for its index. In a
// StatefulSet, WithLocalityFromEnv reads the index from the pod's name.
func ExampleWithClientIndex() {
	eps, stop := exampleServers(6)
	defer stop()
	pools := make(chan *lb.Pool, 1)
	b, err := lbgrpc.NewBuilder("rr_client_3", lb.RoundRobin, lbgrpc.WithClientIndex(3), examplePoolHook(pools))
	if err != nil {
		log.Fatal(err)
	}
	balancer.Register(b)
	reached := exampleRPCs(eps, "rr_client_3", `{"subset": {"size": 2, "rule": "ring"}}`, pools, 2, 20)
	fmt.Printf("%d servers; RPCs reached %d of them\n", len(eps), len(reached))
	// Output: 6 servers; RPCs reached 2 of them
}

// A client in zone a, with two servers in each of zones a and b, keeps
// its RPCs in zone a: the zone has its share of the servers.
func ExampleWithLocalZone() {
	eps, stop := exampleServers(4)
	defer stop()
	zoneOf := make(map[string]string)
	for i := range eps {
		z := []string{"a", "b"}[i%2]
		zoneOf[eps[i].Addresses[0].Addr] = z
		var err error
		if eps[i], err = lbgrpc.WithZone(eps[i], z); err != nil {
			log.Fatal(err)
		}
	}
	pools := make(chan *lb.Pool, 1)
	b, err := lbgrpc.NewBuilder("rr_zone_a", lb.RoundRobin, lbgrpc.WithLocalZone("a"), examplePoolHook(pools))
	if err != nil {
		log.Fatal(err)
	}
	balancer.Register(b)
	perZone := make(map[string]int)
	for addr, n := range exampleRPCs(eps, "rr_zone_a", `{"zones": {"minEndpoints": 2}}`, pools, 4, 20) {
		perZone[zoneOf[addr]] += n
	}
	fmt.Printf("zone a: %d RPCs, zone b: %d\n", perZone["a"], perZone["b"])
	// Output: zone a: 20 RPCs, zone b: 0
}

// exampleServers starts n health servers on 127.0.0.1.
func exampleServers(n int) (eps []resolver.Endpoint, stop func()) {
	var srvs []*grpc.Server
	for range n {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, health.NewServer())
		go srv.Serve(lis) // returns when stopped
		srvs = append(srvs, srv)
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: lis.Addr().String()}}})
	}
	return eps, func() {
		for _, s := range srvs {
			s.Stop()
		}
	}
}

// examplePoolHook sends the first pool a balancer makes to pools.
func examplePoolHook(pools chan<- *lb.Pool) lbgrpc.Option {
	return lbgrpc.WithPoolHook(func(_ string, p *lb.Pool) func() {
		select {
		case pools <- p:
		default:
		}
		return nil
	})
}

// exampleRPCs dials eps through the balancer named name with config,
// waits until the pool it makes (sent to pools) has members READY
// endpoints, sends n Checks and counts them by the server that answered.
func exampleRPCs(eps []resolver.Endpoint, name, config string, pools <-chan *lb.Pool, members, n int) map[string]int {
	r := manual.NewBuilderWithScheme("example")
	r.InitialState(resolver.State{Endpoints: eps})
	cc, err := grpc.NewClient("example:///servers", grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(fmt.Sprintf(`{"loadBalancingConfig": [{%q: %s}]}`, name, config)))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	pool := <-pools
	for pool.Len() < members {
		time.Sleep(time.Millisecond)
	}
	client := healthpb.NewHealthClient(cc)
	counts := make(map[string]int)
	for range n {
		var p peer.Peer
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
			log.Fatal(err)
		}
		counts[p.Addr.String()]++
	}
	return counts
}
