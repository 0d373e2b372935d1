package fastrand

import (
	"fmt"
	"math"
	"testing"
)

// N stays in [0, n) and spreads its draws evenly: a chi-square test over
// n buckets at six standard deviations, which a uniform generator fails
// about once in 10^9 runs.
func TestNIsUniform(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1000} {
		const perBucket = 2000
		counts := make([]int, n)
		for range n * perBucket {
			i := N(n)
			if i < 0 || i >= n {
				t.Fatalf("N(%d) = %d", n, i)
			}
			counts[i]++
		}
		if n == 1 {
			continue
		}
		var x2 float64
		for _, c := range counts {
			d := float64(c - perBucket)
			x2 += d * d / perBucket
		}
		if df := float64(n - 1); x2 > df+6*math.Sqrt(2*df) {
			t.Errorf("N(%d): chi-square %.0f over %.0f degrees of freedom", n, x2, df)
		}
	}
}

// Uint63 leaves the top bit zero and sets each of the others about half
// the time.
func TestUint63SetsEveryLowBit(t *testing.T) {
	const draws = 20000
	var ones [64]int
	for range draws {
		x := Uint63()
		for b := range 64 {
			ones[b] += int(x >> b & 1)
		}
	}
	if ones[63] != 0 {
		t.Fatalf("the top bit was set %d times", ones[63])
	}
	for b, c := range ones[:63] {
		if c < draws/2-600 || c > draws/2+600 { // about 8.5 standard deviations
			t.Errorf("bit %d set %d times in %d draws", b, c, draws)
		}
	}
}

func TestNothingAllocates(t *testing.T) {
	if allocs := testing.AllocsPerRun(100, func() { _ = N(10) + int(Uint63()&1) }); allocs != 0 {
		t.Errorf("%.1f allocations", allocs)
	}
}

func BenchmarkN(b *testing.B) {
	for _, n := range []int{2, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var x int
			for b.Loop() {
				x += N(n)
			}
			if x < 0 {
				b.Log(x)
			}
		})
	}
}
