package lb

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event delivery. While nobody listens, a transition tests one pointer and
// does nothing else. While somebody does, the code that makes a transition
// records it in the pool's ring, a fixed array written without a lock or an
// allocation (a full ring drops the event and counts it), and one
// dispatcher goroutine per pool moves the records to each subscriber's
// buffer (early if the ring fills past half) and delivers each subscriber
// a batch of at most Chunk events every Interval of its own. A
// subscriber that does not take its batches only loses its own events,
// counted in its next batch: the pool and the other subscribers never wait
// for it (go-kit's broadcaster blocked everyone behind a slow one).
//
// Per-endpoint order: a transition that emits events holds the hub's order
// lock from before its compare-and-swap until its records are written
// (ordered). No other such transition of the pool can then come between
// its swap and its ring slots, so slot order is transition order for each
// endpoint, whatever values the health word passed through meanwhile.
// Transitions that emit nothing (a streak growing, a success ending one)
// never take it, and nobody takes it while nobody listens.

const (
	ringSize        = 1 << 13
	defaultInterval = 100 * time.Millisecond
	defaultChunk    = 5000
	defaultBuffer   = 100000
)

// record is one ring slot.
type record struct {
	seq     atomic.Uint64 // Vyukov's sequence: free at t, written at t+1
	kind    EventKind
	refused bool
	c       *core  // nil for pool events
	h       uint64 // the health word after the transition
	at      time.Time
}

// hub is a pool's listening state, present while it has subscribers.
type hub struct {
	ring    [ringSize]record
	tail    atomic.Uint64 // next slot to reserve
	head    atomic.Uint64 // next slot the dispatcher reads
	dropped atomic.Uint64 // events the full ring lost, not yet told
	wake    chan struct{} // the ring is half full: drain early
	order   sync.Mutex    // held by an event-emitting transition (ordered)

	mu    sync.Mutex
	sinks []*sink
	stop  chan struct{}
	done  chan struct{}
}

// sink is one subscription's state in one pool.
type sink struct {
	sub     *Subscription
	pending []Event
	dropped int
	next    time.Time // the next delivery
}

// ordered begins a transition that emits events: while anybody listens it
// locks the hub's order lock, which unlock releases once the transition's
// compare-and-swap is done and its events recorded. It returns the hub to
// record on, or nil while nobody listens.
func (p *Pool) ordered() *hub {
	h := p.hub.Load()
	if h != nil {
		if testHookOrdered != nil {
			testHookOrdered(p)
		}
		h.order.Lock()
	}
	return h
}

// testHookOrdered, when set by a test, runs in ordered before the lock is
// taken: after the transition read the health word, before its
// compare-and-swap. It is reached only while somebody listens.
var testHookOrdered func(*Pool)

// unlock ends what ordered began.
func (h *hub) unlock() {
	if h != nil {
		h.order.Unlock()
	}
}

// record writes a transition into the next ring slot: its kind, its
// endpoint (nil for a pool event) and the health word the event reports.
// It does nothing on a nil hub, and drops and counts the event when the
// dispatcher is a whole ring behind.
func (h *hub) record(kind EventKind, c *core, health uint64, refused bool) {
	if h == nil {
		return
	}
	for {
		t := h.tail.Load()
		r := &h.ring[t%ringSize]
		switch seq := r.seq.Load(); {
		case seq == t:
			if !h.tail.CompareAndSwap(t, t+1) {
				continue
			}
			r.kind, r.refused, r.c, r.h, r.at = kind, refused, c, health, time.Now()
			r.seq.Store(t + 1)
			if t-h.head.Load() == ringSize/2 {
				h.signal()
			}
			return
		case seq < t: // full: the dispatcher is a whole ring behind
			h.dropped.Add(1)
			return
		}
	}
}

// emit records an event that no other transition can race: an endpoint's
// EventAdded, before any reader can see it.
func (p *Pool) emit(kind EventKind, c *core, health uint64) {
	p.hub.Load().record(kind, c, health, false)
}

// Subscription is a stream of event batches from one pool or every pool of
// a Registry. Receive from C; Close ends it.
type Subscription struct {
	ch     chan Batch // never changes: C may be called at any time
	closed bool       // under mu
	opts   SubscribeOptions
	mu     sync.Mutex
	pools  []*Pool
	reg    *Registry
	once   sync.Once
}

// C returns the channel batches arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Batch { return s.ch }

func (o SubscribeOptions) resolve() (SubscribeOptions, error) {
	if o.Interval == 0 {
		o.Interval = defaultInterval
	}
	if o.Chunk == 0 {
		o.Chunk = defaultChunk
	}
	if o.Buffer == 0 {
		o.Buffer = max(defaultBuffer, o.Chunk)
	}
	switch {
	case o.Interval < time.Millisecond || o.Interval > time.Hour:
		return o, fmt.Errorf("%w: Interval %v is outside 1ms..1h (0 means %v)", ErrConfig, o.Interval, defaultInterval)
	case o.Chunk < 1 || o.Chunk > 1_000_000:
		return o, fmt.Errorf("%w: Chunk %d is outside 1..1000000 (0 means %d)", ErrConfig, o.Chunk, defaultChunk)
	case o.Buffer < o.Chunk || o.Buffer > 10_000_000:
		return o, fmt.Errorf("%w: Buffer %d is outside Chunk..10000000 (0 means %d)", ErrConfig, o.Buffer, defaultBuffer)
	}
	return o, nil
}

// Subscribe returns a subscription to the pool's events from now on: the
// endpoints already in the pool are not reported (Endpoints lists them).
// The pool starts its dispatcher goroutine with its first subscriber and
// stops it with its last. Bad options are an error wrapping ErrConfig.
func (p *Pool) Subscribe(opts SubscribeOptions) (*Subscription, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	s := &Subscription{ch: make(chan Batch, 1), opts: o}
	s.attach(p)
	return s, nil
}

// attach adds s to p's subscribers.
func (s *Subscription) attach(p *Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || slices.Contains(s.pools, p) {
		return // closed, or attached already
	}
	s.pools = append(s.pools, p)
	p.subMu.Lock()
	defer p.subMu.Unlock()
	k := &sink{sub: s, next: time.Now().Add(s.opts.Interval)}
	if h := p.hub.Load(); h != nil {
		h.mu.Lock()
		h.sinks = append(h.sinks, k)
		h.mu.Unlock()
		h.signal() // k's first delivery may be due before the dispatcher's timer
		return
	}
	h := &hub{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), sinks: []*sink{k}}
	for i := range h.ring {
		h.ring[i].seq.Store(uint64(i))
	}
	p.hub.Store(h)
	go p.sweep(h)
}

// signal wakes the dispatcher without waiting.
func (h *hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// detach removes s from p's subscribers, and stops p's dispatcher if s was
// its last.
func (s *Subscription) detach(p *Pool) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	h := p.hub.Load()
	if h == nil {
		return
	}
	h.mu.Lock()
	for i, k := range h.sinks {
		if k.sub == s {
			h.sinks = append(h.sinks[:i], h.sinks[i+1:]...)
			break
		}
	}
	last := len(h.sinks) == 0
	h.mu.Unlock()
	if last {
		p.hub.Store(nil)
		close(h.stop)
		<-h.done
	}
}

// drop detaches s from p alone, as when p leaves its registry. It holds
// s.mu until p's dispatcher has let go of s: a Close that ran meanwhile
// would not find p in s.pools, and would close C while p could still send.
func (s *Subscription) drop(p *Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.pools, p); i >= 0 {
		s.pools = slices.Delete(s.pools, i, i+1)
		s.detach(p)
	}
}

// Close ends the subscription: no more batches, and C is closed. Close is
// idempotent; a pool's dispatcher goroutine ends with its last subscriber.
func (s *Subscription) Close() {
	s.once.Do(func() {
		if s.reg != nil {
			s.reg.unsubscribe(s)
		}
		s.mu.Lock()
		pools := s.pools
		s.pools, s.closed = nil, true
		s.mu.Unlock()
		for _, p := range pools {
			s.detach(p)
		}
		close(s.ch) // no pool sends any more: each detach waited for its sweep

	})
}

// sweep is a pool's event dispatcher goroutine. Its timer is set for the
// earliest delivery due; a wake drains the ring early and sets the timer
// again for the same deliveries, so no wake postpones one.
func (p *Pool) sweep(h *hub) {
	defer close(h.done)
	timer := time.NewTimer(h.untilDue())
	defer timer.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.wake:
			p.drain(h)
		case <-timer.C:
			p.drain(h)
			p.deliver(h, time.Now())
		}
		timer.Reset(h.untilDue())
	}
}

// untilDue is the time until the earliest delivery due, zero if one is.
func (h *hub) untilDue() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	now, d := time.Now(), time.Hour
	for _, k := range h.sinks {
		d = min(d, k.next.Sub(now))
	}
	return max(d, 0)
}

// drain moves the ring's records into every subscriber's buffer.
func (p *Pool) drain(h *hub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lost := int(h.dropped.Swap(0)); lost > 0 {
		for _, k := range h.sinks {
			k.dropped += lost
		}
	}
	for {
		t := h.head.Load()
		r := &h.ring[t%ringSize]
		if r.seq.Load() != t+1 {
			return // empty, or the next slot is still being written
		}
		e := Event{Kind: r.kind, Pool: p.name, Time: r.at}
		if r.c != nil {
			e.Addr = r.c.addr
			e.Streak, e.Ejections = int(streakOf(r.h)), int(ejectionsOf(r.h))
			if s := stateOf(r.h); (r.kind == EventEjected && !r.refused && s == stateEjected) ||
				(r.kind == EventProbeLeased && s == stateProbing) {
				e.Until = p.epoch.Add(time.Duration(deadlineOf(r.h)) * time.Microsecond)
			}
			e.Refused = r.refused
		}
		for _, k := range h.sinks {
			if len(k.pending) < k.sub.opts.Buffer {
				k.pending = append(k.pending, e)
			} else {
				k.dropped++
			}
		}
		r.c = nil
		r.seq.Store(t + ringSize)
		h.head.Store(t + 1)
	}
}

// deliver sends each subscriber whose delivery is due a batch of at most
// Chunk events, without waiting: one that has not taken its last batch
// keeps its events for its next delivery. Deliveries are due every
// Interval from the subscription's start, or from now for a subscriber
// the dispatcher fell a whole Interval behind, so it gets no catch-up burst.
func (p *Pool) deliver(h *hub, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range h.sinks {
		if now.Before(k.next) {
			continue
		}
		if k.next = k.next.Add(k.sub.opts.Interval); !k.next.After(now) {
			k.next = now.Add(k.sub.opts.Interval)
		}
		if len(k.pending) == 0 && k.dropped == 0 {
			continue
		}
		n := min(len(k.pending), k.sub.opts.Chunk)
		b := Batch{Events: append([]Event(nil), k.pending[:n]...), Dropped: k.dropped}
		select {
		case k.sub.ch <- b:
			k.pending = append(k.pending[:0], k.pending[n:]...)
			k.dropped = 0
		default:
		}
	}
}
