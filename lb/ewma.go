package lb

import (
	"math"
	"unsafe"
)

// penaltyCost is PeakEWMA's cost of an endpoint with leases in flight but no
// latency sample yet, so that a new endpoint is tried, not stampeded (the
// rule Finagle's PeakEwma uses): far above any real latency.
const penaltyCost = float64(1 << 50)

// peakSlotOf returns the PeakEWMA slot that holds c. Only leases of
// PeakEWMA pools are timed, and their cores are the first field of a
// peakEWMASlot allocation (the generated layout guards pin the offset).
func peakSlotOf(c *core) *peakEWMASlot { return (*peakEWMASlot)(unsafe.Pointer(c)) }

// average returns the latency average decayed to now.
func (s *peakEWMASlot) average(now int64, tau float64) float64 {
	cost := math.Float64frombits(s.cost.Load())
	if elapsed := now - s.stamp.Load(); elapsed > 0 && cost > 0 {
		cost *= math.Exp(-float64(elapsed) / tau)
	}
	return cost
}

// load is the endpoint's PeakEWMA cost: its latency average times its
// leases in flight plus one.
func (s *peakEWMASlot) load(now int64, tau float64) float64 {
	pending := s.inflight.Load()
	cost := s.average(now, tau)
	if cost == 0 && pending > 0 {
		return penaltyCost + float64(pending)
	}
	return cost * float64(pending+1)
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

// peakEWMASlow is PeakEWMA when a sampled candidate was not up.
func peakEWMASlow(v *view, slots []*peakEWMASlot, i, j uint32, now int64, tau float64) *core {
	a, b := v.upPair(int(i), int(j))
	switch {
	case a < 0:
		return nil
	case b >= 0 && slots[b].load(now, tau) < slots[a].load(now, tau):
		return &slots[b].core
	}
	return &slots[a].core
}
