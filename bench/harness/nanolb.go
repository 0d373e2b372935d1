package harness

import (
	"fmt"

	"github.com/nanolb/nanolb/lb"
)

// Names of the nanolb drivers in benchmark names; cmd/benchgate gates the
// first two.
const (
	NanolbP2C         = "nanolb-p2c"
	NanolbRoundRobin  = "nanolb-rr"
	NanolbRegistryP2C = "nanolb-registry-p2c"
)

// The other nanolb policies, each beside the peer policy it compares with:
// kratos's wrr and random, and kratos's p2c, which like PeakEWMA weighs
// latency averages by in-flight requests.
var nanolbOthers = []struct {
	name   string
	policy lb.Policy
}{
	{"nanolb-wrr", lb.WeightedRoundRobin},
	{"nanolb-random", lb.Random},
	{"nanolb-peak-ewma", lb.PeakEWMA},
}

// Nanolb returns the nanolb drivers: a Pool per policy, and P2C reached
// through a Registry lookup.
func Nanolb() []Impl {
	impls := []Impl{
		{Name: NanolbP2C, Build: func(addrs []string) (Cycler, error) { return NewNanolbPool(lb.P2C, addrs) }},
		{Name: NanolbRoundRobin, Build: func(addrs []string) (Cycler, error) { return NewNanolbPool(lb.RoundRobin, addrs) }},
		{Name: NanolbRegistryP2C, Build: NewNanolbRegistry},
	}
	for _, o := range nanolbOthers {
		impls = append(impls, Impl{Name: o.name, Build: func(addrs []string) (Cycler, error) { return NewNanolbPool(o.policy, addrs) }})
	}
	return impls
}

// nanolbPool is the cycle over an lb.Pool.
type nanolbPool struct{ pool *lb.Pool }

// NewNanolbPool builds an lb.Pool with the given policy over addrs.
func NewNanolbPool(policy lb.Policy, addrs []string) (Cycler, error) {
	pool, err := lb.New(lb.Config{Policy: policy}, addrs...)
	if err != nil {
		return nil, err
	}
	return &nanolbPool{pool: pool}, nil
}

// Cycle picks a lease and reports success on it.
func (n *nanolbPool) Cycle() string {
	lease, err := n.pool.Pick()
	if err != nil {
		panic(fmt.Sprintf("harness: nanolb pick failed: %v", err))
	}
	addr := lease.Endpoint()
	lease.Done(nil)
	return addr
}

// nanolbRegistry is the cycle through Registry.Get then Pick, which adds
// the lookup of a pool by service name.
type nanolbRegistry struct {
	reg     *lb.Registry
	service string
}

// NewNanolbRegistry builds a Registry holding one P2C pool over addrs.
func NewNanolbRegistry(addrs []string) (Cycler, error) {
	reg := lb.NewRegistry()
	if _, err := reg.Ensure("users", lb.Config{Policy: lb.P2C}, addrs...); err != nil {
		return nil, err
	}
	return &nanolbRegistry{reg: reg, service: "users"}, nil
}

// Cycle picks a lease from the named pool and reports success on it.
func (n *nanolbRegistry) Cycle() string {
	pool, ok := n.reg.Get(n.service)
	if !ok {
		panic("harness: nanolb registry has no pool " + n.service)
	}
	lease, err := pool.Pick()
	if err != nil {
		panic(fmt.Sprintf("harness: nanolb registry pick failed: %v", err))
	}
	addr := lease.Endpoint()
	lease.Done(nil)
	return addr
}
