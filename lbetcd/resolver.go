package lbetcd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// Config is a Resolver's optional settings. The zero value is ready to use.
type Config struct {
	// OnBadValue is called once for each version of a key whose value
	// ParseValue rejects (err wraps ErrValue), from the Resolve that first
	// reads it; the key is skipped. Nil means slog.Default().Warn. It must
	// not block.
	OnBadValue func(key string, err error)
}

// Resolver is a discovery.Watcher that reads the endpoints stored under a
// key prefix in etcd, one key per endpoint, and follows them with an etcd
// watch. Its methods are safe for concurrent use.
//
// Resolve lists the prefix with one linearizable Get: the whole set, at one
// revision. An outage shows as Resolve errors (wrapping ErrEtcd), and a
// discovery.Runner keeps the last good set meanwhile.
//
// A value that is not an endpoint (see ParseValue) is skipped, not fatal:
// one registrant's bad value must not freeze discovery for every other
// endpoint. It is reported once per key version through Config.OnBadValue
// and counted by BadValues. If the prefix holds values but none is valid,
// Resolve fails with ErrValue, so the Runner keeps its last good set. Two
// keys with one address (a restarted instance re-registering under a new
// key) give one endpoint, with the weight of the newer key.
//
// Watch watches the prefix from the revision after the last Resolve, so no
// change between a Resolve and the watch is lost, and calls changed on
// every event. It also calls changed when a compaction removed revisions
// the watch needed (the Runner lists again, and the watch resumes from the
// compaction's revision), and whenever the client's connection to etcd is
// lost or comes back (the Runner's resolves then fail promptly while etcd is
// away, and list again as soon as it returns).
type Resolver struct {
	client *clientv3.Client
	prefix string
	onBad  func(key string, err error)

	rev atomic.Int64 // the highest revision a Resolve read
	bad atomic.Int64 // bad values in the latest successful Resolve

	mu       sync.Mutex
	reported map[string]int64 // bad key -> mod revision already reported
}

var _ discovery.Watcher = (*Resolver)(nil)

// NewResolver returns a Resolver of the endpoints under prefix. Every key
// that starts with prefix is an endpoint, so end prefix with a separator:
// "/services/users/" does not also read "/services/users-admin/". A nil
// client or an empty prefix (the whole key space) is an error wrapping
// ErrConfig. The Resolver does not own client: close it after the Runner.
func NewResolver(client *clientv3.Client, prefix string, cfg Config) (*Resolver, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil etcd client", ErrConfig)
	}
	if prefix == "" {
		return nil, fmt.Errorf("%w: empty prefix (it would read every key)", ErrConfig)
	}
	onBad := cfg.OnBadValue
	if onBad == nil {
		onBad = func(key string, err error) {
			slog.Default().Warn("lbetcd: skipping a value that is not an endpoint", "key", key, "err", err)
		}
	}
	return &Resolver{client: client, prefix: prefix, onBad: onBad, reported: map[string]int64{}}, nil
}

// Prefix returns the key prefix the Resolver reads.
func (r *Resolver) Prefix() string { return r.prefix }

// BadValues returns how many values under the prefix the latest successful
// Resolve skipped because ParseValue rejected them.
func (r *Resolver) BadValues() int { return int(r.bad.Load()) }

// Resolve returns the endpoints under the prefix, sorted by address. It
// waits for etcd until ctx ends (the Runner gives each resolve a timeout);
// a failed Get is an error wrapping ErrEtcd and the cause.
func (r *Resolver) Resolve(ctx context.Context) ([]lb.Endpoint, error) {
	resp, err := r.client.Get(ctx, r.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("%w: get %q: %w", ErrEtcd, r.prefix, err)
	}
	r.noteRev(resp.Header.Revision)

	type entry struct {
		ep  lb.Endpoint
		rev int64
	}
	byAddr := make(map[string]entry, len(resp.Kvs))
	var bad []string
	var firstErr error
	for _, kv := range resp.Kvs {
		ep, err := ParseValue(kv.Value)
		if err != nil {
			key := string(kv.Key)
			bad = append(bad, key)
			if firstErr == nil {
				firstErr = fmt.Errorf("key %q: %w", key, err)
			}
			r.report(key, kv.ModRevision, err)
			continue
		}
		if old, ok := byAddr[ep.Addr]; !ok || kv.ModRevision > old.rev {
			byAddr[ep.Addr] = entry{ep, kv.ModRevision}
		}
	}
	r.forgetExcept(bad)
	if len(byAddr) == 0 && firstErr != nil {
		return nil, fmt.Errorf("%w: none of the %d values under %q is an endpoint; first: %w",
			ErrValue, len(resp.Kvs), r.prefix, firstErr)
	}
	r.bad.Store(int64(len(bad)))
	eps := make([]lb.Endpoint, 0, len(byAddr))
	for _, e := range byAddr {
		eps = append(eps, e.ep)
	}
	slices.SortFunc(eps, func(a, b lb.Endpoint) int { return cmp.Compare(a.Addr, b.Addr) })
	return eps, nil
}

// noteRev raises r.rev to rev.
func (r *Resolver) noteRev(rev int64) {
	for {
		old := r.rev.Load()
		if rev <= old || r.rev.CompareAndSwap(old, rev) {
			return
		}
	}
}

// report calls onBad for key unless this version of it was reported.
func (r *Resolver) report(key string, modRev int64, err error) {
	r.mu.Lock()
	seen := r.reported[key] == modRev
	r.reported[key] = modRev
	r.mu.Unlock()
	if !seen {
		r.onBad(key, err)
	}
}

// forgetExcept drops reported keys that are no longer bad, so the map stays
// as small as the set of bad keys.
func (r *Resolver) forgetExcept(bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reported) == len(bad) {
		return
	}
	keep := make(map[string]int64, len(bad))
	for _, k := range bad {
		keep[k] = r.reported[k]
	}
	r.reported = keep
}

// Watch follows the prefix until ctx ends (it then returns ctx's error) or
// the watch fails (an error wrapping ErrEtcd), calling changed on every
// change, compaction, lost connection and reconnection; see Resolver.
func (r *Resolver) Watch(ctx context.Context, changed func()) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // ends the connection follower
		wg.Wait()
	}()
	if conn := r.client.ActiveConnection(); conn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			followConn(ctx, conn, changed)
		}()
	}

	from := r.rev.Load() + 1
	if from == 1 {
		// No Resolve yet, or none that finished: start at the current
		// revision and have the Runner list once, after it.
		resp, err := r.client.Get(ctx, r.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: get %q: %w", ErrEtcd, r.prefix, err)
		}
		from = resp.Header.Revision + 1
		changed()
	}
	// WithRequireLeader: a member cut off from its cluster's leader ends
	// the watch instead of serving it silently stale.
	wctx := clientv3.WithRequireLeader(ctx)
	for {
		var err error
		from, err = r.follow(wctx, from, changed)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// follow runs one etcd watch from revision from, and returns the revision
// to watch from next after a compaction (having called changed), or the
// error that ended it.
func (r *Resolver) follow(ctx context.Context, from int64, changed func()) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // frees the watcher on every return
	for resp := range r.client.Watch(wctx, r.prefix, clientv3.WithPrefix(), clientv3.WithRev(from)) {
		if resp.CompactRevision != 0 {
			// Revisions from..CompactRevision-1 are gone: list again, and
			// watch on from the compaction's revision, the oldest kept.
			changed()
			return resp.CompactRevision, nil
		}
		if err := resp.Err(); err != nil {
			return 0, fmt.Errorf("%w: watch %q: %w", ErrEtcd, r.prefix, err)
		}
		if len(resp.Events) > 0 {
			changed()
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: watch %q ended: %w", ErrEtcd, r.prefix, errWatchClosed)
}

var errWatchClosed = errors.New("the watch channel closed (client closed?)")

// followConn calls changed whenever conn becomes ready or stops being
// ready, until ctx ends or conn is closed.
func followConn(ctx context.Context, conn *grpc.ClientConn, changed func()) {
	state := conn.GetState()
	ready := state == connectivity.Ready
	for state != connectivity.Shutdown && conn.WaitForStateChange(ctx, state) {
		state = conn.GetState()
		if now := state == connectivity.Ready; now != ready {
			ready = now
			changed()
		}
	}
}
