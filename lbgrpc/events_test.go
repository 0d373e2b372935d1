package lbgrpc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
)

// TestPoolHookSeesAnUnavailableServerEjected subscribes to the balancer's
// pool through WithPoolHook and checks that an endpoint answering
// Unavailable shows up as an EventEjected, that a changed config retires
// the pool (stop, then the hook for the new one), and that closing the
// ClientConn calls the last stop, ending every subscription.
func TestPoolHookSeesAnUnavailableServerEjected(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	bad := servers[0]
	bad.fail.Store(int32(codes.Unavailable))

	var mu sync.Mutex
	var targets []string
	stops := 0
	events := make(chan lb.Event, 1000)
	var consumers sync.WaitGroup
	name, w := registerTest(lb.RoundRobin, WithPoolHook(func(target string, pool *lb.Pool) func() {
		sub, err := pool.Subscribe(lb.SubscribeOptions{Interval: time.Millisecond})
		if err != nil {
			t.Error(err)
			return nil
		}
		mu.Lock()
		targets = append(targets, target)
		mu.Unlock()
		ch := sub.C() // before Close can run: lb's C reads a field Close clears
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for b := range ch {
				for _, e := range b.Events {
					select {
					case events <- e:
					default:
					}
				}
			}
		}()
		return func() {
			mu.Lock()
			stops++
			mu.Unlock()
			sub.Close()
		}
	}))
	cc, r := dial(t, name, `{"ejectAfter": 2, "ejectFor": "1h"}`, w, endpoints(servers)...)
	waitReady(t, w, 2)

	var ejected lb.Event
	deadline := time.After(waitFor)
	for i := 0; ejected.Kind == 0; i++ {
		if i < 100 {
			check(context.Background(), cc)
		}
		select {
		case e := <-events:
			if e.Kind == lb.EventEjected && e.Addr == bad.addr {
				ejected = e
			}
		case <-deadline:
			t.Fatalf("no EventEjected for %s after %v", bad.addr, waitFor)
		case <-time.After(time.Millisecond):
		}
	}
	if ejected.Refused || ejected.Streak != 2 || !ejected.Until.After(time.Now().Add(50*time.Minute)) {
		t.Errorf("ejection event %+v: want not refused, streak 2, an hour's cooldown", ejected)
	}

	hooked := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(targets), stops
	}
	if h, s := hooked(); h != 1 || s != 0 {
		t.Fatalf("hook called %d times, stop %d, before any config change; want 1 and 0", h, s)
	}

	// A changed config retires the pool: its stop, then the new pool's hook.
	sc := r.CC().ParseServiceConfig(`{"loadBalancingConfig": [{"` + name + `": {"ejectAfter": 3}}]}`)
	if sc.Err != nil {
		t.Fatal(sc.Err)
	}
	r.UpdateState(resolver.State{Endpoints: endpoints(servers), ServiceConfig: sc})
	eventually(t, "the hook called for the new pool", func() bool { h, s := hooked(); return h == 2 && s == 1 })

	cc.Close()
	closed := make(chan struct{})
	go func() { consumers.Wait(); close(closed) }()
	select {
	case <-closed: // every subscription's channel closed
	case <-time.After(waitFor):
		t.Fatal("closing the ClientConn did not stop the pool hook's subscription")
	}
	mu.Lock()
	defer mu.Unlock()
	if targets[0] != "nanolbtest:///test" || targets[1] != targets[0] || stops != 2 {
		t.Errorf("hook saw targets %q and stop was called %d times; want nanolbtest:///test twice and 2", targets, stops)
	}
}
