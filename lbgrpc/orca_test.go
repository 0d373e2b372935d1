package lbgrpc

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	v3orcapb "github.com/cncf/xds/go/xds/data/orca/v3"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/orca"
	"google.golang.org/grpc/resolver"
)

func TestLoadOfMapsEveryReportedField(t *testing.T) {
	r := &v3orcapb.OrcaLoadReport{CpuUtilization: 0.5, MemUtilization: 0.25, ApplicationUtilization: 0.75,
		RpsFractional: 120.5, Eps: 3.5, Rps: 999, NamedMetrics: map[string]float64{"x": 1}}
	want := lb.Load{CPUUtilization: 0.5, MemUtilization: 0.25, ApplicationUtilization: 0.75, RPS: 120.5, EPS: 3.5}
	if got := loadOf(r); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := loadOf(nil); got != (lb.Load{}) {
		t.Fatalf("nil report: %+v", got)
	}
}

// loadLog records the loads a balancer's testHookLoad sees, the last one
// by pool address.
type loadLog struct {
	mu   sync.Mutex
	last map[string]lb.Load
	n    int
}

func (l *loadLog) record(addr string, load lb.Load) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = make(map[string]lb.Load)
	}
	l.last[addr] = load
	l.n++
}

// get returns the last load seen for addr.
func (l *loadLog) get(addr string) (lb.Load, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	load, ok := l.last[addr]
	return load, ok
}

// count returns how many loads were seen.
func (l *loadLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// withLoadLog is an Option that sets the builder's testHookLoad to log.
func withLoadLog(log *loadLog) Option {
	return func(b *builder) { b.testHookLoad = log.record }
}

// startLoadServers starts a server per entry of call and oob, which must
// be as long, that reports its entry of call with every RPC
// (orca.CallMetricsServerOption, each RPC's values set through
// orca.CallMetricsRecorderFromContext), and its entry of oob out of band
// (orca.Register) unless oob is nil. A zero entry reports nothing that
// way. streams counts each server's out-of-band report streams open. The
// servers stop when the test ends.
func startLoadServers(t testing.TB, call, oob []lb.Load) (servers []*server, streams []*atomic.Int64) {
	t.Helper()
	servers = make([]*server, len(call))
	streams = make([]*atomic.Int64, len(call))
	for i := range servers {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var o lb.Load
		if oob != nil {
			o = oob[i]
		}
		streams[i] = new(atomic.Int64)
		servers[i] = serveLoad(t, lis, call[i], o, streams[i])
	}
	return servers, streams
}

// serveLoad serves on lis as startLoadServers does, a server that reports
// call with each RPC and oob out of band, open counting its report
// streams; it stops when the test ends.
func serveLoad(t testing.TB, lis net.Listener, call, oob lb.Load, open *atomic.Int64) *server {
	t.Helper()
	opts := []grpc.ServerOption{orca.CallMetricsServerOption(nil),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			open.Add(1)
			defer open.Add(-1)
			return h(srv, ss)
		})}
	if call != (lb.Load{}) {
		opts = append(opts, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			setLoad(orca.CallMetricsRecorderFromContext(ctx), call)
			return h(ctx, req)
		}))
	}
	s := &server{addr: lis.Addr().String(), srv: grpc.NewServer(opts...), release: make(chan struct{})}
	healthpb.RegisterHealthServer(s.srv, s)
	if oob != (lb.Load{}) {
		rec := orca.NewServerMetricsRecorder()
		setLoad(rec, oob)
		if err := orca.Register(s.srv, orca.ServiceOptions{ServerMetricsProvider: rec.(orca.ServerMetricsProvider)}); err != nil {
			t.Fatal(err)
		}
	}
	go s.srv.Serve(lis) // returns when stopped
	t.Cleanup(s.stop)
	return s
}

// restartWith serves again at a stopped server's address, reporting oob
// out of band, with a new server that stops when the test ends.
func (s *server) restartWith(t testing.TB, oob lb.Load) *server {
	t.Helper()
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	return serveLoad(t, lis, lb.Load{}, oob, new(atomic.Int64))
}

// setLoad records load's fields in rec.
func setLoad(rec orca.ServerMetricsRecorder, load lb.Load) {
	rec.SetCPUUtilization(load.CPUUtilization)
	rec.SetMemoryUtilization(load.MemUtilization)
	rec.SetApplicationUtilization(load.ApplicationUtilization)
	rec.SetQPS(load.RPS)
	rec.SetEPS(load.EPS)
}

// testLoads returns n distinct loads.
func testLoads(n int, scale float64) []lb.Load {
	loads := make([]lb.Load, n)
	for i := range loads {
		f := float64(i+1) * scale
		loads[i] = lb.Load{CPUUtilization: 0.1 * f, MemUtilization: 0.01 * f,
			ApplicationUtilization: 0.2 * f, RPS: 100 * f, EPS: f}
	}
	return loads
}

const loadWeightsOn = `{"loadWeights": {"enabled": true}}`

func TestPerCallLoadReportsReachLB(t *testing.T) {
	noGoroutinesLeft(t)
	loads := testLoads(3, 1)
	servers, _ := startLoadServers(t, loads, nil)
	log := new(loadLog)
	name, w := registerTest(lb.WeightedRoundRobin, withLoadLog(log))
	cc, _ := dial(t, name, loadWeightsOn, w, endpoints(servers)...)
	waitReady(t, w, len(servers))
	for range 30 {
		if _, err := check(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range servers {
		got, ok := log.get(s.addr)
		if !ok {
			t.Fatalf("no load report from %s after 30 RPCs", s.addr)
		}
		if got != loads[i] {
			t.Errorf("%s: reported %+v, lb got %+v", s.addr, loads[i], got)
		}
	}
}

func TestPerCallLoadReportsAreIgnoredWithoutLoadWeights(t *testing.T) {
	for _, tt := range []struct {
		policy lb.Policy
		config string
	}{
		{lb.WeightedRoundRobin, ""},
		{lb.P2C, ""},
	} {
		t.Run(fmt.Sprintf("%s with %q", tt.policy, tt.config), func(t *testing.T) {
			noGoroutinesLeft(t)
			servers, _ := startLoadServers(t, testLoads(2, 1), nil)
			log := new(loadLog)
			var withReport atomic.Int64
			name, w := registerTest(tt.policy, withLoadLog(log), WithClassifier(func(info balancer.DoneInfo) error {
				if info.ServerLoad != nil {
					withReport.Add(1)
				}
				return Classify(info)
			}))
			cc, _ := dial(t, name, tt.config, w, endpoints(servers)...)
			waitReady(t, w, len(servers))
			for range 20 {
				if _, err := check(context.Background(), cc); err != nil {
					t.Fatal(err)
				}
			}
			if withReport.Load() != 20 {
				t.Fatalf("%d of 20 RPCs came with a load report", withReport.Load())
			}
			if n := log.count(); n != 0 {
				t.Fatalf("%d reports reached lb", n)
			}
		})
	}
}

func TestPickAndDoneWithLoadReportsAllocateNothing(t *testing.T) {
	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin, LoadWeights: lb.LoadWeights{Enabled: true}}, "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	children := map[string]balancer.Picker{"a": readyChild{}, "b": readyChild{}, "c": readyChild{}}
	p := newTestPicker(t, lb.WeightedRoundRobin, pool, children).withLoadReports(true, nil)
	report := &v3orcapb.OrcaLoadReport{CpuUtilization: 0.5, RpsFractional: 100, Eps: 1}
	for _, info := range []balancer.DoneInfo{{BytesSent: true}, {BytesSent: true, ServerLoad: report}} {
		t.Run(fmt.Sprintf("report %v", info.ServerLoad != nil), func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
				if err != nil {
					t.Fatal(err)
				}
				res.Done(info)
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per Pick and Done", allocs)
			}
		})
	}
}

// sum adds counters up.
func sum(counters []*atomic.Int64) int64 {
	var n int64
	for _, c := range counters {
		n += c.Load()
	}
	return n
}

// waitLoads waits until log has seen want[i] for each server i.
func waitLoads(t *testing.T, log *loadLog, servers []*server, want []lb.Load) {
	t.Helper()
	for i, s := range servers {
		eventually(t, "the report of "+s.addr, func() bool {
			got, ok := log.get(s.addr)
			return ok && got == want[i]
		})
	}
}

const oobOn = `{"loadWeights": {"enabled": true, "enableOobLoadReport": true, "oobReportingPeriod": "1s"}}`

func TestOutOfBandLoadReportsReachLBInsteadOfPerCallOnes(t *testing.T) {
	noGoroutinesLeft(t)
	call, oob := testLoads(3, 1), testLoads(3, 2)
	servers, streams := startLoadServers(t, call, oob)
	log := new(loadLog)
	name, w := registerTest(lb.WeightedRoundRobin, withLoadLog(log))
	cc, _ := dial(t, name, oobOn, w, endpoints(servers)...)
	waitReady(t, w, len(servers))
	// The orca service sends its first report when the stream opens.
	waitLoads(t, log, servers, oob)
	if n := sum(streams); n != int64(len(servers)) {
		t.Fatalf("%d report streams open to %d servers", n, len(servers))
	}
	for range 20 {
		if _, err := check(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range servers {
		if got, _ := log.get(s.addr); got != oob[i] {
			t.Fatalf("%s: after RPCs whose trailers said %+v, lb has %+v, want the out-of-band %+v", s.addr, call[i], got, oob[i])
		}
	}
	cc.Close()
	eventually(t, "every report stream closed", func() bool { return sum(streams) == 0 })
}

func TestOutOfBandLoadReportsFollowTheServiceConfig(t *testing.T) {
	noGoroutinesLeft(t)
	oob := testLoads(2, 1)
	servers, streams := startLoadServers(t, make([]lb.Load, 2), oob)
	log := new(loadLog)
	name, w := registerTest(lb.WeightedRoundRobin, withLoadLog(log))
	_, r := dial(t, name, loadWeightsOn, w, endpoints(servers)...)
	pool := waitReady(t, w, len(servers))
	if n := sum(streams); n != 0 {
		t.Fatalf("%d report streams open without enableOobLoadReport", n)
	}
	update := func(config string) {
		sc := r.CC().ParseServiceConfig(`{"loadBalancingConfig": [{"` + name + `": ` + config + `}]}`)
		if sc.Err != nil {
			t.Fatal(sc.Err)
		}
		r.UpdateState(resolver.State{Endpoints: endpoints(servers), ServiceConfig: sc})
	}
	update(oobOn)
	waitLoads(t, log, servers, oob)
	if n := sum(streams); n != int64(len(servers)) {
		t.Fatalf("%d report streams open to %d servers", n, len(servers))
	}
	update(loadWeightsOn)
	eventually(t, "every report stream closed", func() bool { return sum(streams) == 0 })
	if p := w.last(); p != pool {
		t.Fatalf("turning out-of-band reports on and off made a new pool")
	}
}

func TestOutOfBandListenerFollowsTheEndpointsConnection(t *testing.T) {
	noGoroutinesLeft(t)
	oob := testLoads(2, 1)
	servers, streams := startLoadServers(t, make([]lb.Load, 2), oob)
	log := new(loadLog)
	name, w := registerTest(lb.WeightedRoundRobin, withLoadLog(log))
	dial(t, name, oobOn, w, endpoints(servers)...)
	waitReady(t, w, 2)
	waitLoads(t, log, servers, oob)
	servers[0].stop()
	waitReady(t, w, 1)
	if n := streams[1].Load(); n != 1 {
		t.Fatalf("%d report streams open to the server still up", n)
	}
	// Back at the same address, reporting another load: its new
	// connection gets a listener of its own.
	back := servers[0].restartWith(t, oob[1])
	waitReady(t, w, 2)
	waitLoads(t, log, []*server{back}, oob[1:])
}

// Reports, per call or out of band, become the pool's weights: each
// endpoint's weight in force is A58's of what its server reported.
func TestLoadReportsBecomeThePoolsWeights(t *testing.T) {
	const fast = `"blackoutPeriod": "1ms", "weightUpdatePeriod": "100ms"`
	for _, tt := range []struct {
		name, config string
		oob          bool
	}{
		{"per call", `{"loadWeights": {"enabled": true, ` + fast + `}}`, false},
		{"out of band", `{"loadWeights": {"enabled": true, "enableOobLoadReport": true, "oobReportingPeriod": "1s", ` + fast + `}}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noGoroutinesLeft(t)
			loads := testLoads(3, 1)
			var servers []*server
			if tt.oob {
				servers, _ = startLoadServers(t, make([]lb.Load, 3), loads)
			} else {
				servers, _ = startLoadServers(t, loads, nil)
			}
			name, w := registerTest(lb.WeightedRoundRobin)
			cc, _ := dial(t, name, tt.config, w, endpoints(servers)...)
			pool := waitReady(t, w, len(servers))
			want := map[string]float64{}
			for i, s := range servers {
				l := loads[i]
				want[s.addr] = l.RPS / (l.ApplicationUtilization + l.EPS/l.RPS)
			}
			eventually(t, "every endpoint weighed by its report", func() bool {
				if !tt.oob {
					if _, err := check(context.Background(), cc); err != nil {
						t.Fatal(err)
					}
				}
				for _, e := range pool.Endpoints() {
					if math.Abs(e.LoadWeight-want[e.Addr]) > 1e-9*want[e.Addr] {
						return false
					}
				}
				return true
			})
		})
	}
}
