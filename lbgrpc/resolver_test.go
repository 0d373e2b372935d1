package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

// answer is a discovery resolver whose answer the test changes: a
// mutex-guarded endpoint list, or an error, and a count of resolves.
type answer struct {
	mu       sync.Mutex
	eps      []lb.Endpoint
	err      error
	resolves atomic.Int64
}

func (a *answer) set(eps []lb.Endpoint, err error) {
	a.mu.Lock()
	a.eps, a.err = eps, err
	a.mu.Unlock()
}

func (a *answer) Resolve(context.Context) ([]lb.Endpoint, error) {
	a.resolves.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]lb.Endpoint(nil), a.eps...), a.err
}

// lbEndpoints makes one weight-1 lb.Endpoint per server.
func lbEndpoints(servers []*server) []lb.Endpoint {
	eps := make([]lb.Endpoint, len(servers))
	for i, s := range servers {
		eps[i] = lb.Endpoint{Addr: s.addr}
	}
	return eps
}

// builtResolvers wraps a resolver.Builder to keep what it builds, so a
// test can call ResolveNow as gRPC would.
type builtResolvers struct {
	resolver.Builder
	mu    sync.Mutex
	built []resolver.Resolver
}

func (b *builtResolvers) Build(t resolver.Target, cc resolver.ClientConn, o resolver.BuildOptions) (resolver.Resolver, error) {
	r, err := b.Builder.Build(t, cc, o)
	if err == nil {
		b.mu.Lock()
		b.built = append(b.built, r)
		b.mu.Unlock()
	}
	return r, err
}

func (b *builtResolvers) resolveNow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.built {
		r.ResolveNow(resolver.ResolveNowOptions{})
	}
}

var testSchemes atomic.Int64

// dialDiscovery dials "<scheme>:///svc" through a resolver built from res
// and cfg and balancer name, closing the ClientConn when the test ends
// after checking that every lease ended.
func dialDiscovery(t *testing.T, res discovery.Resolver, cfg discovery.Config, name string, w *poolWatch) (*grpc.ClientConn, *builtResolvers) {
	t.Helper()
	rb, err := NewResolverBuilder(fmt.Sprintf("nanolbdisc%d", testSchemes.Add(1)), res, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &builtResolvers{Builder: rb}
	return connect(t, rb.Scheme()+":///svc", b, name, "{}", w), b
}

// served sends n RPCs and counts them by the address that served them.
func served(t *testing.T, cc *grpc.ClientConn, n int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	got := make(map[string]int)
	for range n {
		addr, err := check(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		got[addr]++
	}
	return got
}

// Traffic follows the resolver's answer: first to the two servers it
// names, then, after the answer changes and gRPC asks for a resolve, to
// the other two only. The schedule is an hour, so only ResolveNow can
// have moved it; no goroutine is left once the ClientConn is closed.
func TestResolverFollowsAnswer(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	res := new(answer)
	res.set(lbEndpoints(servers[:2]), nil)
	name, w := registerTest(lb.RoundRobin)
	cc, b := dialDiscovery(t, res, discovery.Config{StartupEvery: time.Hour, Every: time.Hour, NoJitter: true}, name, w)

	waitReady(t, w, 2)
	got := served(t, cc, 20)
	if len(got) != 2 || got[servers[0].addr] != 10 || got[servers[1].addr] != 10 {
		t.Fatalf("20 round-robin RPCs over servers 0 and 1 went %v", got)
	}

	before := res.resolves.Load()
	res.set(lbEndpoints(servers[1:]), nil)
	b.resolveNow()
	eventually(t, "traffic on servers 1 and 2 only", func() bool {
		p := w.last()
		if p.Len() != 2 || w.published.Load() != 2 {
			return false
		}
		for _, e := range p.Endpoints() {
			if e.Addr == servers[0].addr {
				return false
			}
		}
		return true
	})
	got = served(t, cc, 20)
	if len(got) != 2 || got[servers[1].addr] != 10 || got[servers[2].addr] != 10 {
		t.Fatalf("after the change, 20 RPCs went %v", got)
	}
	if n := res.resolves.Load() - before; n < 1 {
		t.Fatalf("ResolveNow caused %d resolves", n)
	}
}

// A short schedule moves traffic without ResolveNow.
func TestResolverSchedule(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	res := new(answer)
	res.set(lbEndpoints(servers[:1]), nil)
	name, w := registerTest(lb.P2C)
	cc, _ := dialDiscovery(t, res, discovery.Config{Every: 20 * time.Millisecond}, name, w)

	waitReady(t, w, 1)
	if got := served(t, cc, 5); got[servers[0].addr] != 5 {
		t.Fatalf("5 RPCs went %v", got)
	}
	res.set(lbEndpoints(servers[1:]), nil)
	eventually(t, "server 1 alone in the pool", func() bool {
		p := w.last()
		eps := p.Endpoints()
		return len(eps) == 1 && eps[0].Addr == servers[1].addr && w.published.Load() == 1
	})
	if got := served(t, cc, 5); got[servers[1].addr] != 5 {
		t.Fatalf("after the change, 5 RPCs went %v", got)
	}
}

// Weights reach the balancer's pool through WithWeight.
func TestResolverWeights(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	eps := []lb.Endpoint{{Addr: servers[0].addr, Weight: 3}, {Addr: servers[1].addr}}
	name, w := registerTest(lb.WeightedRoundRobin)
	cc, _ := dialDiscovery(t, discovery.Static(eps), discovery.Config{}, name, w)

	p := waitReady(t, w, 2)
	weights := make(map[string]int)
	for _, e := range p.Endpoints() {
		weights[e.Addr] = e.Weight
	}
	if weights[servers[0].addr] != 3 || weights[servers[1].addr] != 1 {
		t.Fatalf("pool weights %v, want 3 for %s and 1 for %s", weights, servers[0].addr, servers[1].addr)
	}
	got := served(t, cc, 40)
	if got[servers[0].addr] != 30 || got[servers[1].addr] != 10 {
		t.Fatalf("40 RPCs at weights 3:1 went %v", got)
	}
}

// Before any set, a failing resolver's error fails RPCs with Unavailable
// and its reason; once the answer is good, RPCs succeed.
func TestResolverReportsError(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 1)
	res := new(answer)
	res.set(nil, errors.New("registry down for the test"))
	name, w := registerTest(lb.P2C)
	cc, _ := dialDiscovery(t, res, discovery.Config{RetryAfter: 10 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}, name, w)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := check(ctx, cc)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "registry down for the test") {
		t.Fatalf("RPC before any set: %v, want Unavailable with the resolver's error", err)
	}
	res.set(lbEndpoints(servers), nil)
	eventually(t, "an RPC served", func() bool {
		_, err := check(ctx, cc)
		return err == nil
	})
}

func TestNewResolverBuilderErrors(t *testing.T) {
	res := discovery.Static{{Addr: "127.0.0.1:1"}}
	for _, c := range []struct {
		scheme string
		res    discovery.Resolver
		cfg    discovery.Config
		want   error
	}{
		{"", res, discovery.Config{}, lb.ErrName},
		{"Upper", res, discovery.Config{}, lb.ErrName},
		{"1abc", res, discovery.Config{}, lb.ErrName},
		{"a b", res, discovery.Config{}, lb.ErrName},
		{"ok", nil, discovery.Config{}, discovery.ErrConfig},
		{"ok", res, discovery.Config{Every: -time.Second}, discovery.ErrConfig},
		{"ok", res, discovery.Config{StartupEvery: time.Minute, Every: time.Second}, discovery.ErrConfig},
	} {
		if _, err := NewResolverBuilder(c.scheme, c.res, c.cfg); !errors.Is(err, c.want) {
			t.Errorf("NewResolverBuilder(%q, %v, %+v) = %v, want an error wrapping %v", c.scheme, c.res, c.cfg, err, c.want)
		}
	}
	b, err := NewResolverBuilder("my-lb.v2+x", res, discovery.Config{})
	if err != nil || b.Scheme() != "my-lb.v2+x" {
		t.Fatalf("NewResolverBuilder(\"my-lb.v2+x\") = %v, %v", b, err)
	}
}
