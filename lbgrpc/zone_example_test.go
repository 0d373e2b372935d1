package lbgrpc_test

import (
	"fmt"
	"log"

	"github.com/nanolb/nanolb/lbgrpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// A resolver of one's own sets each endpoint's zone with WithZone; a
// nanolb balancer's pool takes it as the endpoint's lb.Endpoint.Zone, for
// zone-aware routing (lb.Config.Zones). NewResolverBuilder does the same
// for the zones a discovery Resolver returns.
func ExampleWithZone() {
	var eps []resolver.Endpoint
	for _, e := range []struct{ addr, zone string }{
		{"10.0.0.1:50051", "us-east-1a"},
		{"10.0.1.1:50051", "us-east-1b"},
	} {
		ep, err := lbgrpc.WithZone(resolver.Endpoint{Addresses: []resolver.Address{{Addr: e.addr}}}, e.zone)
		if err != nil {
			log.Fatal(err)
		}
		eps = append(eps, ep)
	}
	r := manual.NewBuilderWithScheme("zoned")
	r.InitialState(resolver.State{Endpoints: eps})
	// Dial "zoned:///users" with grpc.WithResolvers(r) and a nanolb
	// balancer in the service config, as in ExampleNewResolverBuilder.

	for _, ep := range eps {
		fmt.Println(ep.Addresses[0].Addr, lbgrpc.Zone(ep))
	}
	// Output:
	// 10.0.0.1:50051 us-east-1a
	// 10.0.1.1:50051 us-east-1b
}
