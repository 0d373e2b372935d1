// Package fanout hands values that many goroutines write to many
// subscribers, in paced batches, without ever making a writer wait.
//
// A Ring is the writers' side: a fixed array of RingSize slots that Put
// fills without a lock or an allocation; a full ring drops the value and
// counts it. A Hub adds the readers' side: one dispatcher goroutine (Run,
// until Stop) drains the ring (early when it is half full), converts
// each value once and appends it to every sink's buffer, and hands each sink
// a batch of at most Chunk values every Interval of its own. A sink that does
// not take its batch keeps it for its next turn and, once its Buffer is full,
// loses only its own values, counted in its next batch taken: the writers
// and the other sinks never wait for it.
//
// Values reach every sink in the order of their slots, which is the order of
// the Puts that reserved them: one goroutine's values in the order it put
// them. Writers that need an order across goroutines (the state changes a
// value describes) hold a lock of their own from the change to its Put.
package fanout

import "sync/atomic"

// RingSize is the number of slots in a Ring. It is fixed so that a Ring is
// one array inside its owner; with the dispatcher draining at half full, a
// burst of a few thousand values between drains loses nothing.
const RingSize = 1 << 13

// Ring is a bounded queue that many goroutines Put to and one goroutine
// Gets from, without locks (Vyukov's bounded queue with a single reader).
// The zero value is an empty ring. A Put to a full ring drops its value and
// counts it (Dropped), so a writer never waits for the reader.
type Ring[T any] struct {
	slots   [RingSize]slot[T]
	tail    atomic.Uint64 // the next ticket a Put reserves
	head    atomic.Uint64 // the next ticket Get reads
	dropped atomic.Uint64 // values Put dropped since the last Dropped
	wake    chan struct{} // a Hub's: told when a Put leaves the ring half full
}

// slot is one place in the ring. Ticket t uses slot t%RingSize in lap
// L = t/RingSize, and the slot's state says how far lap L has got: 2L while
// the slot is free for lap L's ticket, 2L+1 once that ticket's value is
// written, 2L+2 (free for lap L+1) once it is read. A zero slot is free for
// lap 0, so the zero Ring needs no setup.
type slot[T any] struct {
	state atomic.Uint64
	v     T
}

// Put writes v into the next slot. When the reader is a whole ring behind,
// Put drops v, counts it and reports false. In a Hub's ring, the Put that
// leaves the ring half full also wakes the dispatcher.
func (r *Ring[T]) Put(v T) bool {
	for {
		t := r.tail.Load()
		s := &r.slots[t%RingSize]
		free := t / RingSize * 2
		switch st := s.state.Load(); {
		case st == free:
			if !r.tail.CompareAndSwap(t, t+1) {
				continue // another Put reserved t
			}
			s.v = v
			s.state.Store(free + 1)
			if t-r.head.Load() == RingSize/2 { // a head past t wraps: no match
				signal(r.wake)
			}
			return true
		case st < free: // the previous lap's value is still unread: full
			r.dropped.Add(1)
			return false
		}
		// st > free: another Put wrote ticket t; reserve the next one.
	}
}

// Get takes the oldest value. It reports false when the ring is empty or
// the oldest slot is still being written. One goroutine at a time may call
// Get; the slot is cleared, so the ring keeps nothing that v points to.
func (r *Ring[T]) Get() (v T, ok bool) {
	t := r.head.Load()
	s := &r.slots[t%RingSize]
	lap := t / RingSize * 2
	if s.state.Load() != lap+1 {
		return v, false
	}
	v = s.v
	var zero T
	s.v = zero
	s.state.Store(lap + 2)
	r.head.Store(t + 1)
	return v, true
}

// Dropped returns how many values Put dropped since the previous call.
func (r *Ring[T]) Dropped() uint64 { return r.dropped.Swap(0) }

// signal tells c without waiting; a nil c is never told.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
