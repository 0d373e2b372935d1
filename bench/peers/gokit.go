package peers

import (
	"context"
	"errors"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"

	"github.com/nanolb/nanolb/bench/harness"
)

// NewGokitRoundRobin builds go-kit's sd/lb round robin over one stub
// endpoint per address. go-kit has no completion callback, so the cycle
// is Endpoint() then one call of the picked stub, which returns its address.
func NewGokitRoundRobin(addrs []string) (harness.Cycler, error) {
	if len(addrs) == 0 {
		return nil, errors.New("peers: go-kit balancer needs addresses")
	}
	endpoints := make(sd.FixedEndpointer, len(addrs))
	for i, a := range addrs {
		var boxed any = a // boxed once here so the stub never allocates
		endpoints[i] = func(context.Context, any) (any, error) { return boxed, nil }
	}
	return &gokitBalancer{bal: lb.NewRoundRobin(endpoints), ctx: context.Background()}, nil
}

type gokitBalancer struct {
	bal lb.Balancer
	ctx context.Context
}

// Cycle picks an endpoint and calls it.
func (g *gokitBalancer) Cycle() string {
	e, err := g.bal.Endpoint()
	if err != nil {
		panic("peers: go-kit pick failed: " + err.Error())
	}
	resp, _ := e(g.ctx, nil)
	return resp.(string)
}
