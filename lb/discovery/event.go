package discovery

import "time"

// EventBuffer is how many events Runner.Events holds for a reader that
// has not taken them; past it, events are dropped and counted in the next
// one delivered (Event.Dropped).
const EventBuffer = 64

// EventKind is what happened to a Runner's resolving.
type EventKind uint8

// Event kinds. Changes of membership are not among them: the pool reports
// each endpoint added or removed by the Runner's Set (lb.EventAdded and
// lb.EventRemoved, through lb.Pool.Subscribe).
const (
	// EventResolveFailed: a resolve failed and the target keeps its last
	// good set; Event.Err says why, Event.Failures counts the failures in a
	// row, this one included.
	EventResolveFailed EventKind = iota + 1 // resolve_failed
	// EventWatchFailed: the Resolver's Watch returned; Event.Err says why.
	// The Runner restarts it after the retry delay.
	EventWatchFailed // watch_failed
	// EventRecovered: a resolve succeeded after Event.Failures failed ones
	// in a row, and its set of Event.Endpoints is applied.
	EventRecovered // recovered
)

// Event is one thing that happened to a Runner, as Runner.Events delivers
// it.
type Event struct {
	Kind EventKind
	Time time.Time // when it happened
	// Err is the failure, wrapping ErrResolve (as Status.LastError or
	// Status.WatchError holds it); nil for EventRecovered.
	Err error
	// Failures counts failed resolves in a row: up to and including this
	// one for EventResolveFailed, ended by this success for
	// EventRecovered; zero for EventWatchFailed.
	Failures int
	// Endpoints is the size of the set applied, for EventRecovered.
	Endpoints int
	// Dropped counts the events lost just before this one because the
	// reader of Runner.Events fell EventBuffer behind.
	Dropped int
}

// Events returns the channel the Runner's events arrive on, in the order
// they happened. It is closed by Close. The Runner never waits for its
// reader: while EventBuffer events are unread, new ones are dropped and
// counted in the next one delivered. A Runner has one such channel, so
// events go to one reader; a Runner nobody reads from loses nothing but
// its events.
func (r *Runner) Events() <-chan Event { return r.events }

// emitLocked delivers e without waiting; r.mu is held.
func (r *Runner) emitLocked(e Event) {
	e.Time = time.Now()
	e.Dropped = r.dropped
	select {
	case r.events <- e:
		r.dropped = 0
	default:
		r.dropped++
	}
}
