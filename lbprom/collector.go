package lbprom

import (
	"fmt"
	"slices"
	"sync"

	"github.com/nanolb/nanolb/lb"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector for the pools of an lb.Registry or
// for one lb.Pool. Register it with a prometheus.Registerer; Close it when
// done to end its event subscription. Its methods are safe for concurrent
// use.
type Collector struct {
	lookup func(name string) *lb.Pool // the pool named name now, or nil
	reg    *lb.Registry               // a registry collector's registry; nil for a pool
	rename string                     // a pool collector's name, for every event; "" for a registry
	sub    *lb.Subscription
	done   chan struct{} // closed when the consuming goroutine ends
	once   sync.Once

	mu    sync.Mutex
	named map[string]bool // pools reported from the moment they exist (WithPools)
	seen  map[string]bool // pools that sent an event
	// evaluated holds, under each pool's name, the pool once a scrape has
	// found it evaluated by outlier detection: its outlier series are
	// reported from then on. A pool made again under the name starts over.
	evaluated map[string]*lb.Pool
	counts    map[string]map[string]*endpointCounts
	dropped   uint64
}

// endpointCounts are one endpoint's event counters.
type endpointCounts struct {
	ejections, refused, probes, probeFailures, probeTimeouts, reinstatements uint64

	outliers [len(outlierReasons)]uint64 // outlier ejections made, by outlierReasons' index
}

// outlierReasons are the reasons nanolb_endpoint_outlier_ejections_total
// counts, each a value of its reason label. Consecutive failures are not
// among them: nanolb_endpoint_ejections_total counts those, with the
// ejections after a failed probe, whose Event.Reason is
// lb.ConsecutiveFailures whatever ejected the endpoint first.
var outlierReasons = [...]lb.EjectReason{lb.SuccessRate, lb.FailurePercentage}

// NewCollector returns a collector for every pool of reg, including pools
// created later (see the package doc for when each pool appears). It
// subscribes to reg's events at once; Close ends the subscription. A nil reg
// or a bad option is an error wrapping ErrOption.
func NewCollector(reg *lb.Registry, opts ...Option) (*Collector, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil registry", ErrOption)
	}
	s, err := apply(opts)
	if err != nil {
		return nil, err
	}
	c := newCollector(func(name string) *lb.Pool {
		p, _ := reg.Get(name)
		return p
	}, "", s.pools)
	c.reg = reg
	sub, err := reg.Subscribe(s.sub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	c.start(sub)
	return c, nil
}

// NewPoolCollector returns a collector for one pool, reported with the
// label pool="name" (a pool outside a registry has no name of its own). A
// nil pool, an empty name, WithPools or another bad option is an error
// wrapping ErrOption.
func NewPoolCollector(name string, pool *lb.Pool, opts ...Option) (*Collector, error) {
	switch {
	case pool == nil:
		return nil, fmt.Errorf("%w: nil pool", ErrOption)
	case name == "":
		return nil, fmt.Errorf("%w: empty pool name", ErrOption)
	}
	s, err := apply(opts)
	if err != nil {
		return nil, err
	}
	if len(s.pools) > 0 {
		return nil, fmt.Errorf("%w: WithPools applies to NewCollector, not NewPoolCollector", ErrOption)
	}
	c := newCollector(func(n string) *lb.Pool {
		if n == name {
			return pool
		}
		return nil
	}, name, []string{name})
	sub, err := pool.Subscribe(s.sub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	c.start(sub)
	return c, nil
}

func apply(opts []Option) (settings, error) {
	var s settings
	for _, o := range opts {
		if o == nil {
			return s, fmt.Errorf("%w: nil Option", ErrOption)
		}
		if err := o(&s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func newCollector(lookup func(string) *lb.Pool, rename string, named []string) *Collector {
	c := &Collector{
		lookup:    lookup,
		rename:    rename,
		done:      make(chan struct{}),
		named:     make(map[string]bool),
		seen:      make(map[string]bool),
		evaluated: make(map[string]*lb.Pool),
		counts:    make(map[string]map[string]*endpointCounts),
	}
	for _, n := range named {
		c.named[n] = true
	}
	return c
}

// start consumes sub in the collector's goroutine. The channel is taken
// here, before the goroutine runs, so a Close right after the constructor
// cannot race with it.
func (c *Collector) start(sub *lb.Subscription) {
	c.sub = sub
	ch := sub.C()
	go func() {
		defer close(c.done)
		for b := range ch {
			c.record(b)
		}
	}()
}

// Close ends the collector's subscription and waits for its goroutine to
// end. The event counters stop there; a scrape after Close still reads the
// gauges. Close is idempotent.
func (c *Collector) Close() {
	c.once.Do(func() {
		c.sub.Close()
		<-c.done
	})
}

// record counts one batch.
func (c *Collector) record(b lb.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropped += uint64(b.Dropped)
	for _, e := range b.Events {
		pool := e.Pool
		if c.rename != "" {
			pool = c.rename
		}
		c.seen[pool] = true
		if e.Addr == "" {
			continue // a pool event (saturated, drained): Stats counts those
		}
		eps := c.counts[pool]
		switch e.Kind {
		case lb.EventRemoved:
			delete(eps, e.Addr)
			continue
		case lb.EventAdded: // the pool starts an added address fresh
			if eps != nil {
				delete(eps, e.Addr)
			}
			continue
		}
		if eps == nil {
			eps = make(map[string]*endpointCounts)
			c.counts[pool] = eps
		}
		n := eps[e.Addr]
		if n == nil {
			n = new(endpointCounts)
			eps[e.Addr] = n
		}
		switch e.Kind {
		case lb.EventEjected:
			if e.Refused {
				n.refused++
				break
			}
			n.ejections++
			if i := slices.Index(outlierReasons[:], e.Reason); i >= 0 {
				n.outliers[i]++
			}
		case lb.EventProbeLeased:
			n.probes++
		case lb.EventProbeFailed:
			n.probeFailures++
		case lb.EventProbeTimedOut:
			n.probeTimeouts++
		case lb.EventReinstated:
			n.reinstatements++
		}
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads each known pool's Endpoints and Stats and sends them with
// the event counters.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	names := make([]string, 0, len(c.named)+len(c.seen))
	listed := map[string]bool{}
	for n := range c.named {
		names, listed[n] = append(names, n), true
	}
	for n := range c.seen {
		if !listed[n] {
			names, listed[n] = append(names, n), true
		}
	}
	dropped := c.dropped
	c.mu.Unlock()
	if c.reg != nil { // every pool the registry holds now, events or not
		for n := range c.reg.All() {
			if !listed[n] {
				names, listed[n] = append(names, n), true
			}
		}
	}

	for _, name := range names {
		if p := c.lookup(name); p != nil {
			c.collectPool(ch, name, p)
			continue
		}
		c.mu.Lock()
		if c.lookup(name) == nil { // deleted (or not created yet): its series go
			delete(c.counts, name)
			delete(c.seen, name)
			delete(c.evaluated, name)
		}
		c.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(dropped))
}

var states = [...]lb.State{lb.Up, lb.Ejected, lb.Probing}

func (c *Collector) collectPool(ch chan<- prometheus.Metric, name string, p *lb.Pool) {
	eps := p.Endpoints()
	st := p.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descPoolInfo, 1, name, p.Policy().String())
	gauge(descPoolEndpoints, float64(len(eps)), name)
	gauge(descPoolWaiting, float64(st.Waiting), name)
	counter(descPoolGrants, st.Grants, name)
	counter(descPoolTimeouts, st.Timeouts, name)
	counter(descPoolQueueFull, st.QueueFull, name)
	counter(descPoolShed, st.Shed, name)
	counter(descPoolSaturations, st.Saturations, name)
	if s := p.SubsetStatus(); s.Size != 0 {
		gauge(descSubsetEndpoints, float64(s.Given), name, "given")
		gauge(descSubsetEndpoints, float64(s.Members), name, "members")
		gauge(descSubsetEndpoints, float64(s.Extra), name, "extra")
	}
	if z := p.ZoneStatus(); z.Local != "" {
		routing := 0.0
		if z.Active {
			routing = 1
		}
		gauge(descZoneRouting, routing, name, z.Local)
		for zone, share := range z.Shares {
			gauge(descZoneShare, share, name, zone)
		}
	}

	// Outlier detection has evaluated the pool once an endpoint has
	// requests in an evaluated interval: an evaluation runs at a failure,
	// which is a request of its interval, and never with Outlier.Off.
	evaluated := slices.ContainsFunc(eps, func(e lb.EndpointStatus) bool { return e.Requests > 0 })
	c.mu.Lock()
	if evaluated {
		c.evaluated[name] = p
	}
	evaluated = c.evaluated[name] == p
	counts := make(map[string]endpointCounts, len(c.counts[name]))
	for addr, n := range c.counts[name] {
		counts[addr] = *n
	}
	c.mu.Unlock()

	for _, e := range eps {
		gauge(descInFlight, float64(e.InFlight), name, e.Addr)
		for _, s := range states {
			v := 0.0
			if e.State == s {
				v = 1
			}
			gauge(descState, v, name, e.Addr, s.String())
		}
		gauge(descStreak, float64(e.Streak), name, e.Addr)
		gauge(descConsecutiveEjections, float64(e.Ejections), name, e.Addr)
		gauge(descWeight, float64(e.Weight), name, e.Addr)
		if e.Limit != 0 { // 0 is no limit, not a limit of zero
			gauge(descLimit, float64(e.Limit), name, e.Addr)
		}
		if e.LoadWeight != 0 { // 0 is no load weight in force, not a weight of zero
			gauge(descLoadWeight, e.LoadWeight, name, e.Addr)
		}
		if evaluated {
			gauge(descSuccessRate, e.SuccessRate, name, e.Addr)
			gauge(descIntervalRequests, float64(e.Requests), name, e.Addr)
		}
		if _, ok := counts[e.Addr]; !ok {
			counts[e.Addr] = endpointCounts{} // a counter starts at 0, so rate() sees its first increase
		}
	}
	// Counters of endpoints Endpoints lists, and of those removed whose
	// EventRemoved has not arrived yet.
	for addr, n := range counts {
		counter(descEjections, n.ejections, name, addr)
		counter(descRefused, n.refused, name, addr)
		counter(descProbes, n.probes, name, addr)
		counter(descProbeFailures, n.probeFailures, name, addr)
		counter(descProbeTimeouts, n.probeTimeouts, name, addr)
		counter(descReinstatements, n.reinstatements, name, addr)
		if evaluated || n.outliers != [len(outlierReasons)]uint64{} {
			for i, r := range outlierReasons {
				counter(descOutlierEjections, n.outliers[i], name, addr, r.String())
			}
		}
	}
}
