package quantile

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// lowerBound returns the least duration bucket i holds.
func lowerBound(i int) time.Duration {
	if i == 0 {
		return 0
	}
	return upperBound(i - 1)
}

func TestBucketsTileTheRange(t *testing.T) {
	if got := upperBound(nBuckets - 1); got != Max {
		t.Fatalf("last bucket ends at %v, want Max %v", got, Max)
	}
	for i := range nBuckets {
		lo, hi := lowerBound(i), upperBound(i)
		if hi <= lo {
			t.Fatalf("bucket %d is [%v, %v)", i, lo, hi)
		}
		if got := bucketOf(lo); got != i {
			t.Errorf("bucketOf(%v) = %d, want %d, whose lower end it is", lo, got, i)
		}
		if got := bucketOf(hi - 1); got != i {
			t.Errorf("bucketOf(%v) = %d, want %d, whose last value it is", hi-1, got, i)
		}
	}
}

func TestOutOfRangeValuesClampToTheEndBuckets(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{math.MinInt64, 0},
		{-time.Second, 0},
		{-1, 0},
		{0, 0},
		{Max - 1, nBuckets - 1},
		{Max, nBuckets - 1},
		{1000 * time.Hour, nBuckets - 1},
		{math.MaxInt64, nBuckets - 1},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// TestUpperBoundIsWithinTheResolution checks the package doc's promise for
// values spread over every power of two in range: the upper end of a
// value's bucket is above it by at most 1/16 of it, or 64 ns below 1.024 µs.
func TestUpperBoundIsWithinTheResolution(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		d := time.Duration(r.Int64N(int64(Max)) >> r.IntN(38))
		hi := upperBound(bucketOf(d))
		if hi <= d {
			t.Fatalf("%v counts in a bucket ending at %v", d, hi)
		}
		if limit := max(d+d/subCount, d+64); hi > limit {
			t.Fatalf("%v counts in a bucket ending at %v, above %v", d, hi, limit)
		}
	}
}
