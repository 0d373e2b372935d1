package lb

import (
	"testing"
	"time"
)

// Chi-square over 7 up endpoints (6 degrees of freedom; the 0.9999 quantile
// is 27.9), with one more ejected and never picked.
func TestRandomIsUniformOverEndpointsThatAreUp(t *testing.T) {
	as := addrs(8)
	p := mustNew(t, Config{Policy: Random, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 20}, as...)
	failTimes(t, p, as[5], 1)
	const picks = 70000
	seen := pickCounts(t, p, picks)
	if seen[as[5]] != 0 {
		t.Fatalf("ejected endpoint picked %d times", seen[as[5]])
	}
	chi := 0.0
	for i, a := range as {
		if i == 5 {
			continue
		}
		d := float64(seen[a]) - picks/7.0
		chi += d * d / (picks / 7.0)
	}
	if chi > 27.9 {
		t.Fatalf("chi-square %.1f over 6 degrees of freedom: %v", chi, seen)
	}
}
