package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/balancer"
	_ "google.golang.org/grpc/balancer/leastrequest" // registers least_request_experimental
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/connectivity"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/nanolb/nanolb/bench/harness"
)

// grpcLeastRequestName is leastrequest.Name; spelled out because the package
// is only imported for its registration.
const grpcLeastRequestName = "least_request_experimental"

// NewGRPCLeastRequest builds grpc-go's least_request_experimental balancer
// (choiceCount 2, i.e. P2C over in-flight counts) with every endpoint READY.
func NewGRPCLeastRequest(addrs []string) (harness.Cycler, error) {
	return newGRPC(grpcLeastRequestName, `{"choiceCount": 2}`, addrs)
}

// NewGRPCRoundRobin builds grpc-go's round_robin balancer with every
// endpoint READY.
func NewGRPCRoundRobin(addrs []string) (harness.Cycler, error) {
	return newGRPC(roundrobin.Name, `{}`, addrs)
}

// grpcPicker is the cycle over a captured grpc picker.
type grpcPicker struct {
	picker balancer.Picker
	info   balancer.PickInfo
}

// Cycle picks a SubConn and reports the RPC finished successfully.
func (g *grpcPicker) Cycle() string {
	res, err := g.picker.Pick(g.info)
	if err != nil {
		panic(fmt.Sprintf("peers: grpc pick failed: %v", err))
	}
	if res.Done != nil {
		res.Done(balancer.DoneInfo{})
	}
	return res.SubConn.(*fakeSubConn).addr
}

// newGRPC builds the registered balancer name over addrs on a fake
// ClientConn, walks every SubConn to READY the way grpc's ClientConn would,
// and returns the picker from the last state update.
func newGRPC(name, config string, addrs []string) (harness.Cycler, error) {
	builder := balancer.Get(name)
	if builder == nil {
		return nil, fmt.Errorf("peers: grpc balancer %q is not registered", name)
	}
	var cfg serviceconfig.LoadBalancingConfig
	if parser, ok := builder.(balancer.ConfigParser); ok {
		var err error
		if cfg, err = parser.ParseConfig(json.RawMessage(config)); err != nil {
			return nil, fmt.Errorf("peers: %s config: %w", name, err)
		}
	}
	cc := &fakeClientConn{}
	bal := builder.Build(cc, balancer.BuildOptions{})
	endpoints := make([]resolver.Endpoint, len(addrs))
	for i, a := range addrs {
		endpoints[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}}
	}
	if err := bal.UpdateClientConnState(balancer.ClientConnState{
		ResolverState:  resolver.State{Endpoints: endpoints},
		BalancerConfig: cfg,
	}); err != nil {
		return nil, fmt.Errorf("peers: %s: UpdateClientConnState: %w", name, err)
	}
	subConns := cc.created()
	if len(subConns) != len(addrs) {
		return nil, fmt.Errorf("peers: %s created %d SubConns for %d endpoints", name, len(subConns), len(addrs))
	}
	if !allConnectRequested(subConns) {
		bal.ExitIdle()
	}
	// Connectivity first: pick_first registers its health listener while
	// handling READY, so health can only be reported once that call returned.
	for _, sc := range subConns {
		if !sc.connectRequested() {
			return nil, fmt.Errorf("peers: %s never asked SubConn %s to connect", name, sc.addr)
		}
		sc.stateListener(balancer.SubConnState{ConnectivityState: connectivity.Connecting})
		sc.stateListener(balancer.SubConnState{ConnectivityState: connectivity.Ready})
	}
	for _, sc := range subConns {
		health := sc.registeredHealthListener()
		if health == nil {
			return nil, fmt.Errorf("peers: %s registered no health listener on %s", name, sc.addr)
		}
		health(balancer.SubConnState{ConnectivityState: connectivity.Ready})
	}
	state := cc.lastState()
	if state.ConnectivityState != connectivity.Ready || state.Picker == nil {
		return nil, fmt.Errorf("peers: %s ended in state %v, want READY", name, state.ConnectivityState)
	}
	return &grpcPicker{
		picker: state.Picker,
		info:   balancer.PickInfo{FullMethodName: "/nanolb.bench.Peers/Cycle", Ctx: context.Background()},
	}, nil
}

func allConnectRequested(scs []*fakeSubConn) bool {
	for _, sc := range scs {
		if !sc.connectRequested() {
			return false
		}
	}
	return true
}

// fakeClientConn is the part of grpc's ClientConn a balancer talks to. It
// creates fake SubConns and records the balancer's state updates. The
// embedded interface is nil: it only satisfies grpc's embedding guard, and
// a call to a method not overridden here would panic.
type fakeClientConn struct {
	balancer.ClientConn

	mu       sync.Mutex
	subConns []*fakeSubConn
	state    balancer.State
}

func (cc *fakeClientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	if len(addrs) != 1 {
		return nil, errors.New("peers: fake ClientConn wants one address per SubConn")
	}
	if opts.StateListener == nil {
		return nil, errors.New("peers: fake ClientConn wants a StateListener")
	}
	sc := &fakeSubConn{addr: addrs[0].Addr, stateListener: opts.StateListener}
	cc.mu.Lock()
	cc.subConns = append(cc.subConns, sc)
	cc.mu.Unlock()
	return sc, nil
}

func (cc *fakeClientConn) RemoveSubConn(sc balancer.SubConn) { sc.Shutdown() }

func (cc *fakeClientConn) UpdateAddresses(balancer.SubConn, []resolver.Address) {}

func (cc *fakeClientConn) UpdateState(s balancer.State) {
	cc.mu.Lock()
	cc.state = s
	cc.mu.Unlock()
}

func (cc *fakeClientConn) ResolveNow(resolver.ResolveNowOptions) {}

func (cc *fakeClientConn) Target() string { return "passthrough:///nanolb-bench" }

func (cc *fakeClientConn) MetricsRecorder() estats.MetricsRecorder { return noopMetrics{} }

func (cc *fakeClientConn) created() []*fakeSubConn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return append([]*fakeSubConn(nil), cc.subConns...)
}

func (cc *fakeClientConn) lastState() balancer.State {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.state
}

// fakeSubConn never connects anywhere; the test harness reports its state.
type fakeSubConn struct {
	balancer.SubConn // nil; satisfies grpc's embedding guard

	addr          string
	stateListener func(balancer.SubConnState)

	mu             sync.Mutex
	connect        bool
	healthListener func(balancer.SubConnState)
}

func (sc *fakeSubConn) UpdateAddresses([]resolver.Address) {}

func (sc *fakeSubConn) Connect() {
	sc.mu.Lock()
	sc.connect = true
	sc.mu.Unlock()
}

func (sc *fakeSubConn) GetOrBuildProducer(balancer.ProducerBuilder) (balancer.Producer, func()) {
	return nil, func() {}
}

func (sc *fakeSubConn) Shutdown() {}

func (sc *fakeSubConn) RegisterHealthListener(f func(balancer.SubConnState)) {
	sc.mu.Lock()
	sc.healthListener = f
	sc.mu.Unlock()
}

func (sc *fakeSubConn) connectRequested() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.connect
}

func (sc *fakeSubConn) registeredHealthListener() func(balancer.SubConnState) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.healthListener
}

// noopMetrics drops every metric a balancer records.
type noopMetrics struct {
	estats.MetricsRecorder // nil; satisfies grpc's embedding guard
}

func (noopMetrics) RecordInt64Count(*estats.Int64CountHandle, int64, ...string)             {}
func (noopMetrics) RecordFloat64Count(*estats.Float64CountHandle, float64, ...string)       {}
func (noopMetrics) RecordInt64Histo(*estats.Int64HistoHandle, int64, ...string)             {}
func (noopMetrics) RecordFloat64Histo(*estats.Float64HistoHandle, float64, ...string)       {}
func (noopMetrics) RecordInt64Gauge(*estats.Int64GaugeHandle, int64, ...string)             {}
func (noopMetrics) RecordInt64UpDownCount(*estats.Int64UpDownCountHandle, int64, ...string) {}
func (noopMetrics) RegisterAsyncReporter(estats.AsyncMetricReporter, ...estats.AsyncMetric) func() {
	return func() {}
}
