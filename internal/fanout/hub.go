package fanout

import (
	"slices"
	"sync"
	"time"
)

// Options paces one sink. Every field must be positive, and Buffer at
// least Chunk; Add panics otherwise.
type Options struct {
	// Interval is how often a batch is due, counted from Add; a turn with
	// nothing to tell sends nothing.
	Interval time.Duration
	// Chunk is the most values in one batch; the rest wait for the next.
	Chunk int
	// Buffer is the most values held for the sink; past it, new values
	// are dropped and counted in the sink's next batch.
	Buffer int
}

// Sink is one subscriber of a Hub, as Add returns it for Remove.
type Sink[E any] struct {
	opts    Options
	deliver func(batch []E, dropped int) bool
	pending []E
	dropped int       // values lost for this sink since its last batch taken
	next    time.Time // the next delivery due
}

// Hub is a Ring whose values a dispatcher, Run, converts and hands to
// sinks in paced batches (see the package doc). The zero Hub has an empty
// ring and no sinks, and dispatches nothing: values Put before Init wait in
// the ring for Run's first drain.
type Hub[R, E any] struct {
	ring    Ring[R] // its wake channel wakes the dispatcher to drain early
	convert func(R) E

	mu    sync.Mutex // the sinks, and the ring's reading side
	sinks []*Sink[E]
	stop  chan struct{}
	done  chan struct{}
}

// Init readies the Hub to dispatch, making each value an E once with
// convert, which runs with the Hub locked and must not call it. Call Init
// once, before the Hub is shared and before Run; Put, Add, Remove and Stop
// may then be called from any goroutine.
func (h *Hub[R, E]) Init(convert func(R) E) {
	h.convert = convert
	h.ring.wake, h.stop, h.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
}

// Stop ends Run and waits for it to return: once Stop returns, no sink's
// deliver runs again, and values still in the ring are never delivered.
func (h *Hub[R, E]) Stop() {
	close(h.stop)
	<-h.done
}

// Put records v for every sink. It never blocks and allocates nothing: a
// full ring drops v and counts it for every sink. The Put that makes the
// ring half full wakes the dispatcher to drain it early.
func (h *Hub[R, E]) Put(v R) { h.ring.Put(v) }

// Add adds a sink paced by o, whose first batch is due o.Interval from now,
// and returns it. The sink gets the values drained from now on, including
// any Put just before Add and not drained yet. deliver is called on the
// dispatcher goroutine with the Hub locked, so it must neither block nor
// call the Hub: it is handed a batch of values in slot order (its own to
// keep) and how many values the sink lost since its last batch taken, and
// reports whether it took them; a batch it does not take stays pending for
// the sink's next turn.
func (h *Hub[R, E]) Add(o Options, deliver func(batch []E, dropped int) bool) *Sink[E] {
	if o.Interval <= 0 || o.Chunk < 1 || o.Buffer < o.Chunk {
		panic("fanout: Options need a positive Interval and Chunk, and a Buffer of at least Chunk")
	}
	k := &Sink[E]{opts: o, deliver: deliver, next: time.Now().Add(o.Interval)}
	h.mu.Lock()
	h.sinks = append(h.sinks, k)
	h.mu.Unlock()
	signal(h.ring.wake) // k's first delivery may be due before the dispatcher's timer
	return k
}

// Remove removes k and returns how many sinks are left. Once it returns,
// k's deliver is not called again; removing a sink twice changes nothing.
func (h *Hub[R, E]) Remove(k *Sink[E]) (left int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.sinks, k); i >= 0 {
		h.sinks = slices.Delete(h.sinks, i, i+1)
	}
	return len(h.sinks)
}

// Run is the dispatcher: call it once after Init, on a goroutine of its
// own, and it returns when Stop is called. Its timer is set for the
// earliest delivery due; a wake drains the ring early and sets the timer
// again for the same deliveries, so no wake postpones one.
func (h *Hub[R, E]) Run() {
	defer close(h.done)
	timer := time.NewTimer(h.untilDue())
	defer timer.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.ring.wake:
			h.drain()
		case <-timer.C:
			h.drain()
			h.deliver(time.Now())
		}
		timer.Reset(h.untilDue())
	}
}

// untilDue is the time until the earliest delivery due, zero if one is,
// and an hour while there are no sinks.
func (h *Hub[R, E]) untilDue() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	now, d := time.Now(), time.Hour
	for _, k := range h.sinks {
		d = min(d, k.next.Sub(now))
	}
	return max(d, 0)
}

// drain moves the ring's values into every sink's buffer, and the ring's
// drops into every sink's count.
func (h *Hub[R, E]) drain() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lost := int(h.ring.Dropped()); lost > 0 {
		for _, k := range h.sinks {
			k.dropped += lost
		}
	}
	for {
		v, ok := h.ring.Get()
		if !ok {
			return // empty, or the next slot is still being written
		}
		e := h.convert(v)
		for _, k := range h.sinks {
			if len(k.pending) < k.opts.Buffer {
				k.pending = append(k.pending, e)
			} else {
				k.dropped++
			}
		}
	}
}

// deliver offers each sink whose delivery is due a batch of at most Chunk
// values. Deliveries are due every Interval from Add, or from now for a
// sink the dispatcher fell a whole Interval behind, so it gets no catch-up
// burst.
func (h *Hub[R, E]) deliver(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range h.sinks {
		if now.Before(k.next) {
			continue
		}
		if k.next = k.next.Add(k.opts.Interval); !k.next.After(now) {
			k.next = now.Add(k.opts.Interval)
		}
		if len(k.pending) == 0 && k.dropped == 0 {
			continue
		}
		n := min(len(k.pending), k.opts.Chunk)
		if k.deliver(append([]E(nil), k.pending[:n]...), k.dropped) {
			k.pending = append(k.pending[:0], k.pending[n:]...)
			k.dropped = 0
		}
	}
}
