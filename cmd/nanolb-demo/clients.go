package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bufbuild/httplb"
	"github.com/bufbuild/httplb/health"
	"github.com/bufbuild/httplb/picker"
	"github.com/bufbuild/httplb/resolver"
	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
)

// errClient is wrapped by every error about an unknown client name.
var errClient = errors.New("nanolb-demo: unknown client")

// clientSpec names one contender: nanolb with one policy, httplb, or the
// naive random client.
type clientSpec struct {
	Kind     string // "nanolb", "httplb" or "naive"
	Policy   lb.Policy
	Limit    int  // nanolb only: lb.Config.MaxConcurrency; 0: none
	Adaptive bool // nanolb only: lb.Config.AdaptiveConcurrency
	Wait     bool // nanolb only: lbhttp.Transport.Wait, queue at the limit
	// SlowStart is nanolb only: lb.Config.SlowStart; zero is off.
	SlowStart lb.SlowStart
	// HedgeAfter and HedgeExtraLoad are nanolb only: the fields of
	// lbhttp.Transport of the same names; both zero is no hedging.
	HedgeAfter     time.Duration
	HedgeExtraLoad float64
	// LoadWeights is nanolb weighted_round_robin only: weigh the backends
	// by the load they report, with demoLoadWeights.
	LoadWeights bool
}

// Label is how tables and the report name the client.
func (s clientSpec) Label() string {
	if s.Kind != "nanolb" {
		return s.Kind
	}
	l := "nanolb " + s.Policy.String()
	if s.Limit > 0 || s.Adaptive {
		if s.Adaptive {
			l += " adaptive"
		} else {
			l += fmt.Sprintf(" limit %d", s.Limit)
		}
		if s.Wait {
			l += " wait"
		} else {
			l += " fail-fast"
		}
	}
	if s.LoadWeights {
		l += " load weights"
	}
	if ss := s.SlowStart; ss.Window != 0 {
		l += " slow start " + slowStartString(ss)
	}
	switch {
	case s.HedgeExtraLoad != 0:
		l += fmt.Sprintf(" hedge p%.4g (%v first)", 100-100*s.HedgeExtraLoad, s.HedgeAfter)
	case s.HedgeAfter != 0:
		l += fmt.Sprintf(" hedge %v", s.HedgeAfter)
	}
	return l
}

// slowStartString writes ss as the -slow-start flag takes it: the window,
// the least share in percent and the aggression, defaults filled in.
func slowStartString(ss lb.SlowStart) string {
	minPct, aggr := ss.MinWeightPercent, ss.Aggression
	if minPct == 0 {
		minPct = 10
	}
	if aggr == 0 {
		aggr = 1
	}
	return fmt.Sprintf("%v,%d%%,%g", ss.Window, minPct, aggr)
}

// parseSlowStart reads the -slow-start flag: WINDOW[,MIN%[,AGGRESSION]],
// such as "20s,1%" or "30s,5,1"; lb.New checks the limits.
func parseSlowStart(v string) (lb.SlowStart, error) {
	var ss lb.SlowStart
	parts := strings.Split(v, ",")
	if len(parts) > 3 {
		return ss, fmt.Errorf("%w: -slow-start %q: want WINDOW[,MIN%%[,AGGRESSION]]", errFlag, v)
	}
	var err error
	if ss.Window, err = time.ParseDuration(parts[0]); err != nil || ss.Window <= 0 {
		return ss, fmt.Errorf("%w: -slow-start %q: window %q is not a positive duration", errFlag, v, parts[0])
	}
	if len(parts) > 1 {
		if ss.MinWeightPercent, err = strconv.Atoi(strings.TrimSuffix(parts[1], "%")); err != nil || ss.MinWeightPercent < 1 || ss.MinWeightPercent > 100 {
			return ss, fmt.Errorf("%w: -slow-start %q: the least share %q is not a percentage from 1 to 100", errFlag, v, parts[1])
		}
	}
	if len(parts) > 2 {
		if ss.Aggression, err = strconv.ParseFloat(parts[2], 64); err != nil || !(ss.Aggression >= 0.1 && ss.Aggression <= 10) {
			return ss, fmt.Errorf("%w: -slow-start %q: aggression %q is not from 0.1 to 10", errFlag, v, parts[2])
		}
	}
	return ss, nil
}

// parseClients turns the -clients flag ("all", or names separated by commas:
// a policy name such as p2c, or httplb, or naive) into specs.
func parseClients(list []string) ([]clientSpec, error) {
	byName := map[string]clientSpec{
		"httplb": {Kind: "httplb"},
		"naive":  {Kind: "naive"},
		// The overload scenario's limited setups, also usable elsewhere.
		"p2c-limit":         {Kind: "nanolb", Policy: lb.P2C, Limit: overloadLimit},
		"p2c-wait":          {Kind: "nanolb", Policy: lb.P2C, Limit: overloadLimit, Wait: true},
		"p2c-adaptive":      {Kind: "nanolb", Policy: lb.P2C, Adaptive: true},
		"p2c-adaptive-wait": {Kind: "nanolb", Policy: lb.P2C, Adaptive: true, Wait: true},
		// The cold scenario's ramped setups.
		"p2c-slowstart":          {Kind: "nanolb", Policy: lb.P2C, SlowStart: coldSlowStart},
		"least_loaded-slowstart": {Kind: "nanolb", Policy: lb.LeastLoaded, SlowStart: coldSlowStart},
		// The tail scenario's hedging setups.
		"p2c-hedge":     {Kind: "nanolb", Policy: lb.P2C, HedgeAfter: tailHedgeAfter},
		"p2c-hedge-pct": {Kind: "nanolb", Policy: lb.P2C, HedgeAfter: tailHedgeAfter, HedgeExtraLoad: tailHedgeExtraLoad},
		// The capacity scenario's weighing by reported load.
		"weighted_round_robin-load": {Kind: "nanolb", Policy: lb.WeightedRoundRobin, LoadWeights: true},
	}
	var all []clientSpec
	for _, p := range lb.Policies() {
		s := clientSpec{Kind: "nanolb", Policy: p}
		byName[p.String()] = s
		byName["nanolb-"+p.String()] = s
		if p != lb.Shard { // strict key routing: the demo's traffic has no keys; -clients shard still runs it
			all = append(all, s)
		}
	}
	all = append(all, byName["httplb"], byName["naive"])
	names := []string{"all"}
	for _, s := range all {
		names = append(names, strings.TrimPrefix(s.Label(), "nanolb "))
	}
	names = append(names, "p2c-limit", "p2c-wait", "p2c-adaptive", "p2c-adaptive-wait", "p2c-slowstart", "least_loaded-slowstart", "p2c-hedge", "p2c-hedge-pct", "weighted_round_robin-load")
	var out []clientSpec
	for _, name := range list {
		if name == "all" {
			out = append(out, all...)
			continue
		}
		s, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%w %q (have %s)", errClient, name, strings.Join(names, ", "))
		}
		out = append(out, s)
	}
	return out, nil
}

// demoConfig is the pool configuration of every nanolb client in the demo:
// lb's defaults except shorter cooldowns, so that a phase of a few seconds
// shows several probe cycles, and room to eject half the backends.
func demoConfig(p lb.Policy) lb.Config {
	return lb.Config{
		Policy:            p,
		EjectFor:          250 * time.Millisecond,
		MaxEjectFor:       2 * time.Second,
		MaxEjectedPercent: 50,
	}
}

// coldSlowStart is the slow start of the cold scenario's ramped nanolb
// clients (-slow-start changes it): with aggression 0.5 the factor
// (t / 20 s)² stays at its 1% floor for the first 2 s, as long as the
// scenario's backend is slow, and reaches the full share at 20 s.
var coldSlowStart = lb.SlowStart{Window: 20 * time.Second, MinWeightPercent: 1, Aggression: 0.5}

// coldClients are the setups the cold scenario compares by default: P2C
// and least loaded without and with slow start, httplb and naive.
func coldClients() []clientSpec {
	return []clientSpec{
		{Kind: "nanolb", Policy: lb.P2C},
		{Kind: "nanolb", Policy: lb.P2C, SlowStart: coldSlowStart},
		{Kind: "nanolb", Policy: lb.LeastLoaded},
		{Kind: "nanolb", Policy: lb.LeastLoaded, SlowStart: coldSlowStart},
		{Kind: "httplb"},
		{Kind: "naive"},
	}
}

// liveClient is a client ready to send one phase's load.
type liveClient struct {
	spec  clientSpec
	http  *http.Client
	url   func() string           // the URL of the next request
	pool  *lb.Pool                // nanolb only: polled for the timeline
	tr    *lbhttp.Transport       // nanolb only: its hedge counts
	add   func(addr string) error // a backend joins: the client learns its address
	close func()
}

// baseTransport is the plain transport under every client, so that they
// differ only in how they balance.
func baseTransport(concurrency int) *http.Transport {
	d := &net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// requestTimeout bounds each request a caller sends, retries included.
const requestTimeout = 2 * time.Second

// newClient builds the client of spec over addrs, configured as scenario
// sc asks (attempts, pool defaults).
func newClient(spec clientSpec, sc scenario, addrs []string, concurrency int) (*liveClient, error) {
	base := baseTransport(concurrency)
	switch spec.Kind {
	case "nanolb":
		cfg := demoConfig(spec.Policy)
		if sc.LBDefaults {
			cfg = lb.Config{Policy: spec.Policy}
		}
		cfg.MaxConcurrency, cfg.AdaptiveConcurrency, cfg.SlowStart = spec.Limit, spec.Adaptive, spec.SlowStart
		if spec.LoadWeights {
			cfg.LoadWeights = demoLoadWeights
		}
		pool, err := lb.New(cfg, addrs...)
		if err != nil {
			return nil, fmt.Errorf("nanolb-demo: %w", err)
		}
		tr := &lbhttp.Transport{Pool: pool, Base: base, Wait: spec.Wait, MaxAttempts: sc.Attempts,
			HedgeAfter: spec.HedgeAfter, HedgeExtraLoad: spec.HedgeExtraLoad}
		if spec.Policy == lb.ConsistentHash {
			// Route by a key, as a cache client would: each request
			// carries one of 1,000 keys.
			tr.Pick = func(req *http.Request, tried []string) (lb.Lease, error) {
				if len(tried) > 0 {
					return pool.PickExcept(tried...)
				}
				return pool.PickKey(req.URL.Query().Get("key"))
			}
		}
		return &liveClient{
			spec: spec,
			http: &http.Client{Transport: tr, Timeout: requestTimeout},
			url: func() string {
				return fmt.Sprintf("http://backends/work?key=k%d", rand.IntN(1000))
			},
			pool: pool,
			tr:   tr,
			add:  func(addr string) error { return pool.Add(addr) },
			close: func() {
				pool.Close() // stops an adaptive limit's evaluations
				base.CloseIdleConnections()
			},
		}, nil
	case "httplb":
		res := &listResolver{addrs: addrs}
		hc := httplb.NewClient(
			httplb.WithResolver(res),
			httplb.WithPicker(picker.NewPowerOfTwo),
			httplb.WithHealthChecks(health.NewPollingChecker(health.PollingCheckerConfig{
				PollingInterval: 100 * time.Millisecond,
				Timeout:         100 * time.Millisecond,
			}, health.NewSimpleProber("/health"))),
			httplb.WithRequestTimeout(requestTimeout),
			httplb.WithDialer(base.DialContext),
		)
		return &liveClient{
			spec:  spec,
			http:  hc.Client,
			url:   func() string { return "http://backends/work" },
			add:   res.add,
			close: func() { _ = hc.Close() },
		}, nil
	case "naive":
		var list atomic.Pointer[[]string]
		list.Store(&addrs)
		return &liveClient{
			spec: spec,
			http: &http.Client{Transport: base, Timeout: requestTimeout},
			url: func() string {
				as := *list.Load()
				return "http://" + as[rand.IntN(len(as))] + "/work"
			},
			add: func(addr string) error {
				as := append(slices.Clone(*list.Load()), addr)
				list.Store(&as)
				return nil
			},
			close: base.CloseIdleConnections,
		}, nil
	}
	return nil, fmt.Errorf("%w %q", errClient, spec.Kind)
}

// do sends one request and reads its response; an error is what the caller
// sees: a transport error or a status other than 200.
func (c *liveClient) do(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// listResolver hands httplb a list of addresses for any target name, and
// the whole list again to every open resolution when add lengthens it.
type listResolver struct {
	mu    sync.Mutex
	addrs []string
	rcvs  map[*listResolution]resolver.Receiver
}

// listResolution is one open resolution of a listResolver.
type listResolution struct{ r *listResolver }

// New reports the addresses now, and again whenever one is added until
// the resolution is closed.
func (r *listResolver) New(_ context.Context, _, _ string, rcv resolver.Receiver, _ <-chan struct{}) io.Closer {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &listResolution{r: r}
	if r.rcvs == nil {
		r.rcvs = map[*listResolution]resolver.Receiver{}
	}
	r.rcvs[res] = rcv
	rcv.OnResolve(r.resolved())
	return res
}

// add appends addr to the list and reports the list to every open
// resolution.
func (r *listResolver) add(addr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = append(slices.Clone(r.addrs), addr)
	for _, rcv := range r.rcvs {
		rcv.OnResolve(r.resolved())
	}
	return nil
}

// resolved is the list as httplb takes it, under mu.
func (r *listResolver) resolved() []resolver.Address {
	out := make([]resolver.Address, len(r.addrs))
	for i, a := range r.addrs {
		out[i] = resolver.Address{HostPort: a}
	}
	return out
}

// Close ends the resolution: no report after it returns.
func (c *listResolution) Close() error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	delete(c.r.rcvs, c)
	return nil
}
