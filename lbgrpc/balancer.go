package lbgrpc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// Prefix starts the name of every balancer the package registers.
const Prefix = "nanolb_"

var logger = grpclog.Component("nanolb")

// Name returns the name policy's balancer is registered under: Prefix and
// the policy's String, as "nanolb_p2c" or "nanolb_round_robin".
func Name(policy lb.Policy) string { return Prefix + policy.String() }

func init() {
	for _, p := range lb.Policies() {
		b := &builder{name: Name(p), policy: p, classify: Classify}
		_ = b.locate() // without options, only draws the client index
		balancer.Register(b)
	}
}

// Option adjusts a builder made by NewBuilder.
type Option func(*builder)

// WithClassifier makes the balancer end each lease with classify's verdict
// instead of Classify's. A nil classify means Classify.
func WithClassifier(classify Classifier) Option {
	return func(b *builder) {
		if classify != nil {
			b.classify = classify
		}
	}
}

// WithPoolHook has hook called with the ClientConn's dial target and each
// pool a balancer of the builder makes, so the caller can watch it
// (ExampleWithPoolHook subscribes to its events). The stop it returns (nil
// for none) runs once when that pool is retired. Both run from gRPC's
// serialised balancer calls, never from a pick, and should return soon; see
// Events in the package documentation. A nil hook adds none.
func WithPoolHook(hook func(target string, pool *lb.Pool) (stop func())) Option {
	return func(b *builder) {
		if hook != nil {
			b.poolHook = hook
		}
	}
}

// NewBuilder returns a balancer builder for policy named name, for settings
// a service config cannot carry, such as a Classifier. Register it with
// balancer.Register before dialling, and select it by name in the service
// config; gRPC compares balancer names case-insensitively. An empty name is
// an error wrapping lb.ErrName; an unknown policy one wrapping lb.ErrConfig.
func NewBuilder(name string, policy lb.Policy, opts ...Option) (balancer.Builder, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty balancer name", lb.ErrName)
	}
	if _, err := policy.MarshalText(); err != nil {
		return nil, err // wraps lb.ErrConfig
	}
	b := &builder{name: name, policy: policy, classify: Classify}
	for _, o := range opts {
		o(b)
	}
	if err := b.locate(); err != nil {
		return nil, err
	}
	return b, nil
}

// builder builds one policy's balancers and parses its service config.
type builder struct {
	name     string
	policy   lb.Policy
	classify Classifier
	poolHook func(target string, pool *lb.Pool) (stop func())

	// The builder's place in its fleet (locality.go), settled by locate:
	// the local zone ("" for none), the client index, and whether an
	// option or the environment gave each; the zones' client shares.
	zone      string
	client    uint64
	hasZone   bool
	hasClient bool
	fromEnv   bool
	shares    *lb.ClientShares

	testHookPool   func(*lb.Pool)      // tests: sees each pool the balancers make
	testHookPicker func(n int)         // tests: a picker over n children was published
	testHookSet    func([]lb.Endpoint) // tests: the members each pool.Set was given
	// testHookLoad, tests only: sees each ORCA report that reaches lb,
	// mapped, with its endpoint's pool address.
	testHookLoad func(addr string, load lb.Load)
}

func (b *builder) Name() string { return b.name }

func (b *builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	c, err := ParseConfig(b.policy, js)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	return c, nil
}

func (b *builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	nb := &nanoBalancer{ClientConn: cc, builder: b, target: opts.Target.String()}
	nb.oob.b = nb
	nb.child = endpointsharding.NewBalancer(nb, opts, balancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	return nb
}

// nanoBalancer keeps one pick_first child per endpoint of its subset, all
// of the resolver's without one (endpointsharding), and one lb.Pool whose
// members are the endpoints whose child is READY.
// It embeds the ClientConn to see the children's aggregated state in
// UpdateState before passing its own picker up.
type nanoBalancer struct {
	balancer.ClientConn
	builder *builder
	child   balancer.Balancer
	target  string // the ClientConn's, for the pool hook
	// stopHook is the pool hook's stop for the current pool, nil for none.
	// Only UpdateClientConnState and Close, which gRPC serialises, use it.
	stopHook func()
	// oob runs the out-of-band load report listeners; current is the
	// pool they report to, pool's value without b.mu.
	oob     oobReports
	current atomic.Pointer[lb.Pool]

	mu   sync.Mutex
	cfg  Config   // the config pool was made with
	pool *lb.Pool // nil until the first config
	// layout is nanolb_shard's: the pool's shard addresses (shard.go),
	// and shardIndex each one's shard. Nil for other policies.
	layout     []string
	shardIndex map[string]int
}

// UpdateClientConnState takes a new config and endpoint list, and gives
// the children the config's subset of the list. The pool lives as long as
// its lb.Config is unchanged, so endpoints keep their health across
// resolver updates; a changed one starts a new pool (leases on the old
// one end normally), while a changed "subset" changes only the children.
// For nanolb_shard, a changed set of endpoints starts a new pool too: it
// is the pool's shard layout.
func (b *nanoBalancer) UpdateClientConnState(ccs balancer.ClientConnState) error {
	cfg := new(Config)
	if ccs.BalancerConfig != nil {
		c, ok := ccs.BalancerConfig.(*Config)
		if !ok {
			logger.Errorf("%s: config of type %T", b.builder.name, ccs.BalancerConfig)
			return balancer.ErrBadResolverState
		}
		cfg = c
	}
	var layout []string
	if b.builder.policy == lb.Shard {
		layout = shardLayout(ccs.ResolverState.Endpoints)
	}
	b.mu.Lock()
	var made *lb.Pool
	if b.pool == nil || b.builder.poolConfig(&b.cfg) != b.builder.poolConfig(cfg) || !slices.Equal(b.layout, layout) {
		pool, err := b.newPool(cfg, layout)
		if err != nil {
			b.mu.Unlock()
			return fmt.Errorf("%s: %w", b.builder.name, err)
		}
		if b.pool != nil {
			b.pool.Close() // stops its adaptive limit, if any; leases on it end normally
		}
		b.pool, made = pool, pool
		b.current.Store(pool)
		b.layout, b.shardIndex = layout, nil
		if layout != nil {
			b.shardIndex = make(map[string]int, len(layout))
			for i, a := range layout {
				b.shardIndex[a] = i
			}
		}
		if h := b.builder.testHookPool; h != nil {
			h(pool)
		}
	}
	b.cfg = *cfg // as the pool's but for what lb.Config lacks: loadWeights' out-of-band fields
	b.mu.Unlock()
	if made != nil && b.builder.poolHook != nil { // outside the lock: user code
		b.stop()
		b.stopHook = b.builder.poolHook(b.target, made)
	}
	state := ccs.ResolverState
	state.Endpoints = subsetOf(state.Endpoints, cfg.Subset, b.builder.client, b.builder.zone != "")
	b.oob.setEndpoints(state.Endpoints)
	b.oob.setPeriod(cfg.LoadWeights.oobPeriod())
	return b.child.UpdateClientConnState(balancer.ClientConnState{
		ResolverState: pickfirst.EnableHealthListener(state),
	})
}

// newPool makes the pool for cfg and, for nanolb_shard, layout.
func (b *nanoBalancer) newPool(cfg *Config, layout []string) (*lb.Pool, error) {
	c := b.builder.poolConfig(cfg)
	if len(layout) > 0 {
		l, err := lb.NewShardLayout(layout...) // only more than lb.MaxShards fails
		if err != nil {
			return nil, err
		}
		c.Shards = l
	}
	return lb.New(c) // ParseConfig checked the config already
}

// UpdateState receives the children's aggregated state from
// endpointsharding, which holds its own lock meanwhile: it must not call
// into the children. It sets the pool's membership to the READY children
// and publishes a picker over them; with none READY it passes
// endpointsharding's picker on, which reports CONNECTING or
// TRANSIENT_FAILURE as the children do. A nanolb_shard picker also gets
// every shard's child state, to answer a key whose shard is not READY as
// that child would.
func (b *nanoBalancer) UpdateState(state balancer.State) {
	children := endpointsharding.ChildStatesFromPicker(state.Picker)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pool == nil {
		b.ClientConn.UpdateState(state)
		return
	}
	ready := make(map[string]balancer.Picker, len(children))
	members := make([]lb.Endpoint, 0, len(children))
	var shards []balancer.State
	if b.layout != nil {
		shards = make([]balancer.State, len(b.layout))
	}
	for _, c := range children {
		key := endpointKey(c.Endpoint)
		if i, ok := b.shardIndex[key]; ok {
			shards[i] = c.State
		}
		if c.State.ConnectivityState != connectivity.Ready {
			continue
		}
		if _, dup := ready[key]; dup || key == "" {
			continue
		}
		ready[key] = c.State.Picker
		members = append(members, lb.Endpoint{Addr: key, Weight: Weight(c.Endpoint), Zone: Zone(c.Endpoint)})
	}
	if err := b.pool.Set(members...); err != nil { // keys are unique and not empty
		logger.Errorf("%s: %v", b.builder.name, err)
	}
	if h := b.builder.testHookSet; h != nil {
		h(members)
	}
	if len(members) == 0 {
		b.ClientConn.UpdateState(state)
		return
	}
	b.ClientConn.UpdateState(balancer.State{
		ConnectivityState: connectivity.Ready,
		Picker: newPicker(b.pool, ready, b.builder).withShards(b.layout, shards).
			withLoadReports(b.cfg.LoadWeights.perCall(), b.builder.testHookLoad),
	})
	if h := b.builder.testHookPicker; h != nil {
		h(len(ready))
	}
}

func (b *nanoBalancer) ResolverError(err error) { b.child.ResolverError(err) }

func (b *nanoBalancer) ExitIdle() { b.child.ExitIdle() }

func (b *nanoBalancer) Close() {
	b.oob.close()
	b.child.Close()
	b.stop()
	b.mu.Lock()
	if b.pool != nil {
		b.pool.Close()
	}
	b.mu.Unlock()
}

// stop calls the pool hook's stop for the current pool, once.
func (b *nanoBalancer) stop() {
	if f := b.stopHook; f != nil {
		b.stopHook = nil
		f()
	}
}

// NewSubConn makes a SubConn for a pick_first child, and follows its
// state for the out-of-band load report listeners.
func (b *nanoBalancer) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	var sc balancer.SubConn
	listener := opts.StateListener
	opts.StateListener = func(s balancer.SubConnState) {
		listener(s) // first: an endpoint is in the pool before its reports come
		b.oob.subConnState(sc, s.ConnectivityState)
	}
	sc, err := b.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	if len(addrs) > 0 {
		b.oob.newSubConn(sc, addrs[0].Addr) // pick_first makes a SubConn per address
	}
	return sc, nil
}

func (b *nanoBalancer) UpdateSubConnState(sc balancer.SubConn, _ balancer.SubConnState) {
	logger.Errorf("%s: UpdateSubConnState(%v) called; the children own their SubConns", b.builder.name, sc)
}

// endpointKey is the pool address of an endpoint: its address, or its
// addresses sorted and joined by commas when it has several (gRPC
// identifies an endpoint by its set of addresses).
func endpointKey(e resolver.Endpoint) string {
	switch len(e.Addresses) {
	case 0:
		return ""
	case 1:
		return e.Addresses[0].Addr
	}
	addrs := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		addrs[i] = a.Addr
	}
	slices.Sort(addrs)
	return strings.Join(addrs, ",")
}

// weightKey keys an endpoint's weight in its attributes.
type weightKey struct{}

// WithWeight returns e carrying weight w, which nanolb_weighted_round_robin
// follows and the other policies ignore; a resolver sets it on the
// endpoints it reports. Zero means 1; a weight outside 0..lb.MaxWeight is an
// error wrapping lb.ErrAddress, and e is returned unchanged.
func WithWeight(e resolver.Endpoint, w int) (resolver.Endpoint, error) {
	if w < 0 || w > lb.MaxWeight {
		return e, fmt.Errorf("%w: weight %d is outside 0..%d", lb.ErrAddress, w, lb.MaxWeight)
	}
	e.Attributes = e.Attributes.WithValue(weightKey{}, w)
	return e, nil
}

// Weight returns the weight WithWeight set on e, or 1.
func Weight(e resolver.Endpoint) int {
	if w, ok := e.Attributes.Value(weightKey{}).(int); ok && w > 0 {
		return w
	}
	return 1
}

// zoneKey keys an endpoint's zone in its attributes.
type zoneKey struct{}

// WithZone returns e carrying zone, the endpoint's locality, which the
// balancer's pool takes as its lb.Endpoint.Zone (for lb.Config.Zones); a
// resolver sets it on the endpoints it reports. "" means no zone. A zone
// over lb.MaxZoneLen bytes is an error wrapping lb.ErrAddress, and e is
// returned unchanged.
func WithZone(e resolver.Endpoint, zone string) (resolver.Endpoint, error) {
	if len(zone) > lb.MaxZoneLen {
		return e, fmt.Errorf("%w: a zone of %d bytes, over %d", lb.ErrAddress, len(zone), lb.MaxZoneLen)
	}
	e.Attributes = e.Attributes.WithValue(zoneKey{}, zone)
	return e, nil
}

// Zone returns the zone WithZone set on e, or "".
func Zone(e resolver.Endpoint) string {
	z, _ := e.Attributes.Value(zoneKey{}).(string)
	return z
}
