package lb

import (
	"context"
	"errors"
	"math"
)

// PeakEWMA: P2C on a cost instead of the bare in-flight count, as linkerd
// and Finagle balance. The cost is a peak-sensitive moving average of the
// endpoint's latency times (in flight + 1). Only this policy's slot carries
// the average and only its leases read the latency clock: begin stamps a
// lease's start, end folds the latency into the average. Those two reads
// are the whole clock cost of a Pick+Done (pick compares without one, see
// cheaper), and they dominate it: a monotonic read costs 1.5 to 2 times
// a whole P2C Pick+Done on the 2-core VM of BENCHMARKS.md (a vDSO call).
// Exponentials come from a table (expNeg), not math.Exp.

// penaltyCost is PeakEWMA's cost of an endpoint with leases in flight but no
// latency sample yet, so that a new endpoint is tried, not stampeded (the
// rule Finagle's PeakEwma uses): far above any real latency.
const penaltyCost = float64(1 << 50)

// failureLatency is the least latency a failed request teaches PeakEWMA:
// a fast failure must not make an endpoint look fast (linkerd treats a
// failure as a 5 s sample). With the average decaying on read (τ =
// Config.EWMADecay, 10 s by default), an endpoint that failed once costs
// about as much as a 1 ms one again after a minute, sooner if it succeeds.
const failureLatency = int64(1e9)

// setup takes the decay time constant from the pool's settings.
func (t *peakEWMATable) setup(_ *peakEWMATable, env tableEnv) {
	t.tau = env.cfg.ewmaDecay
	t.invTau = 1 / t.tau
}

// pick chooses the cheaper of two endpoints drawn uniformly among those that
// are up, or returns nil when none is. It reads no clock: see cheaper.
func (t *peakEWMATable) pick() *core {
	if len(t.slots) < 2 {
		return t.view.lone()
	}
	i, j, ok := t.view.drawPair()
	if !ok {
		return t.slow(i, j)
	}
	a, b := t.slots[i], t.slots[j]
	if t.cheaper(b, a) {
		return &b.core
	}
	return &a.core
}

// slow is pick when a drawn candidate was not up.
func (t *peakEWMATable) slow(i, j uint32) *core {
	return t.view.mendPair(i, j, func(b, a int) bool { return t.cheaper(t.slots[b], t.slots[a]) })
}

// cheaper reports whether x costs less than y now, by their load, without
// reading the clock: decaying both averages to now multiplies both by
// e^(-(now-newer stamp)/tau), which cannot change their order, so only
// the older average is decayed, to the newer stamp. The order is the one
// load(now) gives, except against the penalty, which does not decay: an
// endpoint whose cost (average times leases plus one times its streak
// multiplier) passes penaltyCost, about 13 days, may lose to a busy
// unmeasured endpoint a little earlier than it would at now.
func (t *peakEWMATable) cheaper(x, y *peakEWMASlot) bool {
	cx, sx := math.Float64frombits(x.cost.Load()), x.stamp.Load()
	cy, sy := math.Float64frombits(y.cost.Load()), y.stamp.Load()
	if sx < sy {
		cx *= expNeg(float64(sy-sx) * t.invTau)
	} else if sy < sx {
		cy *= expNeg(float64(sx-sy) * t.invTau)
	}
	return x.weigh(cx) < y.weigh(cy)
}

// begin stamps the lease with its start on the latency clock.
func (t *peakEWMATable) begin(*core) int64 { return nanos() }

// end folds the lease's latency into its endpoint's average, a failure
// as at least failureLatency, unless the request was cancelled (which says
// nothing about latency) or the endpoint left this table meanwhile.
func (t *peakEWMATable) end(c *core, start int64, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if s := t.slotOf(c); s != nil {
		now := nanos()
		rtt := now - start
		if err != nil {
			rtt = max(rtt, failureLatency)
		}
		s.observe(rtt, now, t.invTau)
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
		cost *= expNeg(float64(elapsed) / tau)
	}
	return cost
}

// load is the endpoint's PeakEWMA cost at now: see weigh.
func (s *peakEWMASlot) load(now int64, tau float64) float64 { return s.weigh(s.average(now, tau)) }

// weigh is the endpoint's PeakEWMA cost for its latency average: the
// average times its leases in flight plus one, doubled per failure of its
// current streak (as streakLoad doubles a count: a fast failure must not
// look cheap).
func (s *peakEWMASlot) weigh(cost float64) float64 {
	pending := s.inflight.Load()
	if cost == 0 && pending > 0 {
		cost = penaltyCost + float64(pending)
	} else {
		cost *= float64(pending + 1)
	}
	if h := s.health.Load(); h != 0 {
		cost *= float64(streakLoad(0, h) + 1) // 2^streak, or 1 on a trial
	}
	return cost
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

// expNeg returns e^-x for x >= 0 within expNegError relative, and 0 from
// x = 708 (where e^-x is 1e-308, the smallest normal float64): e^-x =
// 2^-y for y = x·log2(e) = k + f, 2^-k set in the exponent bits and 2^-f
// interpolated in expTable. 1.6 ns against math.Exp's 9.5 (issue 11).
func expNeg(x float64) float64 {
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
