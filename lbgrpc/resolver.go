package lbgrpc

import (
	"fmt"
	"sync"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"google.golang.org/grpc/resolver"
)

// NewResolverBuilder returns a resolver.Builder for scheme whose every
// ClientConn runs a discovery Runner over res on schedule cfg (see Resolver
// in the package documentation); pass it to grpc.WithResolvers and name a
// balancer in the service config. res must be safe for concurrent use if
// several ClientConns share it. A scheme that is not a lower-case URI scheme
// is an error wrapping lb.ErrName; a nil res or bad cfg, discovery.ErrConfig.
func NewResolverBuilder(scheme string, res discovery.Resolver, cfg discovery.Config) (resolver.Builder, error) {
	if !validScheme(scheme) {
		return nil, fmt.Errorf("%w: resolver scheme %q is not a lower-case URI scheme", lb.ErrName, scheme)
	}
	if res == nil {
		return nil, fmt.Errorf("%w: nil resolver", discovery.ErrConfig)
	}
	// Validate cfg now rather than at the first dial: Start checks it, and
	// a target that ignores every set keeps the trial Runner harmless.
	r, err := discovery.Start(discardTarget{}, discovery.Static{}, cfg)
	if err != nil {
		return nil, err
	}
	r.Close()
	return &resolverBuilder{scheme: scheme, res: res, cfg: cfg}, nil
}

// validScheme reports whether s is a non-empty lower-case URI scheme
// (RFC 3986 section 3.1; url.Parse lower-cases a target's scheme).
func validScheme(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// discardTarget is a discovery.Target that ignores every set.
type discardTarget struct{}

func (discardTarget) Set(...lb.Endpoint) error { return nil }

type resolverBuilder struct {
	scheme string
	res    discovery.Resolver
	cfg    discovery.Config
}

func (b *resolverBuilder) Scheme() string { return b.scheme }

func (b *resolverBuilder) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	t := &ccTarget{cc: cc}
	runner, err := discovery.Start(t, b.res, b.cfg)
	if err != nil { // NewResolverBuilder checked cfg
		return nil, err
	}
	r := &discoveryResolver{runner: runner, done: make(chan struct{})}
	go r.report(t, runner.Events())
	return r, nil
}

// discoveryResolver is one ClientConn's resolver: a Runner, and the
// goroutine that reports its failures until the first set is applied.
type discoveryResolver struct {
	runner *discovery.Runner
	done   chan struct{} // closed when report returns
}

func (r *discoveryResolver) ResolveNow(resolver.ResolveNowOptions) { r.runner.ResolveNow() }

// Close closes the Runner, which closes Events and so ends report, and
// waits for report to return.
func (r *discoveryResolver) Close() {
	r.runner.Close()
	<-r.done
}

// report passes each failed resolve to ReportError while t has applied no
// set, and drains events until Close closes the channel.
func (r *discoveryResolver) report(t *ccTarget, events <-chan discovery.Event) {
	defer close(r.done)
	for e := range events {
		if e.Kind == discovery.EventResolveFailed && !t.applied() {
			t.cc.ReportError(e.Err)
		}
	}
}

// ccTarget is the discovery.Target that hands each endpoint set to gRPC.
type ccTarget struct {
	cc resolver.ClientConn

	mu   sync.Mutex
	done bool // a set was applied
}

// Set reports endpoints to the ClientConn as one resolver.State, each
// with its weight (WithWeight) and zone (WithZone). An empty or repeated
// address, a weight outside 0..lb.MaxWeight or a zone over lb.MaxZoneLen
// is an error wrapping lb.ErrAddress and reports nothing, so the Runner
// keeps the last set; so is an error from UpdateState (the balancer
// rejected the state).
func (t *ccTarget) Set(endpoints ...lb.Endpoint) error {
	state := resolver.State{Endpoints: make([]resolver.Endpoint, 0, len(endpoints))}
	seen := make(map[string]bool, len(endpoints))
	for _, e := range endpoints {
		if e.Addr == "" || seen[e.Addr] {
			return fmt.Errorf("%w: empty or repeated address %q", lb.ErrAddress, e.Addr)
		}
		seen[e.Addr] = true
		ep, err := WithWeight(resolver.Endpoint{Addresses: []resolver.Address{{Addr: e.Addr}}}, e.Weight)
		if err != nil {
			return err
		}
		if e.Zone != "" {
			if ep, err = WithZone(ep, e.Zone); err != nil {
				return err
			}
		}
		state.Endpoints = append(state.Endpoints, ep)
	}
	if err := t.cc.UpdateState(state); err != nil {
		return err
	}
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
	return nil
}

func (t *ccTarget) applied() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}
