package lbgrpc

import (
	"sync"
	"time"

	v3orcapb "github.com/cncf/xds/go/xds/data/orca/v3"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/orca" // also parses each RPC's ORCA trailer into balancer.DoneInfo.ServerLoad
	"google.golang.org/grpc/resolver"
)

// loadOf maps an ORCA load report (gRFC A51) to lb.Load: the fields
// lb.LoadWeights reads, by name. The deprecated integer rps, request costs
// and named metrics are not used.
func loadOf(r *v3orcapb.OrcaLoadReport) lb.Load {
	return lb.Load{
		CPUUtilization:         r.GetCpuUtilization(),
		MemUtilization:         r.GetMemUtilization(),
		ApplicationUtilization: r.GetApplicationUtilization(),
		RPS:                    r.GetRpsFractional(),
		EPS:                    r.GetEps(),
	}
}

// reportCallLoad hands the ORCA report an RPC's trailer carried, if any, to
// its lease; hook (tests only, nil otherwise) sees the mapped load.
func reportCallLoad(lease lb.Lease, info balancer.DoneInfo, hook func(addr string, load lb.Load)) {
	r, ok := info.ServerLoad.(*v3orcapb.OrcaLoadReport)
	if !ok || r == nil {
		return
	}
	load := loadOf(r)
	lease.ReportLoad(load)
	if hook != nil {
		hook(lease.Endpoint(), load)
	}
}

// oobReports runs one ORCA out-of-band listener (orca.RegisterOOBListener)
// per endpoint while loadWeights.enableOobLoadReport is on: on the first of
// its SubConns to be READY, which is the one its pick_first child uses,
// until that SubConn leaves READY. Its calls come from the balancer's own
// and from SubConn state listeners, which gRPC serialises; mu spares it
// relying on that. Listeners start and stop under mu: they report without
// it.
type oobReports struct {
	b *nanoBalancer

	mu     sync.Mutex
	period time.Duration               // asked of each endpoint; 0: off
	closed bool                        // the balancer is closed: start nothing
	keys   map[string]string           // address -> its endpoint's pool address
	conns  map[balancer.SubConn]string // every SubConn -> its endpoint's pool address
	used   map[string]*oobEndpoint     // pool address -> its listener
}

// oobEndpoint is an endpoint's READY SubConn and the stop of the listener
// on it, nil while there is none.
type oobEndpoint struct {
	sc   balancer.SubConn
	stop func()
}

// setEndpoints maps each of endpoints' addresses to its pool address, for
// the SubConns pick_first makes next.
func (o *oobReports) setEndpoints(endpoints []resolver.Endpoint) {
	keys := make(map[string]string)
	for _, e := range endpoints {
		key := endpointKey(e)
		for _, a := range e.Addresses {
			keys[a.Addr] = key
		}
	}
	o.mu.Lock()
	o.keys = keys
	o.mu.Unlock()
}

// setPeriod starts, restarts or stops every endpoint's listener for a new
// report period, 0 for none.
func (o *oobReports) setPeriod(period time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if period == o.period || o.closed {
		return
	}
	o.period = period
	for key, e := range o.used {
		if e.stop != nil {
			e.stop()
			e.stop = nil
		}
		o.listen(key, e)
	}
}

// newSubConn records which endpoint sc, made for addr, belongs to.
func (o *oobReports) newSubConn(sc balancer.SubConn, addr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key, ok := o.keys[addr]
	if !ok {
		key = addr
	}
	if o.conns == nil {
		o.conns = make(map[balancer.SubConn]string)
		o.used = make(map[string]*oobEndpoint)
	}
	o.conns[sc] = key
}

// subConnState follows sc's connectivity: the first READY SubConn of an
// endpoint gets its listener, until it leaves READY.
func (o *oobReports) subConnState(sc balancer.SubConn, state connectivity.State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key, ok := o.conns[sc]
	if !ok {
		return
	}
	if state == connectivity.Shutdown {
		delete(o.conns, sc)
	}
	e := o.used[key]
	switch {
	case state == connectivity.Ready && e == nil:
		e = &oobEndpoint{sc: sc}
		o.used[key] = e
		o.listen(key, e)
	case state != connectivity.Ready && e != nil && e.sc == sc:
		if e.stop != nil {
			e.stop()
		}
		delete(o.used, key)
	}
}

// listen starts e's listener if reports are on.
func (o *oobReports) listen(key string, e *oobEndpoint) {
	if o.period > 0 && !o.closed {
		l := &oobListener{b: o.b, key: key}
		e.stop = orca.RegisterOOBListener(e.sc, l, orca.OOBListenerOptions{ReportInterval: o.period})
	}
}

// close stops every listener, for good.
func (o *oobReports) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for key, e := range o.used {
		if e.stop != nil {
			e.stop()
		}
		delete(o.used, key)
	}
}

// oobListener takes one endpoint's out-of-band reports to the balancer's
// current pool. It runs on the ORCA stream's goroutine, and takes no lock
// of the balancer's.
type oobListener struct {
	b   *nanoBalancer
	key string // the endpoint's pool address
}

func (l *oobListener) OnLoadReport(r *v3orcapb.OrcaLoadReport) {
	load := loadOf(r)
	if p := l.b.current.Load(); p != nil {
		_ = p.ReportLoad(l.key, load) // fails only for an endpoint that just left the pool
	}
	if h := l.b.builder.testHookLoad; h != nil {
		h(l.key, load)
	}
}
