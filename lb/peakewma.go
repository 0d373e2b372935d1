package lb

import (
	"context"
	"errors"
	"math"

	"github.com/nanolb/nanolb/internal/fastrand"
)

// PeakEWMA: P2C on a cost instead of the bare in-flight count, as linkerd
// and Finagle balance. The cost is a peak-sensitive moving average of the
// endpoint's latency times (in flight + 1). Only this policy's slot carries
// the average and only its leases read the latency clock.
//
// The clock is the expensive part: a monotonic read costs more than a
// whole P2C Pick+Done (docs/design.md). So only a sample is timed: begin
// draws one lease in sampleEvery from the runtime's per-M random source
// (internal/fastrand: no shared write, no lock) and stamps its start; the others
// carry the mark unsampled and their successes read no clock at all. The
// average moves with time constant Config.EWMADecay (10 s by default), so
// one lease in 8 still gives an endpoint serving 8 requests a second about
// ten samples per time constant, and the in-flight factor of the cost,
// which reacts to a slow endpoint at once, is kept on every lease. Three
// rules hold for sampled and unsampled leases alike:
//   - an endpoint with no average yet (cost 0): its first latency comes
//     from its first lease, and until then penaltyCost keeps it from being
//     stampeded;
//   - a failure: its endpoint is weighed at a latency of at least
//     failureLatency while its failure streak lasts, save for a trial share
//     that halves with each failure in a row (failurePenalty); the penalty
//     lives in the health word, not the average, so the first success
//     ends it, and a timed failure teaches its latency as a success does;
//   - a cancellation teaches nothing, sampled or not.
//
// pick compares without reading the clock (see cheaper), and exponentials
// come from a series or a table (expNeg), not math.Exp.

// sampleEvery is the share of leases PeakEWMA times: one in sampleEvery,
// drawn at random (a power of two, so the draw is a mask); see
// BenchmarkPeakEWMAParts. The PeakEWMA doc (gen/policies.go) says 8.
const sampleEvery = 8

// sampleEvery is a power of two.
var _ [0]struct{} = [sampleEvery & (sampleEvery - 1)]struct{}{}

// unsampled is the mark of a lease begin did not time. A timed lease's mark
// is its start on the latency clock shifted left by one, with the low bit
// set (startMark), so no start reads as unsampled. Starts may be negative:
// inside a testing/synctest bubble the latency clock reads before its epoch.
const unsampled = 0

// penaltyCost is PeakEWMA's cost of an endpoint with leases in flight but no
// latency sample yet, so that a new endpoint is tried, not stampeded (the
// rule Finagle's PeakEwma uses): far above any real latency.
const penaltyCost = float64(1 << 50)

// failureLatency is the least latency, in ns, PeakEWMA weighs an endpoint
// at while it has a failure streak: a fast failure must not make an
// endpoint look fast (linkerd treats a failure as a 5 s sample). It is
// never written into the average, so it ends with the streak, at the
// endpoint's first success.
const failureLatency = float64(1e9)

// failureTrialEvery is the trial share of an endpoint with a streak of one
// failure: one comparison in failureTrialEvery weighs it at its bare cost,
// so that it soon gets the request whose success ends its streak, after
// about failureTrialEvery/2 of the picks its fair share would bring it (it
// is in two comparisons of n). Each further failure in a row halves the
// share, down to one comparison in failureTrialEvery<<failureTrialMaxShift:
// an endpoint that keeps failing gets ever fewer requests, and one stuck
// below EjectAfter still gets a trickle (see trialEvery). docs/policies.md
// has the reasoning.
const (
	failureTrialEvery    = 64
	failureTrialMaxShift = 8
)

// setup takes the decay time constant from the pool's settings.
func (t *peakEWMATable) setup(_ *peakEWMATable, env tableEnv) {
	t.tau = env.cfg.ewmaDecay
	t.invTau = 1 / t.tau
}

// pick chooses the cheaper of two endpoints drawn uniformly among those that
// are up, or returns nil when none is. It reads no clock: see cheaper. The
// first draw is drawPair's, read from the slots rather than the view's
// cores, as P2C does: one pointer array, not two, to miss in cache.
func (t *peakEWMATable) pick() *core { return t.pickWith(fastrand.Uint63()) }

// pickWith is pick for the random word r (63 bits), which zone routing
// shares with its own draw.
func (t *peakEWMATable) pickWith(r uint64) *core {
	slots := t.slots
	if len(slots) < 2 {
		return t.view.lone()
	}
	a, b := pairOf(slots, r)
	if !bothUp(&a.core, &b.core) {
		return t.slow()
	}
	if t.cheaper(b, a) {
		return &b.core
	}
	return &a.core
}

// pairOf returns the two distinct slots that pair draws from r.
func pairOf(slots []*peakEWMASlot, r uint64) (a, b *peakEWMASlot) {
	i, j := pair(r, uint32(len(slots)))
	return slots[i], slots[j]
}

// slow is pick when a drawn candidate was not up: drawPair's second draw,
// then mendPair if it misses too.
func (t *peakEWMATable) slow() *core {
	slots := t.slots
	i, j := pair(fastrand.Uint63(), uint32(len(slots)))
	a, b := slots[i], slots[j]
	if !bothUp(&a.core, &b.core) {
		return t.view.mendPair(i, j, func(b, a int) bool { return t.cheaper(slots[b], slots[a]) })
	}
	if t.cheaper(b, a) {
		return &b.core
	}
	return &a.core
}

// cheaper reports whether x costs less than y now, by their load, without
// reading the clock: decaying both averages to now multiplies both by
// e^(-(now-newer stamp)/tau), which cannot change their order, so only
// the older average is decayed, to the newer stamp, and only when that
// can change the answer (decay lowers a cost, so an older endpoint that
// already costs less, or a newer one that already costs as much, wins or
// loses without it: about half the pairs skip the exponential). The order
// is the one load(now) gives, except against what does not decay: an
// endpoint whose cost (average times leases plus one times its streak
// multiplier) passes penaltyCost, about 13 days, may lose to a busy
// unmeasured endpoint a little earlier than it would at now, and one whose
// average is near failureLatency is compared with a failing endpoint's
// floor as at the newer stamp rather than at now.
func (t *peakEWMATable) cheaper(x, y *peakEWMASlot) bool {
	cx, sx := math.Float64frombits(x.cost.Load()), x.stamp.Load()
	cy, sy := math.Float64frombits(y.cost.Load()), y.stamp.Load()
	// factors, by hand: it does not inline.
	px, hx := x.inFlight(), x.health.Load()
	py, hy := y.inFlight(), y.health.Load()
	mx, my := 1.0, 1.0
	var fx, fy float64
	if hx != 0 {
		mx, fx = failurePenalty(hx)
	}
	if hy != 0 {
		my, fy = failurePenalty(hy)
	}
	wx, wy := weighed(cx, px, mx, fx), weighed(cy, py, my, fy)
	if sx < sy {
		if wx >= wy && cx > 0 {
			wx = weighed(decayed(cx, float64(sy-sx)*t.invTau), px, mx, fx)
		}
	} else if sy < sx && wx < wy && cy > 0 {
		wy = weighed(decayed(cy, float64(sx-sy)*t.invTau), py, my, fy)
	}
	return wx < wy
}

// begin returns the lease's start on the latency clock if it is to be
// timed, or unsampled: one lease in sampleEvery is timed, and every lease
// of an endpoint with no latency average yet.
func (t *peakEWMATable) begin(c *core) int64 {
	if fastrand.Uint63()%sampleEvery != 0 {
		if s := t.slotOf(c); s == nil || s.cost.Load() != 0 {
			return unsampled
		}
	}
	return startMark()
}

// startMark is a timed lease's mark: its start on the latency clock, and
// the low bit that tells it from unsampled. The clock needs 62 bits for
// about 146 years.
func startMark() int64 { return nanos()<<1 | 1 }

// end folds a timed lease's latency into its endpoint's average, a
// failure's as a success's (a slow failure is slow; a fast one cannot
// lower the average below its decay, see observe), unless the request was
// cancelled (which says nothing about latency) or the endpoint left this
// table meanwhile. An untimed lease returns before any clock read: a
// failure's penalty is its streak (failurePenalty), not a latency.
func (t *peakEWMATable) end(c *core, mark int64, err error) {
	if mark == unsampled || err != nil && errors.Is(err, context.Canceled) {
		return
	}
	if s := t.slotOf(c); s != nil {
		now := nanos()
		s.observe(now-mark>>1, now, t.invTau)
	}
}

// slotOf returns c's slot in this table, or nil if c is not in it.
func (t *peakEWMATable) slotOf(c *core) *peakEWMASlot {
	if i := int(c.index.Load()); i < len(t.slots) && &t.slots[i].core == c {
		return t.slots[i]
	}
	return nil
}

// average returns the latency average decayed to now.
func (s *peakEWMASlot) average(now int64, tau float64) float64 {
	cost := math.Float64frombits(s.cost.Load())
	if elapsed := now - s.stamp.Load(); elapsed > 0 && cost > 0 {
		cost = decayed(cost, float64(elapsed)/tau)
	}
	return cost
}

// decayed returns a positive average decayed by e^-x, kept positive: an
// endpoint once measured never looks unmeasured (penaltyCost) however old
// its average, and decay never raises a cost, which cheaper relies on.
func decayed(cost, x float64) float64 {
	if v := cost * expNeg(x); v > 0 {
		return v
	}
	return math.SmallestNonzeroFloat64
}

// load is the endpoint's PeakEWMA cost at now: see weigh.
func (s *peakEWMASlot) load(now int64, tau float64) float64 { return s.weigh(s.average(now, tau)) }

// weigh is the endpoint's PeakEWMA cost for its latency average: the
// average, at least failureLatency during a failure streak, times its
// leases in flight plus one, doubled per failure of the streak (as
// streakLoad doubles a count: a fast failure must not look cheap), save
// on a trial (failurePenalty).
func (s *peakEWMASlot) weigh(cost float64) float64 {
	pending, mult, floor := s.factors()
	return weighed(cost, pending, mult, floor)
}

// factors returns what weigh needs besides the average: the endpoint's
// leases in flight, and its failure penalty (failurePenalty), 1 and 0
// without a streak. It reads each once (a trial is drawn once per call),
// so cheaper can weigh one endpoint twice with the same draw.
func (s *peakEWMASlot) factors() (pending int64, mult, floor float64) {
	if h := s.health.Load(); h != 0 {
		mult, floor = failurePenalty(h)
		return s.inFlight(), mult, floor
	}
	return s.inFlight(), 1, 0
}

// failurePenalty is how PeakEWMA weighs an endpoint with health word h,
// other than 0 (a failure streak of s, for an endpoint that is up): its
// cost doubled s times (2^min(s, maxStreakShift)) and its average taken
// as at least failureLatency, except in one comparison in
// failureTrialEvery·2^min(s-1, failureTrialMaxShift), a trial, where it
// is weighed as without a streak (1 and 0). Out of line so that cheaper's
// common case stays small.
func failurePenalty(h uint64) (mult, floor float64) {
	s := streakOf(h)
	if fastrand.Uint63()&(failureTrialEvery<<min(s-1, failureTrialMaxShift)-1) == 0 {
		return 1, 0
	}
	return float64(uint64(1) << min(s, maxStreakShift)), failureLatency
}

// weighed is weigh's cost for an average, leases in flight, streak
// multiplier and latency floor: an unmeasured endpoint (average 0) with
// leases in flight costs the penalty plus its leases.
func weighed(cost float64, pending int64, mult, floor float64) float64 {
	if cost == 0 && pending > 0 {
		cost = penaltyCost + float64(pending)
	} else {
		if cost < floor {
			cost = floor
		}
		cost *= float64(pending + 1)
	}
	return cost * mult
}

// observe folds one latency sample into the average: a sample above the
// (decayed) average replaces it, the peak; a lower one moves it by the
// weight 1-e^(-elapsed/tau). Concurrent samples race on a compare-and-swap
// of the average; the stamp follows, so an interleaving can only misplace a
// sample's decay by the time between two reports.
func (s *peakEWMASlot) observe(rtt, now int64, invTau float64) {
	sample := float64(max(rtt, 0))
	for {
		bitsOld := s.cost.Load()
		old := math.Float64frombits(bitsOld)
		next := sample
		if sample < old {
			w := expNeg(float64(max(now-s.stamp.Load(), 0)) * invTau)
			next = old*w + sample*(1-w)
		}
		if s.cost.CompareAndSwap(bitsOld, math.Float64bits(next)) {
			s.stamp.Store(now)
			return
		}
	}
}

// expSteps is the resolution of expTable: 2^-f is interpolated between
// multiples of 1/expSteps.
const expSteps = 512

// expTable[i] = 2^(-i/expSteps).
var expTable = func() (tab [expSteps + 1]float64) {
	for i := range tab {
		tab[i] = math.Exp2(-float64(i) / expSteps)
	}
	return tab
}()

// expNegError bounds expNeg's relative error: linear interpolation of 2^-f
// over steps of h = 1/expSteps errs by at most h²/8 · ln(2)² · 2^h of the
// value, 2.30e-7 for 512 steps (tested against math.Exp).
const expNegError = 2.3e-7

// expSeries is where expNeg switches from a series to its table: below
// it e^-x = 1 - x + x²/2 within x³/6 relative, under 1e-8, far inside
// expNegError. It is the common case of cheaper, whose two stamps are
// micro- to milliseconds apart against a time constant of seconds, and
// it skips the table's conversions and loads.
const expSeries = 1.0 / 256

// expNeg returns e^-x for x >= 0 within expNegError relative, and 0 from
// x = 708 (where e^-x is 1e-308, the smallest normal float64): below
// expSeries by its series, above as e^-x = 2^-y for y = x·log2(e) = k +
// f, 2^-k set in the exponent bits and 2^-f interpolated in expTable,
// several times cheaper than math.Exp.
func expNeg(x float64) float64 {
	if x < expSeries {
		return 1 - x*(1-0.5*x)
	}
	return expNegTable(x)
}

// expNegTable is expNeg from its table, for x >= expSeries; out of line,
// so that expNeg's common case inlines.
//
//go:noinline
func expNegTable(x float64) float64 {
	y := x * math.Log2E
	if !(y < 1022) {
		return 0
	}
	k := int(y)
	pos := (y - float64(k)) * expSteps
	i := int(pos) & (expSteps - 1)
	lo := expTable[i]
	v := lo + (expTable[i+1]-lo)*(pos-float64(i))
	return v * math.Float64frombits(uint64(1023-k)<<52)
}
