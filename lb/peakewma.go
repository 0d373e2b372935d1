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
// lease's start, end folds the latency into the average.

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
func (t *peakEWMATable) setup(_ *peakEWMATable, env tableEnv) { t.tau = env.cfg.ewmaDecay }

// pick chooses the cheaper of two endpoints drawn uniformly among those that
// are up, or returns nil when none is.
func (t *peakEWMATable) pick() *core {
	if len(t.slots) < 2 {
		return t.view.lone()
	}
	i, j, ok := t.view.drawPair()
	now := nanos()
	if !ok {
		return t.slow(i, j, now)
	}
	a, b := t.slots[i], t.slots[j]
	w := a
	if b.load(now, t.tau) < a.load(now, t.tau) {
		w = b
	}
	return &w.core
}

// slow is pick when a drawn candidate was not up.
func (t *peakEWMATable) slow(i, j uint32, now int64) *core {
	return t.view.mendPair(i, j, func(b, a int) bool {
		return t.slots[b].load(now, t.tau) < t.slots[a].load(now, t.tau)
	})
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
		s.observe(rtt, now, t.tau)
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
		cost *= math.Exp(-float64(elapsed) / tau)
	}
	return cost
}

// load is the endpoint's PeakEWMA cost: its latency average times its
// leases in flight plus one, doubled per failure of its current streak (as
// streakLoad doubles a count: a fast failure must not look cheap).
func (s *peakEWMASlot) load(now int64, tau float64) float64 {
	pending := s.inflight.Load()
	cost := s.average(now, tau)
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
func (s *peakEWMASlot) observe(rtt, now int64, tau float64) {
	sample := float64(max(rtt, 0))
	for {
		bitsOld := s.cost.Load()
		old := math.Float64frombits(bitsOld)
		next := sample
		if sample < old {
			w := math.Exp(-float64(max(now-s.stamp.Load(), 0)) / tau)
			next = old*w + sample*(1-w)
		}
		if s.cost.CompareAndSwap(bitsOld, math.Float64bits(next)) {
			s.stamp.Store(now)
			return
		}
	}
}
