package lb

import (
	"fmt"
	"sync"
	"time"

	"github.com/nanolb/nanolb/internal/fanout"
)

// Event delivery. While nobody listens, a transition tests one pointer
// (p.hub) and does nothing else. While somebody does, the pool has a hub: a
// fanout.Hub whose ring the transitions write their records into, without
// a lock or an allocation, and whose dispatcher goroutine makes each record
// an Event and paces every subscriber's batches by its SubscribeOptions. A
// subscriber that does not take its batches loses only its own events,
// counted in its next batch: the pool and the other subscribers never wait
// for it.
//
// Per-endpoint order: a transition that emits events holds the hub's order
// lock from before its compare-and-swap until its records are written
// (ordered). No other such transition of the pool can then come between
// its swap and its ring slots, so slot order is transition order for each
// endpoint, whatever values the health word passed through meanwhile.
// Transitions that emit nothing (a streak growing, a success ending one)
// never take it, and nobody takes it while nobody listens.

const (
	defaultInterval = 100 * time.Millisecond
	defaultChunk    = 5000
	defaultBuffer   = 100000
)

// record is a transition as the ring holds it; event makes it an Event.
type record struct {
	kind    EventKind
	refused bool
	note    outlierNote // an outlier ejection's reason, rate and threshold
	c       *core       // nil for pool events
	h       uint64      // the health word after the transition
	at      time.Time
}

// hub is a pool's listening state, present while it has subscribers.
type hub struct {
	order sync.Mutex // held by an event-emitting transition (ordered)
	fanout.Hub[record, Event]
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

// record writes a transition into the hub's ring: its kind, its endpoint
// (nil for a pool event) and the health word the event reports. It does
// nothing on a nil hub, and the ring drops and counts the event when the
// dispatcher is a whole ring behind.
func (h *hub) record(kind EventKind, c *core, health uint64, refused bool) {
	h.recordNoted(kind, c, health, refused, outlierNote{})
}

// recordNoted is record for an outlier ejection's event.
func (h *hub) recordNoted(kind EventKind, c *core, health uint64, refused bool, note outlierNote) {
	if h == nil {
		return
	}
	h.Put(record{kind: kind, refused: refused, note: note, c: c, h: health, at: time.Now()})
}

// emit records an event that no other transition can race: an endpoint's
// EventAdded, before any reader can see it.
func (p *Pool) emit(kind EventKind, c *core, health uint64) {
	p.hub.Load().record(kind, c, health, false)
}

// event makes a record the Event subscribers receive: the endpoint's
// address, and its streak and ejections from the health word; Until when
// the word still holds the cooldown or the probe window the event reports.
func (p *Pool) event(r record) Event {
	e := Event{Kind: r.kind, Pool: p.name, Time: r.at}
	if r.c != nil {
		e.Addr = *r.c.addr
		e.Streak, e.Ejections = int(streakOf(r.h)), int(ejectionsOf(r.h))
		if s := stateOf(r.h); (r.kind == EventEjected && !r.refused && s == stateEjected) ||
			(r.kind == EventProbeLeased && s == stateProbing) {
			e.Until = p.epoch.Add(time.Duration(deadlineOf(r.h)) * time.Microsecond)
		}
		e.Refused = r.refused
		if r.kind == EventEjected {
			e.Reason, e.SuccessRate, e.Threshold = r.note.reason, r.note.rate, r.note.threshold
		}
	}
	return e
}

// Subscription is a stream of event batches from one pool or every pool of
// a Registry. Receive from C; Close ends it.
type Subscription struct {
	ch     chan Batch // never changes: C may be called at any time
	closed bool       // under mu
	opts   fanout.Options
	mu     sync.Mutex
	pools  map[*Pool]*fanout.Sink[Event] // each pool attached, and s's sink in its hub
	reg    *Registry
	once   sync.Once
}

// C returns the channel batches arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Batch { return s.ch }

// resolve applies the defaults to o and checks its limits.
func (o SubscribeOptions) resolve() (fanout.Options, error) {
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
		return fanout.Options{}, fmt.Errorf("%w: Interval %v is outside 1ms..1h (0 means %v)", ErrConfig, o.Interval, defaultInterval)
	case o.Chunk < 1 || o.Chunk > 1_000_000:
		return fanout.Options{}, fmt.Errorf("%w: Chunk %d is outside 1..1000000 (0 means %d)", ErrConfig, o.Chunk, defaultChunk)
	case o.Buffer < o.Chunk || o.Buffer > 10_000_000:
		return fanout.Options{}, fmt.Errorf("%w: Buffer %d is outside Chunk..10000000 (0 means %d)", ErrConfig, o.Buffer, defaultBuffer)
	}
	return fanout.Options{Interval: o.Interval, Chunk: o.Chunk, Buffer: o.Buffer}, nil
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

// attach adds s to p's subscribers, starting p's hub if s is the first.
func (s *Subscription) attach(p *Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pools[p]; s.closed || ok {
		return // closed, or attached already
	}
	if s.pools == nil {
		s.pools = make(map[*Pool]*fanout.Sink[Event])
	}
	p.subMu.Lock()
	defer p.subMu.Unlock()
	h := p.hub.Load()
	if h == nil {
		h = new(hub)
		h.Init(p.event)
		go h.Run() // the pool's dispatcher, until its last subscriber leaves
		p.hub.Store(h)
	}
	s.pools[p] = h.Add(s.opts, s.send)
}

// send hands the subscriber a batch if it has taken its previous one.
func (s *Subscription) send(events []Event, dropped int) bool {
	select {
	case s.ch <- Batch{Events: events, Dropped: dropped}:
		return true
	default:
		return false
	}
}

// detach removes s's sink k from p's hub, and stops the hub if k was its
// last.
func (s *Subscription) detach(p *Pool, k *fanout.Sink[Event]) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	h := p.hub.Load()
	if h == nil {
		return
	}
	if h.Remove(k) == 0 {
		p.hub.Store(nil)
		h.Stop()
	}
}

// drop detaches s from p alone, as when p leaves its registry. It holds
// s.mu until p's dispatcher has let go of s: a Close that ran meanwhile
// would not find p in s.pools, and would close C while p could still send.
func (s *Subscription) drop(p *Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.pools[p]; ok {
		delete(s.pools, p)
		s.detach(p, k)
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
		for p, k := range pools {
			s.detach(p, k)
		}
		close(s.ch) // no pool sends any more: each detach removed s's sink
	})
}
