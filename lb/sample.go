package lb

import "github.com/nanolb/nanolb/internal/fastrand"

// Sampling among the endpoints that are up, shared by the policies that
// draw at random (P2C, PeakEWMA, Random) and the round robins' last resort.

// rejectTries is how many uniform draws choose makes before it counts: with
// a share f of endpoints not up, it counts with probability f^8 (0.4% at
// f = 50%).
const rejectTries = 8

// pair maps one random word to two distinct indexes in [0, n), n >= 2, each
// pair equally likely (up to the n/2^31 bias of multiply-shift reduction).
// The first index takes bits 0..31, the second bits 32..62.
func pair(r uint64, n uint32) (i, j uint32) {
	i = uint32((uint64(uint32(r)) * uint64(n)) >> 32)
	j = uint32(((r >> 32) * uint64(n-1)) >> 31)
	// j++ when j >= i, without a branch: the draw is random, so a branch
	// would mispredict half the time. i-j-1 is negative exactly then.
	j += uint32((uint64(i) - uint64(j) - 1) >> 63)
	return i, j
}

// choose returns a uniformly chosen index of an endpoint that is up, other
// than skip (-1 skips nothing), or -1 if there is none: a few random
// draws, which nearly always succeed while few endpoints are out, then
// PopCount and Select over the view's bitmap of endpoints that are up.
func (v *view) choose(skip int) int {
	for range rejectTries {
		if i := fastrand.N(len(v.cores)); i != skip && v.cores[i].pickable() {
			return i
		}
	}
	return v.drawUp(skip)
}

// upPair completes a two-choice draw (i, j) in which a candidate is not up:
// a candidate that is up is kept and the other drawn again among the rest,
// so the pair stays uniform over pairs of endpoints that are up. j is -1
// when only one endpoint is up, and i too when none is.
func (v *view) upPair(i, j int) (int, int) {
	if !v.cores[i].pickable() {
		i, j = j, i
	}
	if !v.cores[i].pickable() {
		if i = v.choose(-1); i < 0 {
			return -1, -1
		}
	}
	return i, v.choose(i)
}

// scanFrom returns the first endpoint that is up at or after start,
// wrapping, or nil.
func (v *view) scanFrom(start int) *core {
	for k := range v.cores {
		if c := v.cores[(start+k)%len(v.cores)]; c.pickable() {
			return c
		}
	}
	return nil
}

// lone is the choice of a two-choice policy among fewer than two
// endpoints: the one endpoint if it is up, else nil.
func (v *view) lone() *core {
	if len(v.cores) == 1 && v.cores[0].pickable() {
		return v.cores[0]
	}
	return nil
}

// drawPair draws two distinct endpoints for a two-choice policy (n >= 2)
// and reports whether both are up. A pair with an endpoint that is not up
// is drawn again once here (with a share f of endpoints out, about 2f of
// pairs fail, and 4f² twice) before the caller's slow path completes the
// second pair with upPair. Rejecting whole pairs keeps the draw uniform
// over pairs that are up, and so does upPair on a pair that failed.
func (v *view) drawPair() (i, j uint32, ok bool) {
	n := uint32(len(v.cores))
	i, j = pair(fastrand.Uint63(), n)
	if bothUp(v.cores[i], v.cores[j]) {
		return i, j, true
	}
	i, j = pair(fastrand.Uint63(), n)
	return i, j, bothUp(v.cores[i], v.cores[j])
}

// mendPair completes a two-choice pick whose draw (i, j) hit an endpoint
// that is not up: upPair mends the pair, and b wins over a when less(b, a)
// says it costs less. It returns nil when no endpoint is up.
func (v *view) mendPair(i, j uint32, less func(b, a int) bool) *core {
	a, b := v.upPair(int(i), int(j))
	switch {
	case a < 0:
		return nil
	case b >= 0 && less(b, a):
		return v.cores[b]
	}
	return v.cores[a]
}

// anyUp draws one endpoint uniformly among those that are up, or returns
// nil when none is: one draw, which nearly always hits, then choose.
func (v *view) anyUp() *core {
	cores := v.cores
	if len(cores) == 0 {
		return nil
	}
	if c := cores[fastrand.N(len(cores))]; c.pickable() {
		return c
	}
	if i := v.choose(-1); i >= 0 {
		return cores[i]
	}
	return nil
}
