package lbetcd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nanolb/nanolb/lb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Registration defaults and limits.
const (
	// DefaultTTL is the lease TTL Register uses for a zero ttl: an instance
	// that dies without Close leaves its clients' pools within 10 s (and
	// its clients' own ejection covers the meantime).
	DefaultTTL = 10 * time.Second
	// MaxTTL is the largest ttl Register accepts (etcd's own limit on a
	// lease's TTL is 9,000,000,000 seconds; a day is plenty).
	MaxTTL = 24 * time.Hour

	// reRegisterMin and reRegisterMax bound the delay between attempts to
	// register again after the lease was lost.
	reRegisterMin = 200 * time.Millisecond
	reRegisterMax = 5 * time.Second
	// revokeTimeout bounds Close's revoke.
	revokeTimeout = 5 * time.Second
)

// Registration is an endpoint registered under a lease by Register, kept
// alive until Close. Its methods are safe for concurrent use.
type Registration struct {
	client *clientv3.Client
	key    string
	value  string
	ttl    int64 // seconds

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	lease clientv3.LeaseID // the lease the key is on now
}

// Register stores ep under prefix+ep.Addr, as FormatValue's JSON (its
// weight and its zone, ep.Zone, with it), on a new lease of ttl (zero:
// DefaultTTL), and keeps the lease alive until Close, registering again if
// the lease is lost (see Registration in the package documentation). It returns once the key is stored; ctx bounds only that.
// A nil client, an empty prefix, a bad ep or a ttl outside 0..MaxTTL is an
// error wrapping ErrConfig; a failed grant or put one wrapping ErrEtcd.
func Register(ctx context.Context, client *clientv3.Client, prefix string, ep lb.Endpoint, ttl time.Duration) (*Registration, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil etcd client", ErrConfig)
	}
	if prefix == "" {
		return nil, fmt.Errorf("%w: empty prefix", ErrConfig)
	}
	if ttl < 0 || ttl > MaxTTL {
		return nil, fmt.Errorf("%w: ttl %v is outside 0..%v", ErrConfig, ttl, MaxTTL)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	val, err := FormatValue(ep)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	g := &Registration{
		client: client,
		key:    prefix + ep.Addr,
		value:  string(val),
		ttl:    int64(math.Ceil(ttl.Seconds())),
		ctx:    rctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	ka, err := g.register(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go g.run(ka)
	return g, nil
}

// Key returns the key the endpoint is stored under.
func (g *Registration) Key() string { return g.key }

// Lease returns the lease the key is attached to now; it changes when the
// Registration registers again after losing its lease.
func (g *Registration) Lease() clientv3.LeaseID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lease
}

// register grants a lease, stores the key on it and starts its keep-alive,
// which lives until Close.
func (g *Registration) register(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	lease, err := g.client.Grant(ctx, g.ttl)
	if err != nil {
		return nil, fmt.Errorf("%w: grant a lease of %d s: %w", ErrEtcd, g.ttl, err)
	}
	if _, err := g.client.Put(ctx, g.key, g.value, clientv3.WithLease(lease.ID)); err != nil {
		g.revoke(lease.ID) // best effort: it would expire anyway
		return nil, fmt.Errorf("%w: put %q: %w", ErrEtcd, g.key, err)
	}
	ka, err := g.client.KeepAlive(g.ctx, lease.ID)
	if err != nil {
		g.revoke(lease.ID)
		return nil, fmt.Errorf("%w: keep lease %x alive: %w", ErrEtcd, lease.ID, err)
	}
	g.mu.Lock()
	g.lease = lease.ID
	g.mu.Unlock()
	return ka, nil
}

// run drains the keep-alive responses; when the keep-alive ends before
// Close (the lease expired or was revoked), it registers again.
func (g *Registration) run(ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(g.done)
	for {
		for range ka {
		}
		delay := reRegisterMin
		for {
			if g.ctx.Err() != nil {
				return
			}
			var err error
			ctx, cancel := context.WithTimeout(g.ctx, reRegisterMax)
			ka, err = g.register(ctx)
			cancel()
			if err == nil {
				break
			}
			if g.client.Ctx().Err() != nil {
				return // the client was closed: no registration can succeed
			}
			t := time.NewTimer(delay)
			select {
			case <-g.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, reRegisterMax)
		}
	}
}

// revoke revokes lease, waiting at most revokeTimeout.
func (g *Registration) revoke(lease clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	_, err := g.client.Revoke(ctx, lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil // expired already: the key is gone
	}
	return err
}

// Close deregisters: it stops the keep-alive and revokes the lease, which
// deletes the key at once (a key that another registration of the same
// address stored since, on its own lease, stays). It waits at most 5 s for
// etcd; if the revoke fails the key still goes when the lease expires, and
// Close returns an error wrapping ErrEtcd. Later calls return the first
// call's result.
func (g *Registration) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		<-g.done
		if err := g.revoke(g.Lease()); err != nil {
			g.closeErr = fmt.Errorf("%w: revoke lease of %q: %w", ErrEtcd, g.key, err)
		}
	})
	return g.closeErr
}
