// Package gradient is an adaptive concurrency limit for one server: how
// many requests a client keeps in flight on it, raised while their latency
// stays near the server's unloaded latency and lowered as it grows, in the
// manner of Envoy's adaptive concurrency filter (the gradient controller)
// and Netflix's concurrency-limits.
//
// A Limit is fed one Window of measurements at a time (requests completed,
// their summed latency, timeouts) and answers with the next limit:
//
//	gradient = clamp(minRTT × (1 + Buffer) / latency, 0.5, 2)
//	limit'   = limit × gradient + √(limit × gradient)
//
// where latency is the window's mean and minRTT the mean latency measured
// while the limit was pinned at Min. The square root is headroom: at the
// target latency the limit still grows, so it keeps probing for capacity,
// and the result settles where the server's queue adds about Buffer to its
// latency. A window with a timeout takes the limit to at most Backoff
// times what it was, and a window in which the client never had more than
// half the limit in flight never raises it: a limit is not raised on
// evidence it was never used.
//
// minRTT is measured at the start and again every Remeasure windows (with
// up to 15% jitter, so that endpoints do not measure in step): the limit is
// pinned at Min, windows are skipped until the requests in flight are down
// to Min, then MinSamples completions are averaged; the limit then goes
// back to what it was.
//
// A Limit is not safe for concurrent use: one goroutine (the pool's
// evaluator) owns it.
package gradient

import (
	"math"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultMin        = 3
	DefaultMax        = 1000
	DefaultBuffer     = 0.25
	DefaultBackoff    = 0.9
	DefaultMinSamples = 25
	DefaultRemeasure  = 600 // windows: a minute at 100 ms
)

// Config is a Limit's tuning. A zero field means its default.
type Config struct {
	Min, Max   int     // bounds of the limit; Min is also the limit minRTT is measured at
	Buffer     float64 // latency over minRTT that the limit allows, as a fraction of minRTT
	Backoff    float64 // factor a window with timeouts multiplies the limit by, at most
	MinSamples int     // completions averaged into minRTT
	Remeasure  int     // windows between measurements of minRTT
}

// Window is what one evaluation interval saw of a server.
type Window struct {
	Length    time.Duration // how long the window lasted
	Completed int           // requests that completed without timing out
	Latency   time.Duration // their summed latency
	Timeouts  int           // requests that timed out
	InFlight  int           // requests in flight at the window's end
	Peak      int           // the most in flight when a request completed in the window
}

// phase is what a Limit is doing.
type phase uint8

const (
	draining  phase = iota // pinned at Min, waiting for in-flight to fall to it
	measuring              // pinned at Min, averaging minRTT
	tracking               // following the gradient
)

// Limit is one server's adaptive limit.
type Limit struct {
	cfg    Config
	phase  phase
	limit  float64       // the limit while tracking; what it returns to after measuring
	minRTT time.Duration // 0 until first measured
	sum    time.Duration // measuring: latency summed so far
	n      int           // measuring: completions so far
	next   int           // tracking: windows left until minRTT is measured again
	jitter func() uint64 // random source for Remeasure's jitter
}

// New returns a Limit that starts by measuring minRTT at cfg.Min. random,
// if not nil, jitters the remeasurement interval.
func New(cfg Config, random func() uint64) *Limit {
	if cfg.Min <= 0 {
		cfg.Min = DefaultMin
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	cfg.Max = max(cfg.Max, cfg.Min)
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Backoff <= 0 || cfg.Backoff >= 1 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = DefaultMinSamples
	}
	if cfg.Remeasure <= 0 {
		cfg.Remeasure = DefaultRemeasure
	}
	return &Limit{cfg: cfg, limit: float64(cfg.Min), jitter: random}
}

// Current is the limit in force: Min while minRTT is measured.
func (l *Limit) Current() int {
	if l.phase != tracking {
		return l.cfg.Min
	}
	return int(l.limit)
}

// MinRTT is the last measured unloaded latency, or 0 before the first.
func (l *Limit) MinRTT() time.Duration { return l.minRTT }

// Update takes one window's measurements and returns the limit in force
// from now on.
func (l *Limit) Update(w Window) int {
	switch l.phase {
	case draining:
		if w.InFlight <= l.cfg.Min {
			l.phase, l.sum, l.n = measuring, 0, 0
		}
	case measuring:
		l.sum += w.Latency
		l.n += w.Completed
		if l.n >= l.cfg.MinSamples {
			l.minRTT = max(l.sum/time.Duration(l.n), time.Microsecond)
			l.phase, l.next = tracking, l.interval()
		}
	case tracking:
		l.track(w)
		if l.next--; l.next <= 0 {
			l.phase = draining
		}
	}
	return l.Current()
}

// track applies the gradient rule to one window.
func (l *Limit) track(w Window) {
	next := l.limit
	if w.Completed > 0 {
		latency := w.Latency / time.Duration(w.Completed)
		target := float64(l.minRTT) * (1 + l.cfg.Buffer)
		gradient := min(max(target/float64(max(latency, 1)), 0.5), 2)
		next = l.limit*gradient + math.Sqrt(l.limit*gradient)
		if 2*float64(w.Peak) < l.limit {
			next = min(next, l.limit) // the client did not use what it had
		}
	}
	if w.Timeouts > 0 {
		next = min(next, l.limit*l.cfg.Backoff)
	}
	l.limit = min(max(next, float64(l.cfg.Min)), float64(l.cfg.Max))
}

// interval is the windows until the next measurement of minRTT: Remeasure
// less up to 15%.
func (l *Limit) interval() int {
	n := l.cfg.Remeasure
	if l.jitter != nil {
		n -= int(l.jitter() % uint64(n*15/100+1))
	}
	return max(n, 1)
}
