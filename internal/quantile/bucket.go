package quantile

import (
	"math/bits"
	"time"
)

// The buckets, in nanoseconds: below 2^minExp (1.024 µs) subCount linear
// buckets of 2^(minExp−subBits) = 64 ns; then, for each power of two 2^e
// with minExp ≤ e ≤ maxExp, subCount buckets of 2^(e−subBits) each. A
// bucket's upper end is thus at most 1/subCount above any value in it.
// Negative durations count in the first bucket, durations of 2^(maxExp+1)
// (about 137.4 s) and more in the last.
const (
	subBits  = 4
	subCount = 1 << subBits
	minExp   = 10
	maxExp   = 36
	nBuckets = (maxExp - minExp + 2) << subBits
)

// bucketOf returns the index of the bucket d counts in.
func bucketOf(d time.Duration) int {
	if d < 1<<minExp {
		if d < 0 {
			return 0
		}
		return int(d >> (minExp - subBits))
	}
	v := uint64(d)
	e := bits.Len64(v) - 1
	if e > maxExp {
		return nBuckets - 1
	}
	return (e-minExp+1)<<subBits + int(v>>(e-subBits))&(subCount-1)
}

// upperBound returns the end of bucket i: the least duration above every
// value the bucket holds.
func upperBound(i int) time.Duration {
	o, sub := i>>subBits, i&(subCount-1)
	if o == 0 {
		return time.Duration(sub+1) << (minExp - subBits)
	}
	e := o - 1 + minExp
	return time.Duration(subCount+sub+1) << (e - subBits)
}
