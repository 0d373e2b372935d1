package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

// addrsOf returns the servers' addresses.
func addrsOf(servers []*server) []string {
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.addr
	}
	return addrs
}

// firstInShardOrder returns the server whose address lb numbers shard 0:
// the shortest, then the least bytewise.
func firstInShardOrder(servers []*server) *server {
	return slices.MinFunc(servers, func(a, b *server) int {
		if len(a.addr) != len(b.addr) {
			return len(a.addr) - len(b.addr)
		}
		return strings.Compare(a.addr, b.addr)
	})
}

// A server that stops takes only its own shard out: its keys fail with
// Unavailable and reach no other server, and every other key stays where
// it was.
func TestShardKeysStayPutWhenAServerStops(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.Shard)
	cc, _ := dial(t, name, "", w, endpoints(servers)...)
	waitReady(t, w, 3)
	keys := testKeys(60)
	owners := shardOwners(t, addrsOf(servers), keys)
	for _, k := range keys {
		if addr, err := check(WithHashKey(context.Background(), k), cc); err != nil || addr != owners[k] {
			t.Fatalf("key %q: served by %q (%v), want its shard %s", k, addr, err, owners[k])
		}
	}

	stopped := firstInShardOrder(servers)
	stopped.stop()
	eventually(t, "the stopped server leaving the pool", func() bool {
		p := w.last()
		return p.Len() == 2 && w.published.Load() == 2
	})
	var moved, out int
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(WithHashKey(context.Background(), k), waitFor)
		addr, err := check(ctx, cc)
		cancel()
		switch {
		case owners[k] == stopped.addr:
			out++
			if status.Code(err) != codes.Unavailable || addr != "" {
				t.Errorf("key %q of the stopped shard: served by %q (%v), want Unavailable", k, addr, err)
			}
		case err != nil || addr != owners[k]:
			moved++
			t.Errorf("key %q: served by %q (%v), want its shard %s", k, addr, err, owners[k])
		}
	}
	t.Logf("%d keys on the stopped shard, %d of the others moved", out, moved)

	// A wait-for-ready RPC waits for the shard, as for a channel whose
	// connection is down, and is served once it is back.
	var key string
	for _, k := range keys {
		if owners[k] == stopped.addr {
			key = k
		}
	}
	var p peer.Peer
	ctx, cancel := context.WithTimeout(WithHashKey(context.Background(), key), 200*time.Millisecond)
	_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true), grpc.Peer(&p))
	cancel()
	if status.Code(err) != codes.DeadlineExceeded || p.Addr != nil {
		t.Fatalf("wait-for-ready key %q of the stopped shard: %v from %v, want it held until its deadline", key, err, p.Addr)
	}
	back := stopped.restart(t)
	ctx, cancel = context.WithTimeout(WithHashKey(context.Background(), key), waitFor)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true), grpc.Peer(&p)); err != nil || p.Addr.String() != back.addr {
		t.Fatalf("wait-for-ready key %q once its shard is back: %v from %v", key, err, p.Addr)
	}
}

// Until a shard's first connection is READY its keys wait for it (they
// neither fail nor go elsewhere), while the other shards serve theirs.
func TestShardKeysWaitForAShardStillConnecting(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	gated, open := startGatedServer(t)
	all := append(slices.Clone(servers), gated)
	name, w := registerTest(lb.Shard)
	cc, _ := dial(t, name, "", w, endpoints(all)...)
	waitReady(t, w, 2)
	keys := testKeys(30)
	owners := shardOwners(t, addrsOf(all), keys)
	var waiting []string
	for _, k := range keys {
		if owners[k] == gated.addr {
			waiting = append(waiting, k)
			continue
		}
		if addr, err := check(WithHashKey(context.Background(), k), cc); err != nil || addr != owners[k] {
			t.Fatalf("key %q: served by %q (%v), want its shard %s", k, addr, err, owners[k])
		}
	}
	if len(waiting) == 0 {
		t.Fatal("no test key maps to the connecting server")
	}
	// Nothing can serve it while the gate is shut: the RPC ends by its own
	// deadline.
	ctx, cancel := context.WithTimeout(WithHashKey(context.Background(), waiting[0]), 200*time.Millisecond)
	addr, err := check(ctx, cc)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded || addr != "" {
		t.Fatalf("key %q of the connecting shard: served by %q (%v), want it held until its deadline", waiting[0], addr, err)
	}
	open()
	for _, k := range waiting {
		ctx, cancel := context.WithTimeout(WithHashKey(context.Background(), k), waitFor)
		addr, err := check(ctx, cc)
		cancel()
		if err != nil || addr != gated.addr {
			t.Fatalf("key %q once its shard is up: served by %q (%v), want %s", k, addr, err, gated.addr)
		}
	}
}

// The layout is the resolver's list in address order: a reordered list
// changes nothing, and a shorter one numbers the shards it names as lb
// numbers them.
func TestShardLayoutFollowsTheResolversList(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w := registerTest(lb.Shard)
	cc, r := dial(t, name, "", w, endpoints(servers)...)
	pool := waitReady(t, w, 3)
	keys := testKeys(30)
	routes := func(want map[string]string) {
		t.Helper()
		for _, k := range keys {
			if addr, err := check(WithHashKey(context.Background(), k), cc); err != nil || addr != want[k] {
				t.Fatalf("key %q: served by %q (%v), want %s", k, addr, err, want[k])
			}
		}
	}
	routes(shardOwners(t, addrsOf(servers), keys))

	reversed := endpoints(servers)
	slices.Reverse(reversed)
	r.UpdateState(resolver.State{Endpoints: reversed})
	routes(shardOwners(t, addrsOf(servers), keys))
	if len(w.all()) != 1 {
		t.Fatal("a reordered list made a new pool")
	}

	r.UpdateState(resolver.State{Endpoints: endpoints(servers[1:])})
	eventually(t, "a pool of the two left", func() bool {
		p := w.last()
		return p != pool && p.Len() == 2 && w.published.Load() == 2
	})
	routes(shardOwners(t, addrsOf(servers[1:]), keys))
}

// shardOf is lb.Shard's numbering: for every key, the shard PickKey leases
// on a pool whose addresses sort in shard order.
func TestShardOfNumbersKeysAsLbDoes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1000} {
		addrs := make([]string, n)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("shard-%05d", i)
		}
		keys := testKeys(500)
		owners := shardOwners(t, addrs, keys)
		for _, k := range keys {
			if got := addrs[shardOf(k, n)]; got != owners[k] {
				t.Fatalf("n=%d key %q: shardOf says %s, lb says %s", n, k, got, owners[k])
			}
		}
	}
}

// A key whose shard the pool refuses gets the answer its shard's child
// state calls for, and leaves no lease behind.
func TestPickerAnswersAKeyOfAShardThatIsOutByItsChildsState(t *testing.T) {
	layout := []string{"a", "b", "c"}
	var key string // a key of shard "b"
	for _, k := range testKeys(100) {
		if shardOf(k, len(layout)) == 1 {
			key = k
			break
		}
	}
	connErr := errors.New("connection refused")
	tests := []struct {
		name  string
		state balancer.State
		eject bool
		want  func(error) bool
	}{
		{"an ejected shard fails with Unavailable, wait-for-ready or not",
			balancer.State{ConnectivityState: connectivity.Ready}, true,
			func(err error) bool {
				return status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "b is ejected")
			}},
		{"a shard whose connection is down fails as a channel in TRANSIENT_FAILURE",
			balancer.State{ConnectivityState: connectivity.TransientFailure, Picker: &childPicker{err: connErr}}, false,
			func(err error) bool {
				_, isStatus := status.FromError(err)
				return !isStatus && errors.Is(err, lb.ErrShardDown) && strings.Contains(err.Error(), connErr.Error())
			}},
		{"a shard still connecting waits for the next picker",
			balancer.State{ConnectivityState: connectivity.Connecting}, false,
			func(err error) bool { return err == balancer.ErrNoSubConnAvailable }},
		{"a shard with no child yet waits for the next picker",
			balancer.State{}, false,
			func(err error) bool { return err == balancer.ErrNoSubConnAvailable }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := lb.NewShardLayout(layout...)
			if err != nil {
				t.Fatal(err)
			}
			members := []string{"a", "c"}
			if tt.eject {
				members = layout
			}
			pool, err := lb.New(lb.Config{Policy: lb.Shard, Shards: l, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, members...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.eject {
				lease, err := pool.PickKey(key)
				if err != nil {
					t.Fatal(err)
				}
				lease.Done(errors.New("failed"))
			}
			var dones []string
			children := map[string]balancer.Picker{"a": &childPicker{addr: "a", dones: &dones}, "c": &childPicker{addr: "c", dones: &dones}}
			states := []balancer.State{{ConnectivityState: connectivity.Ready}, tt.state, {ConnectivityState: connectivity.Ready}}
			if tt.eject {
				children["b"] = &childPicker{addr: "b", dones: &dones}
			}
			p := newTestPicker(t, lb.Shard, pool, children).withShards(layout, states)
			_, err = p.Pick(balancer.PickInfo{Ctx: WithHashKey(context.Background(), key)})
			if !tt.want(err) {
				t.Fatalf("Pick: %v", err)
			}
			if got := inFlight(pool); got != 0 || len(dones) != 0 {
				t.Fatalf("%d leases in flight, %d child picks ended", got, len(dones))
			}
		})
	}
}
