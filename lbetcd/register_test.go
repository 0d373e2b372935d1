package lbetcd_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func register(t testing.TB, c *clientv3.Client, prefix string, ep lb.Endpoint, ttl time.Duration) *lbetcd.Registration {
	t.Helper()
	g, err := lbetcd.Register(timeoutCtx(t, wait), c, prefix, ep, ttl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// stored returns the value under key and its lease, or "" if there is none.
func stored(t testing.TB, c *clientv3.Client, key string) (string, clientv3.LeaseID) {
	t.Helper()
	resp, err := c.Get(timeoutCtx(t, wait), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0
	}
	return string(resp.Kvs[0].Value), clientv3.LeaseID(resp.Kvs[0].Lease)
}

func TestRegisterRejects(t *testing.T) {
	t.Parallel()
	c, _ := dial("http://127.0.0.1:1") // never used: the arguments fail first
	defer c.Close()
	ok := lb.Endpoint{Addr: "127.0.0.1:8080"}
	for _, tc := range []struct {
		name   string
		c      *clientv3.Client
		prefix string
		ep     lb.Endpoint
		ttl    time.Duration
	}{
		{"a nil client", nil, "/svc/", ok, 0},
		{"an empty prefix", c, "", ok, 0},
		{"an empty address", c, "/svc/", lb.Endpoint{}, 0},
		{"an address without a port", c, "/svc/", lb.Endpoint{Addr: "127.0.0.1"}, 0},
		{"a negative weight", c, "/svc/", lb.Endpoint{Addr: "127.0.0.1:1", Weight: -1}, 0},
		{"a weight over lb.MaxWeight", c, "/svc/", lb.Endpoint{Addr: "127.0.0.1:1", Weight: lb.MaxWeight + 1}, 0},
		{"a zone over lb.MaxZoneLen", c, "/svc/", lb.Endpoint{Addr: "127.0.0.1:1", Zone: strings.Repeat("z", lb.MaxZoneLen+1)}, 0},
		{"a negative ttl", c, "/svc/", ok, -time.Second},
		{"a ttl over MaxTTL", c, "/svc/", ok, lbetcd.MaxTTL + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := lbetcd.Register(timeoutCtx(t, wait), tc.c, tc.prefix, tc.ep, tc.ttl)
			if !errors.Is(err, lbetcd.ErrConfig) || g != nil {
				t.Fatalf("got %v, %v; want an error wrapping ErrConfig", g, err)
			}
		})
	}
}

func TestRegisterStoresUnderALeaseAndCloseDeletes(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	g := register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8001", Weight: 3}, 5*time.Second)
	if g.Key() != p+"127.0.0.1:8001" {
		t.Fatalf("Key = %q", g.Key())
	}
	val, lease := stored(t, c, g.Key())
	if val != `{"addr":"127.0.0.1:8001","weight":3}` || lease != g.Lease() || lease == 0 {
		t.Fatalf("stored %q on lease %x; want the JSON value on lease %x", val, lease, g.Lease())
	}
	ttl, err := c.TimeToLive(timeoutCtx(t, wait), lease)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 5 || ttl.TTL <= 0 {
		t.Fatalf("lease granted %d s, %d s left; want 5 s granted and time left", ttl.GrantedTTL, ttl.TTL)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if val, _ := stored(t, c, g.Key()); val != "" {
		t.Fatalf("after Close the key still holds %q", val)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// The keep-alive outlives the TTL: after three TTLs the key is still there,
// on the same lease.
func TestRegisterKeepsTheLeaseAlive(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	g := register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8001"}, time.Second) // etcd raises it to its minimum, 2 s
	lease := g.Lease()
	ttl, err := c.TimeToLive(timeoutCtx(t, wait), lease)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3 * time.Duration(ttl.GrantedTTL) * time.Second)
	testkit.Eventually(t, 3*time.Duration(ttl.GrantedTTL)*time.Second+wait, "three TTLs pass with the key kept", func() bool {
		if val, l := stored(t, c, g.Key()); val == "" || l != lease {
			t.Fatalf("the key was lost (value %q, lease %x, want %x) before three TTLs passed", val, l, lease)
		}
		return time.Now().After(end)
	})
}

// A lost lease (revoked here by someone else, as an expiry after a long
// outage would lose it) is replaced: the key comes back on a new lease.
func TestRegisterRegistersAgainAfterLosingTheLease(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	g := register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8001"}, 5*time.Second)
	old := g.Lease()
	if _, err := c.Revoke(timeoutCtx(t, wait), old); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, "the key is stored again on a new lease", func() bool {
		val, lease := stored(t, c, g.Key())
		return val != "" && lease != old && lease == g.Lease()
	})
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if val, _ := stored(t, c, g.Key()); val != "" {
		t.Fatalf("after Close the key still holds %q", val)
	}
}

// Closing an older registration of an address does not remove a newer one
// (a restarted instance registered again before the old one deregistered).
func TestCloseLeavesANewerRegistrationOfTheAddress(t *testing.T) {
	t.Parallel()
	c, p := sharedClient(t)
	ep := lb.Endpoint{Addr: "127.0.0.1:8001"}
	older := register(t, c, p, ep, 5*time.Second)
	newer := register(t, c, p, ep, 5*time.Second)
	if err := older.Close(); err != nil {
		t.Fatal(err)
	}
	if val, lease := stored(t, c, newer.Key()); val == "" || lease != newer.Lease() {
		t.Fatalf("after the older Close: %q on lease %x, want the newer registration on %x", val, lease, newer.Lease())
	}
}

// Etcd away for longer than the TTL: the client gives the lease up, so the
// Registration retries until etcd is back and registers again on a new
// lease; the old lease's expiry then takes nothing away.
func TestRegisterRidesOutAnOutageLongerThanItsTTL(t *testing.T) {
	t.Parallel()
	s := newEtcd(t)
	c := newClient(t, s.url)
	const p = "/svc/outage/"
	g := register(t, c, p, lb.Endpoint{Addr: "127.0.0.1:8001"}, 2*time.Second)
	old := g.Lease()
	// Scenario timing, not assertions: a second for the keep-alive to get
	// its first answer (until then the client waits DialTimeout+1 s, not
	// the TTL, before it gives the lease up), then an outage of 3 s, past
	// the TTL: the client gives the lease up and the Registration's
	// attempts to register again fail until etcd is back.
	time.Sleep(time.Second)
	s.kill()
	time.Sleep(3 * time.Second)
	if g.Lease() != old {
		t.Fatal("registered again while etcd was away")
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, "the key is stored again on a new lease", func() bool {
		val, lease := stored(t, c, g.Key())
		return val != "" && lease != old && lease == g.Lease()
	})
	testkit.Eventually(t, wait, "the old lease expires", func() bool {
		ttl, err := c.TimeToLive(timeoutCtx(t, wait), old)
		return err == nil && ttl.TTL == -1
	})
	if val, lease := stored(t, c, g.Key()); val == "" || lease != g.Lease() {
		t.Fatalf("after the old lease expired: %q on lease %x, want the key on %x", val, lease, g.Lease())
	}
}
