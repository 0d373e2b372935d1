package lbgrpc

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// waitFor bounds every wait for an asynchronous state change (a connection
// becoming READY, a lease ending after a cancel): the tests poll for the
// state and fail if it has not come by then, so no sleep is an assertion.
const waitFor = 10 * time.Second

// server is a real gRPC server on 127.0.0.1 serving grpc.health.v1.Health
// by hand: Check answers SERVING, or the status set with fail; Watch sends
// one SERVING response, then holds the stream until the client leaves or
// release is closed.
type server struct {
	healthpb.UnimplementedHealthServer
	addr    string
	srv     *grpc.Server
	checks  atomic.Int64 // Check calls served
	streams atomic.Int64 // Watch calls open
	fail    atomic.Int32 // codes.Code to answer Check with; 0 is OK
	delay   atomic.Int64 // ns each Check waits before answering
	release chan struct{}
	// stall, when set, is a count of Checks to stall that servers may
	// share: a Check that takes one waits until its RPC is cancelled, or
	// for stallFor, before it answers. With stall set, every Check sends
	// the server's address as header and trailer "server-addr".
	stall     *atomic.Int64
	stallFor  time.Duration
	stalled   atomic.Int64 // Checks that stalled
	cancelled atomic.Int64 // stalled Checks whose RPC was cancelled
	accepts   atomic.Int64 // connections accepted (startServers' servers)
	stopped   sync.Once
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (s *server) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.checks.Add(1)
	if s.stall != nil {
		md := metadata.Pairs("server-addr", s.addr)
		grpc.SetHeader(ctx, md)
		grpc.SetTrailer(ctx, md)
	}
	if s.stall != nil && s.stall.Add(-1) >= 0 {
		s.stalled.Add(1)
		t := time.NewTimer(s.stallFor)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			s.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c := codes.Code(s.fail.Load()); c != codes.OK {
		return nil, status.Error(c, "test server told to fail")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *server) Watch(_ *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	s.streams.Add(1)
	defer s.streams.Add(-1)
	if err := stream.SendHeader(metadata.Pairs("server-addr", s.addr)); err != nil {
		return err
	}
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	select {
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-s.release:
		return nil
	}
}

// stop stops the server at once, closing its connections.
func (s *server) stop() { s.stopped.Do(s.srv.Stop) }

// restart serves again at a stopped server's address, with a new server
// that stops when the test ends.
func (s *server) restart(t testing.TB) *server {
	t.Helper()
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	n := &server{addr: s.addr, srv: grpc.NewServer(), release: make(chan struct{})}
	healthpb.RegisterHealthServer(n.srv, n)
	go n.srv.Serve(lis) // returns when stopped
	t.Cleanup(n.stop)
	return n
}

// startServers starts n servers and stops them when the test ends.
func startServers(t testing.TB, n int) []*server {
	t.Helper()
	servers := make([]*server, n)
	for i := range servers {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &server{addr: lis.Addr().String(), srv: grpc.NewServer(), release: make(chan struct{})}
		healthpb.RegisterHealthServer(s.srv, s)
		go s.srv.Serve(countingListener{lis, &s.accepts}) // returns when stopped
		t.Cleanup(s.stop)
		servers[i] = s
	}
	return servers
}

// byAddr indexes servers by address.
func byAddr(servers []*server) map[string]*server {
	m := make(map[string]*server, len(servers))
	for _, s := range servers {
		m[s.addr] = s
	}
	return m
}

// testBalancer registers a balancer for policy under a name of the test's
// own and returns the name and a function that returns the pool its
// balancer made (waiting for it).
var testBalancers atomic.Int64

type poolWatch struct {
	mu        sync.Mutex
	pools     []*lb.Pool
	published atomic.Int64 // children of the last picker published
}

func (w *poolWatch) add(p *lb.Pool) {
	w.mu.Lock()
	w.pools = append(w.pools, p)
	w.mu.Unlock()
}

// all returns every pool made so far.
func (w *poolWatch) all() []*lb.Pool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*lb.Pool(nil), w.pools...)
}

// last returns the newest pool, or nil.
func (w *poolWatch) last() *lb.Pool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pools) == 0 {
		return nil
	}
	return w.pools[len(w.pools)-1]
}

func registerTest(policy lb.Policy, opts ...Option) (string, *poolWatch) {
	name := fmt.Sprintf("nanolb_test_%d_%s", testBalancers.Add(1), policy)
	b, err := NewBuilder(name, policy, opts...)
	if err != nil {
		panic(err)
	}
	w := new(poolWatch)
	b.(*builder).testHookPool = w.add
	b.(*builder).testHookPicker = func(n int) { w.published.Store(int64(n)) }
	balancer.Register(b)
	return name, w
}

// dial connects to servers through balancer name with config (a JSON
// object, "" for none), with endpoints from a manual resolver, and closes
// the connection when the test ends. Before it closes, it checks that no
// lease is left on any pool the balancer made.
func dial(t testing.TB, name, config string, w *poolWatch, endpoints ...resolver.Endpoint) (*grpc.ClientConn, *manual.Resolver) {
	t.Helper()
	if config == "" {
		config = "{}"
	}
	r := manual.NewBuilderWithScheme("nanolbtest")
	r.InitialState(resolver.State{Endpoints: endpoints})
	return connect(t, r.Scheme()+":///test", r, name, config, w), r
}

// connect dials target through resolver builder rb and balancer name with
// config (a JSON object) with the dial options opts, and closes the
// connection when the test ends, after checking that no lease is left on
// any pool the balancer made (w nil checks nothing).
func connect(t testing.TB, target string, rb resolver.Builder, name, config string, w *poolWatch, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	sc := fmt.Sprintf(`{"loadBalancingConfig": [{%q: %s}]}`, name, config)
	cc, err := grpc.NewClient(target, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(rb),
		grpc.WithDefaultServiceConfig(sc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w != nil {
			noLeases(t, w)
		}
		cc.Close()
	})
	cc.Connect()
	return cc
}

// endpoints makes one resolver endpoint per server.
func endpoints(servers []*server) []resolver.Endpoint {
	eps := make([]resolver.Endpoint, len(servers))
	for i, s := range servers {
		eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: s.addr}}}
	}
	return eps
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, waitFor, what, cond)
}

// waitReady waits until the newest pool has n members, all READY
// children, and gRPC holds a picker over all n (the pool learns of a
// member just before the picker that can reach it is published).
func waitReady(t testing.TB, w *poolWatch, n int) *lb.Pool {
	t.Helper()
	var p *lb.Pool
	eventually(t, fmt.Sprintf("%d endpoints READY", n), func() bool {
		p = w.last()
		return p != nil && p.Len() == n && w.published.Load() == int64(n)
	})
	return p
}

// inFlight sums the pool's in-flight counts.
func inFlight(p *lb.Pool) int64 {
	var n int64
	for _, e := range p.Endpoints() {
		n += e.InFlight
	}
	return n
}

// noLeases checks that every pool's in-flight count drains to zero: every
// lease the balancer took was ended.
func noLeases(t testing.TB, w *poolWatch) {
	t.Helper()
	for _, p := range w.all() {
		eventually(t, "every lease ended", func() bool { return inFlight(p) == 0 })
	}
}

// check sends one Check and returns the address that served it.
func check(ctx context.Context, cc *grpc.ClientConn) (string, error) {
	var p peer.Peer
	_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if p.Addr == nil {
		return "", err
	}
	return p.Addr.String(), err
}

// noGoroutinesLeft fails the test if goroutines started during it are still
// running shortly after it ends. Register it first, so it runs last.
func noGoroutinesLeft(t testing.TB) {
	t.Helper()
	testkit.NoGoroutinesLeft(t, waitFor)
}

// startGatedServer starts a server whose listener accepts connections (the
// kernel completes the TCP handshake) but which serves nothing, not even
// HTTP/2's preface, until open is called: until then a client's connection
// to it stays CONNECTING. The server stops when the test ends.
func startGatedServer(t testing.TB) (s *server, open func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s = &server{addr: lis.Addr().String(), srv: grpc.NewServer(), release: make(chan struct{})}
	healthpb.RegisterHealthServer(s.srv, s)
	var once sync.Once
	t.Cleanup(func() {
		s.stop()
		lis.Close() // never served: Stop does not know it
	})
	return s, func() { once.Do(func() { go s.srv.Serve(lis) }) }
}

// shardOwners returns, for each key, the address lb's Shard policy gives it
// with every one of addrs in the pool: the routing a nanolb_shard balancer
// over those endpoints must keep.
func shardOwners(t testing.TB, addrs []string, keys []string) map[string]string {
	t.Helper()
	ref, err := lb.New(lb.Config{Policy: lb.Shard}, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	owners := make(map[string]string, len(keys))
	for _, k := range keys {
		l, err := ref.PickKey(k)
		if err != nil {
			t.Fatal(err)
		}
		owners[k] = l.Endpoint()
		l.Done(context.Canceled)
	}
	return owners
}

// testKeys returns n distinct hash keys.
func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	return keys
}
