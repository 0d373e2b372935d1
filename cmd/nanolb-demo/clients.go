package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
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
	return l
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
	names = append(names, "p2c-limit", "p2c-wait", "p2c-adaptive", "p2c-adaptive-wait")
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

// liveClient is a client ready to send one phase's load.
type liveClient struct {
	spec  clientSpec
	http  *http.Client
	url   func() string // the URL of the next request
	pool  *lb.Pool      // nanolb only: polled for the timeline
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
		cfg.MaxConcurrency, cfg.AdaptiveConcurrency = spec.Limit, spec.Adaptive
		pool, err := lb.New(cfg, addrs...)
		if err != nil {
			return nil, fmt.Errorf("nanolb-demo: %w", err)
		}
		tr := &lbhttp.Transport{Pool: pool, Base: base, Wait: spec.Wait, MaxAttempts: sc.Attempts}
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
			close: func() {
				pool.Close() // stops an adaptive limit's evaluations
				base.CloseIdleConnections()
			},
		}, nil
	case "httplb":
		hc := httplb.NewClient(
			httplb.WithResolver(staticResolver(addrs)),
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
			close: func() { _ = hc.Close() },
		}, nil
	case "naive":
		return &liveClient{
			spec: spec,
			http: &http.Client{Transport: base, Timeout: requestTimeout},
			url: func() string {
				return "http://" + addrs[rand.IntN(len(addrs))] + "/work"
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

// staticResolver hands httplb a fixed set of addresses for any target name.
type staticResolver []string

// New reports the addresses once; there is nothing to watch.
func (r staticResolver) New(_ context.Context, _, _ string, rcv resolver.Receiver, _ <-chan struct{}) io.Closer {
	out := make([]resolver.Address, len(r))
	for i, a := range r {
		out[i] = resolver.Address{HostPort: a}
	}
	rcv.OnResolve(out)
	return io.NopCloser(nil)
}
