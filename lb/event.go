package lb

import "time"

// EventKind is what happened to an endpoint or a pool. Its String is the
// name in the constant's line comment ("added", "probe_leased", ...), and
// "EventKind(n)" for a value that is not a kind.
type EventKind uint8

// Event kinds.
const (
	// EventAdded: the endpoint joined the pool (New, Add, Set).
	EventAdded EventKind = iota + 1 // added
	// EventRemoved: the endpoint left the pool (Remove, Set).
	EventRemoved // removed
	// EventEjected: the endpoint reached Config.EjectAfter failures in a row, or
	// its probe failed, and is out until Event.Until; with Event.Refused,
	// the MaxEjectedPercent cap refused the ejection and it stays up.
	EventEjected // ejected
	// EventProbeLeased: a Pick was leased the ejected endpoint as its probe; the
	// probe's window ends at Event.Until.
	EventProbeLeased // probe_leased
	// EventProbeTimedOut: a probe's window ended without an outcome, and the
	// endpoint was leased to a new probe (an EventProbeLeased follows).
	EventProbeTimedOut // probe_timed_out
	// EventProbeFailed: the endpoint's probe failed; an EventEjected with the next
	// cooldown follows.
	EventProbeFailed // probe_failed
	// EventReinstated: the endpoint's probe succeeded and it is up again.
	EventReinstated // reinstated
	// EventSaturated: a Pick, or a PickWait that then waits, found every
	// endpoint that is up at Config.MaxConcurrency (a pool event: Event.Addr
	// is empty).
	EventSaturated // saturated
	// EventDrained: a slot was given back after EventSaturated, and nobody
	// waits. A slot a Done passes straight to a PickWait caller leaves the
	// pool as full as it was, so it drains nothing.
	EventDrained // drained
)

// Event is one transition, as a subscriber receives it. The fields follow
// Envoy's outlier-detection event where they apply.
type Event struct {
	Kind EventKind
	Pool string    // the pool's name in its Registry; "" for a pool outside one
	Addr string    // the endpoint; "" for the pool events EventSaturated and EventDrained
	Time time.Time // when it happened
	// Streak is the endpoint's failures in a row after the transition.
	Streak int
	// Ejections counts the endpoint's ejections in a row without a success
	// (each doubles the cooldown).
	Ejections int
	// Until is the end of the cooldown (Ejected) or of the probe's window
	// (ProbeLeased); zero for the other kinds.
	Until time.Time
	// Refused is set on an EventEjected that the MaxEjectedPercent cap refused:
	// the endpoint reached EjectAfter, or was found an outlier, but stays up.
	Refused bool
	// Reason is why an EventEjected ejected (or would have): consecutive
	// failures, or an outlier's success rate or failure percentage. After a
	// failed probe it is the reason the endpoint was first ejected.
	Reason EjectReason
	// SuccessRate and Threshold are, for an outlier's EventEjected, the
	// endpoint's success rate over the interval (0..1) and the rate it fell
	// below: mean − StdevFactor × sd, or 1 − FailurePercent/100.
	SuccessRate, Threshold float64
}

// Batch is one delivery to a subscriber: events in the order they
// happened for each endpoint, and how many events were dropped for this
// subscriber since its previous batch because it fell behind.
type Batch struct {
	Events  []Event
	Dropped int
}

// SubscribeOptions paces a subscription. The zero value means the
// defaults: a batch of at most 5,000 events every 100 ms, and at most
// 100,000 events held for a subscriber that falls behind.
type SubscribeOptions struct {
	// Interval is how often a batch is due, counted from Subscribe; one
	// with nothing to tell is not sent. Zero means 100 ms; otherwise
	// 1ms..1h.
	Interval time.Duration
	// Chunk is the most events in a batch; the rest wait for the next one,
	// so a subscriber gets at most Chunk events per Interval. Zero means
	// 5,000; otherwise 1..1,000,000.
	Chunk int
	// Buffer is the most events held for a subscriber that has not taken
	// them yet; past it new events are dropped and counted in the next
	// Batch. Zero means 100,000; otherwise Chunk..10,000,000.
	Buffer int
}
