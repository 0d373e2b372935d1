package keyhash

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// paperJump is jump consistent hash as printed in Lamping and Veach's paper
// (Figure 1), transliterated line by line: the independent reference for
// Jump.
func paperJump(key uint64, numBuckets int32) int32 {
	var b, j int64 = -1, 0
	for j < int64(numBuckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int32(b)
}

func TestJumpAgreesWithThePaper(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []uint64{0, 1, 2, math.MaxUint64, 1 << 63, 0xdeadbeef}
	for range 2000 {
		keys = append(keys, r.Uint64())
	}
	for _, n := range []int{1, 2, 3, 7, 8, 10, 100, 1000, 1 << 16, math.MaxInt32} {
		for _, k := range keys {
			if got, want := Jump(k, n), int(paperJump(k, int32(n))); got != want {
				t.Fatalf("Jump(%#x, %d) = %d, the paper's = %d", k, n, got, want)
			}
		}
	}
}

// Growing n to n+1 moves about 1/(n+1) of the keys, every one of them to
// bucket n; measured over 20,000 keys. Each key moves with probability
// exactly 1/(n+1), so the count is binomial: the test allows five
// standard deviations.
func TestJumpMovesOneInNPlusOneKeysToTheNewBucket(t *testing.T) {
	const keys = 20000
	for _, n := range []int{1, 2, 5, 10, 31, 100, 1000} {
		moved := 0
		for k := range uint64(keys) {
			h := Mix64(k)
			before, after := Jump(h, n), Jump(h, n+1)
			if before != after {
				moved++
				if after != n {
					t.Fatalf("n=%d: key %d moved between old buckets: %d -> %d", n, k, before, after)
				}
			}
		}
		q := 1 / float64(n+1)
		ideal, sd := keys*q, math.Sqrt(keys*q*(1-q))
		if math.Abs(float64(moved)-ideal) > 5*sd {
			t.Errorf("n=%d: %d of %d keys moved, ideal %.0f ± %.0f", n, moved, keys, ideal, 5*sd)
		}
	}
}

// BenchmarkJump measures Jump over a few bucket counts: about ln n steps,
// each with a division.
func BenchmarkJump(b *testing.B) {
	for _, n := range []int{8, 1024, 1 << 20} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var x uint64
			for b.Loop() {
				x += uint64(Jump(Mix64(x), n)) + 1
			}
			if x == 0 {
				b.Log(x)
			}
		})
	}
}
