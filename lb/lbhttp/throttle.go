package lbhttp

// ThrottleStats is what a Transport's throttle holds at one moment, as
// Transport.ThrottleStats reads it. The zero value is a throttle that has
// counted nothing, or none. Its fields are those of lbgrpc.ThrottleStats
// and lbprom.ThrottleStats, so each converts to the others.
type ThrottleStats struct {
	// Requests is the attempts the throttle counted over its window, the
	// last two minutes: first attempts and retries, those it refused
	// included, those not sent after all (no endpoint, the context ended)
	// not.
	Requests int64
	// Accepts is the attempts endpoints accepted over the same window:
	// every response but a 429 or a 503.
	Accepts int64
	// Rejected is the attempts the throttle refused since it started (the
	// Transport's first request or ThrottleStats call): first attempts
	// that failed with ErrThrottled and retries not sent. It is a total
	// that only grows, not a count over the window.
	Rejected uint64
}

// ThrottleStats returns the counts of the Transport's throttle now, for
// monitoring (lbprom.NewThrottleCollector exports them); the zero
// ThrottleStats when Throttle is off or a field is out of range. It is
// safe to call while requests run. Like RoundTrip, it fixes the fields:
// call it once they are set.
func (t *Transport) ThrottleStats() ThrottleStats {
	t.once.Do(t.init)
	if t.throttle == nil {
		return ThrottleStats{}
	}
	s := t.throttle.Stats()
	return ThrottleStats{Requests: s.Requests, Accepts: s.Accepts, Rejected: s.Rejected}
}
