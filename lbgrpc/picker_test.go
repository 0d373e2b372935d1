package lbgrpc

import (
	"context"
	"errors"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// childPicker stands in for a READY pick_first child: its result's Done
// records the child's address, or it fails with err.
type childPicker struct {
	addr  string
	err   error
	dones *[]string
}

func (c *childPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	if c.err != nil {
		return balancer.PickResult{}, c.err
	}
	return balancer.PickResult{Done: func(balancer.DoneInfo) { *c.dones = append(*c.dones, c.addr) }}, nil
}

func newTestPicker(t *testing.T, policy lb.Policy, pool *lb.Pool, children map[string]balancer.Picker) *picker {
	t.Helper()
	b, err := NewBuilder("unregistered", policy)
	if err != nil {
		t.Fatal(err)
	}
	return newPicker(pool, children, b.(*builder))
}

func TestPickerFallsBackToAnEndpointItHasAChildFor(t *testing.T) {
	// The pool knows a, b and c; this picker (older than the pool's
	// membership) has a child for b only.
	pool, err := lb.New(lb.Config{Policy: lb.RoundRobin}, "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	var dones []string
	p := newTestPicker(t, lb.RoundRobin, pool, map[string]balancer.Picker{"b": &childPicker{addr: "b", dones: &dones}})
	for range 30 {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		if got := inFlight(pool); got != 1 {
			t.Fatalf("%d leases in flight during one RPC", got)
		}
		res.Done(balancer.DoneInfo{BytesSent: true})
	}
	if len(dones) != 30 {
		t.Fatalf("child Done called %d times for 30 picks", len(dones))
	}
	for _, e := range pool.Endpoints() {
		if e.InFlight != 0 || e.Streak != 0 {
			t.Fatalf("after the picks: %+v", e)
		}
	}
}

func TestPickerNeverBlocksAndLeavesNoLease(t *testing.T) {
	childErr := status.Error(codes.Unavailable, "child says no")
	tests := []struct {
		name     string
		addrs    []string
		children map[string]balancer.Picker
		want     func(error) bool
	}{
		{"an empty pool waits for the next picker", nil, map[string]balancer.Picker{},
			func(err error) bool { return err == balancer.ErrNoSubConnAvailable }},
		{"no child for any endpoint waits for the next picker", []string{"a", "b"}, map[string]balancer.Picker{},
			func(err error) bool { return err == balancer.ErrNoSubConnAvailable }},
		{"a child's error is passed on", []string{"a"}, map[string]balancer.Picker{"a": &childPicker{err: childErr}},
			func(err error) bool { return errors.Is(err, childErr) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := lb.New(lb.Config{}, tt.addrs...)
			if err != nil {
				t.Fatal(err)
			}
			p := newTestPicker(t, lb.P2C, pool, tt.children)
			_, err = p.Pick(balancer.PickInfo{Ctx: context.Background()})
			if !tt.want(err) {
				t.Fatalf("Pick: %v", err)
			}
			if got := inFlight(pool); got != 0 {
				t.Fatalf("%d leases left in flight", got)
			}
		})
	}
}

func TestPickerRoutesByTheContextsHashKey(t *testing.T) {
	addrs := []string{"a", "b", "c", "d"}
	pool, err := lb.New(lb.Config{Policy: lb.ConsistentHash}, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	var dones []string
	children := make(map[string]balancer.Picker)
	for _, a := range addrs {
		children[a] = &childPicker{addr: a, dones: &dones}
	}
	p := newTestPicker(t, lb.ConsistentHash, pool, children)
	for _, key := range []string{"x", "y", "z"} {
		ctx := WithHashKey(context.Background(), key)
		dones = dones[:0]
		for range 20 {
			res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
			if err != nil {
				t.Fatal(err)
			}
			res.Done(balancer.DoneInfo{BytesSent: true})
		}
		want, err := pool.PickKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dones {
			if d != want.Endpoint() {
				t.Fatalf("key %q went to %v, PickKey says %s", key, dones, want.Endpoint())
			}
		}
		want.Done(nil)
	}
}

func TestDoneReportsTheClassifiersVerdict(t *testing.T) {
	pool, err := lb.New(lb.Config{EjectAfter: 2, MaxEjectedPercent: 100}, "a")
	if err != nil {
		t.Fatal(err)
	}
	var dones []string
	p := newTestPicker(t, lb.P2C, pool, map[string]balancer.Picker{"a": &childPicker{addr: "a", dones: &dones}})
	rpc := func(info balancer.DoneInfo) lb.EndpointStatus {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		res.Done(info)
		return pool.Endpoints()[0]
	}
	unavailable := status.Error(codes.Unavailable, "down")
	if s := rpc(balancer.DoneInfo{Err: unavailable, BytesSent: true}); s.Streak != 1 {
		t.Fatalf("Unavailable: streak %d, want 1", s.Streak)
	}
	if s := rpc(balancer.DoneInfo{Err: unavailable}); s.Streak != 1 {
		t.Fatalf("Unavailable with no bytes sent: streak %d, want 1 (neutral)", s.Streak)
	}
	if s := rpc(balancer.DoneInfo{Err: status.Error(codes.NotFound, "no"), BytesSent: true}); s.Streak != 0 {
		t.Fatalf("NotFound: streak %d, want 0 (the server answered)", s.Streak)
	}
	rpc(balancer.DoneInfo{Err: unavailable, BytesSent: true})
	if s := rpc(balancer.DoneInfo{Err: status.Error(codes.DeadlineExceeded, "slow"), BytesSent: true}); s.State != lb.Ejected {
		t.Fatalf("two failures in a row: %+v, want ejected", s)
	}
}

func TestPickAndDoneAllocateNothing(t *testing.T) {
	for _, policy := range lb.Policies() {
		t.Run(policy.String(), func(t *testing.T) {
			pool, err := lb.New(lb.Config{Policy: policy}, "a", "b", "c")
			if err != nil {
				t.Fatal(err)
			}
			children := map[string]balancer.Picker{"a": readyChild{}, "b": readyChild{}, "c": readyChild{}}
			p := newTestPicker(t, policy, pool, children)
			info := balancer.PickInfo{Ctx: WithHashKey(context.Background(), "k")}
			allocs := testing.AllocsPerRun(1000, func() {
				res, err := p.Pick(info)
				if err != nil {
					t.Fatal(err)
				}
				res.Done(balancer.DoneInfo{BytesSent: true})
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per Pick and Done", allocs)
			}
		})
	}
}

func TestPickerAnswersASaturatedPoolWithUnavailable(t *testing.T) {
	pool, err := lb.New(lb.Config{MaxConcurrency: 1}, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	var dones []string
	p := newTestPicker(t, lb.P2C, pool, map[string]balancer.Picker{
		"a": &childPicker{addr: "a", dones: &dones}, "b": &childPicker{addr: "b", dones: &dones}})
	var held []balancer.PickResult
	for range 2 {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		if err != nil {
			t.Fatalf("Pick with room: %v", err)
		}
		held = append(held, res)
	}
	_, err = p.Pick(balancer.PickInfo{Ctx: context.Background()})
	if err != errSaturated || status.Code(err) != codes.Unavailable {
		t.Fatalf("Pick with both endpoints at maxConcurrency 1: %v, want the Unavailable status", err)
	}
	if got := inFlight(pool); got != 2 {
		t.Fatalf("%d leases in flight, want the 2 held: the refused pick kept one", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.Pick(balancer.PickInfo{Ctx: context.Background()}) }); allocs != 0 {
		t.Errorf("a refused pick allocates %v times, want 0", allocs)
	}
	for _, res := range held {
		res.Done(balancer.DoneInfo{BytesSent: true})
	}
	if res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()}); err != nil {
		t.Fatalf("Pick after the leases ended: %v", err)
	} else {
		res.Done(balancer.DoneInfo{})
	}
	if len(dones) != 3 || inFlight(pool) != 0 {
		t.Fatalf("child Done called %d times for 3 RPCs; %d leases left", len(dones), inFlight(pool))
	}
}

// The picker leases an endpoint outside the attempt's tried list and
// records the one it leased, whatever the policy would choose: round robin
// over three endpoints, two of them tried, answers the third every time;
// so does consistent hashing for a key whose endpoint was tried. Only
// nanolb_shard keeps a keyed RPC on its shard, the one place it may go.
func TestThePickerAvoidsTheEndpointsAHedgedRPCTried(t *testing.T) {
	hedgersMade.Store(true) // as NewHedger does with a method to hedge
	addrs := []string{"10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"}
	for _, tc := range []struct {
		name   string
		policy lb.Policy
		key    bool
	}{
		{"round robin", lb.RoundRobin, false},
		{"consistent hashing with a key", lb.ConsistentHash, true},
		{"shard with a key", lb.Shard, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := lb.New(lb.Config{Policy: tc.policy}, addrs...)
			if err != nil {
				t.Fatal(err)
			}
			children := map[string]balancer.Picker{}
			for _, a := range addrs {
				children[a] = readyChild{}
			}
			p := newTestPicker(t, tc.policy, pool, children)
			ctx, tried, want := context.Background(), addrs[:2], addrs[2]
			if tc.key {
				key := "user-1"
				ctx = WithHashKey(ctx, key)
				l, err := pool.PickKey(key)
				if err != nil {
					t.Fatal(err)
				}
				l.Done(context.Canceled)
				tried, want = []string{l.Endpoint()}, ""
				if tc.policy == lb.Shard {
					want = l.Endpoint()
				}
			}
			for i := range 30 {
				route := &attemptRoute{tried: tried}
				res, err := p.Pick(balancer.PickInfo{Ctx: context.WithValue(ctx, routeKey{}, route)})
				if err != nil {
					t.Fatal(err)
				}
				got := route.leased()
				if got == "" || (want != "" && got != want) || (want == "" && got == tried[0]) {
					t.Fatalf("pick %d leased %q with %v tried, want %q (empty: any other)", i, got, tried, want)
				}
				res.Done(balancer.DoneInfo{BytesSent: true})
			}
			if n := inFlight(pool); n != 0 {
				t.Fatalf("%d leases left", n)
			}
		})
	}
}
