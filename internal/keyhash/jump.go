package keyhash

// Jump returns the bucket in [0, n) of key by jump consistent hash
// (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
// 2014): a pseudo-random walk seeded by key visits ever larger buckets,
// each next one drawn so that growing n to n+1 moves exactly the keys whose
// walk lands on bucket n, a share 1/(n+1) of them. The walk's generator and
// its step are the paper's (a 64-bit linear congruential generator and a
// double division), so buckets agree with other implementations of it. It
// takes about ln n steps. n >= 1.
func Jump(key uint64, n int) int {
	const lcgMul = 2862933555777941757
	var bucket, next int64 // int64: next may pass 2^31 where int has 32 bits
	for next < int64(n) {
		bucket = next
		key = key*lcgMul + 1
		// The next bucket that may hold the key: (bucket+1) / u for a
		// uniform u in (0, 1], drawn from the generator's top 31 bits.
		next = int64(float64(bucket+1) * (float64(1<<31) / float64(key>>33+1)))
	}
	return int(bucket)
}
