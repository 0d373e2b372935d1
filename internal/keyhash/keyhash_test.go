package keyhash

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// stringSpec is String written straight from its doc comment, slowly and
// with none of its tricks: the padding appended byte by byte, words read a
// byte at a time, the 128-bit product taken with math/big.
func stringSpec(key string) uint64 {
	padded := []byte(key)
	for len(padded)%8 != 7 {
		padded = append(padded, 0)
	}
	padded = append(padded, byte(len(key)%256))
	var words []uint64
	for i := 0; i < len(padded); i += 8 {
		var w uint64
		for j := 7; j >= 0; j-- {
			w = w<<8 | uint64(padded[i+j])
		}
		words = append(words, w)
	}
	h := uint64(0x243f6a8885a308d3)
	for _, w := range words[:len(words)-1] {
		h = foldSpec(h ^ w)
	}
	return h ^ words[len(words)-1]
}

// foldSpec is fold with math/big: the 128-bit product of x and the
// multiplier, its high 64 bits XOR its low 64 bits.
func foldSpec(x uint64) uint64 {
	p := new(big.Int).Mul(new(big.Int).SetUint64(x), new(big.Int).SetUint64(0x9e3779b97f4a7c15))
	lo := new(big.Int).And(p, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	hi := new(big.Int).Rsh(p, 64).Uint64()
	return hi ^ lo
}

// String is its specification at every length from 0 to 80 (a tail of
// every size after 0 to 10 whole words), on random bytes, on zeros and on
// 0xff bytes, whose words have the top bit set.
func TestStringMatchesItsSpecification(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 81 {
		random := make([]byte, n)
		for i := range random {
			random[i] = byte(rng.Uint32())
		}
		for _, key := range []string{string(random), strings.Repeat("\x00", n), strings.Repeat("\xff", n)} {
			if got, want := String(key), stringSpec(key); got != want {
				t.Fatalf("String(%q) = %#x, the specification gives %#x", key, got, want)
			}
		}
	}
}

// Pinned values: the hash is a routing contract that clients in other
// languages compute, so a change to any of them is a change of contract.
// They were computed apart from this package, by a few lines of Python
// written from the doc comment, and each is checked against the
// specification too: lengths 0, 1, 2, 7, 8, 9, 10, 16 and 17.
func TestStringVectors(t *testing.T) {
	for _, v := range []struct {
		key  string
		hash uint64
	}{
		{"", 0x243f6a8885a308d3},
		{"a", 0x253f6a8885a308b2},
		{"a\x00", 0x263f6a8885a308b2},
		{"abcdefg", 0x23580cede1c06ab2},
		{"abcdefgh", 0xa0d9df3955c91631},
		{"abcdefghi", 0xa1d9df3955c91658},
		{"user-12345", 0x17d3ed2bab2b0728},
		{"abcdefghijklmnop", 0x5c04a7ae71bd9cac},
		{"abcdefghijklmnopq", 0x5d04a7ae71bd9cdd},
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff", 0xe73671414457376b},
	} {
		if got := String(v.key); got != v.hash {
			t.Errorf("String(%q) = %#x, pinned %#x", v.key, got, v.hash)
		}
		if got := stringSpec(v.key); got != v.hash {
			t.Errorf("the specification of String(%q) gives %#x, pinned %#x", v.key, got, v.hash)
		}
	}
}

// Mix64 is MurmurHash3's fmix64: values pinned from its reference code.
func TestMix64Vectors(t *testing.T) {
	for _, v := range []struct{ in, out uint64 }{
		{0, 0},
		{1, 0xb456bcfc34c2cb2c},
		{0x17d3ed2bab2b0728, 0x8c5d55ec7113b14a},
	} {
		if got := Mix64(v.in); got != v.out {
			t.Errorf("Mix64(%#x) = %#x, pinned %#x", v.in, got, v.out)
		}
	}
}

// bucket maps h to one of size buckets by multiply-shift, as lb maps a
// routing hash to a table entry.
func bucket(h uint64, size int) int {
	hi, _ := bits.Mul64(h, uint64(size))
	return int(hi)
}

// chiSquare is Pearson's statistic for the keys' spread over size
// buckets, each key routed by Mix64(hash(key)): uniform hashing gives
// size-1 on average, with a standard deviation of about sqrt(2(size-1)).
func chiSquare(keys []string, hash func(string) uint64, size int) float64 {
	counts := make([]int, size)
	for _, k := range keys {
		counts[bucket(Mix64(hash(k)), size)]++
	}
	mean := float64(len(keys)) / float64(size)
	var x2 float64
	for _, c := range counts {
		d := float64(c) - mean
		x2 += d * d / mean
	}
	return x2
}

// evenlySpread reports whether the keys' statistic over size buckets is
// at most 6 standard deviations above its mean under uniform hashing: a
// random function fails that about once in 10^9 tries.
func evenlySpread(keys []string, hash func(string) uint64, size int) (float64, bool) {
	x2 := chiSquare(keys, hash, size)
	df := float64(size - 1)
	return x2, x2 <= df+6*math.Sqrt(2*df)
}

// Keys spread evenly after Mix64: the sequential keys "user-0" to
// "user-99999" over 65,537 buckets (ConsistentHash's default table) and
// over 1,021, and every key one byte away from a 32-byte key over 257.
// FNV-1a passes the same test; a byte sum (after the same Mix64) fails
// every case, so the test can fail.
func TestStringSpreadsKeysEvenly(t *testing.T) {
	sequential := make([]string, 100000)
	for i := range sequential {
		sequential[i] = fmt.Sprint("user-", i)
	}
	base := "session-7f3a91c2-user-0000042:eu"
	var oneByte []string
	oneByte = append(oneByte, base)
	for i := range len(base) {
		for v := range 256 {
			if byte(v) != base[i] {
				oneByte = append(oneByte, base[:i]+string([]byte{byte(v)})+base[i+1:])
			}
		}
	}
	byteSum := func(s string) uint64 {
		var sum uint64
		for i := range len(s) {
			sum += uint64(s[i])
		}
		return sum
	}
	for _, c := range []struct {
		name string
		keys []string
		size int
	}{
		{"sequential keys over 65,537 buckets", sequential, 65537},
		{"sequential keys over 1,021 buckets", sequential, 1021},
		{"keys one byte apart over 257 buckets", oneByte, 257},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, h := range []struct {
				name string
				hash func(string) uint64
				even bool
			}{{"String", String, true}, {"FNV-1a", FNV1a, true}, {"a byte sum", byteSum, false}} {
				x2, even := evenlySpread(c.keys, h.hash, c.size)
				t.Logf("%s: chi-square %.0f over %d degrees of freedom", h.name, x2, c.size-1)
				if even != h.even {
					t.Errorf("%s: chi-square %.0f over %d degrees of freedom: even %v, want %v", h.name, x2, c.size-1, even, h.even)
				}
			}
		})
	}
}

// Keys that differ in one byte, at any position and to any other value,
// or only in trailing zero bytes (such as "a" and "a\x00") never share a
// hash, at every length from 0 to 64, from a base of zeros and from one of
// random bytes: the padding keeps every length apart.
func TestStringSeparatesKeysOneByteApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 64+8)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	seen := make(map[uint64]string)
	add := func(key string) {
		h := String(key)
		if other, ok := seen[h]; ok && other != key {
			t.Fatalf("String(%q) = String(%q) = %#x", key, other, h)
		}
		seen[h] = key
	}
	for _, base := range [][]byte{make([]byte, 64+8), random} {
		for n := range 65 {
			key := base[:n]
			for k := range 9 { // the key, and the key and k zero bytes
				add(string(key) + strings.Repeat("\x00", k))
			}
			changed := []byte(string(key))
			for i := range n {
				for v := range 256 {
					if byte(v) != key[i] {
						changed[i] = byte(v)
						add(string(changed))
					}
				}
				changed[i] = key[i]
			}
		}
	}
	if min := 2 * 255 * 64 * 65 / 2; len(seen) < min { // the changed keys alone
		t.Fatalf("only %d keys were hashed, want at least %d", len(seen), min)
	}
}

// String, Mix64 and Jump allocate nothing.
func TestNothingAllocates(t *testing.T) {
	key := strings.Repeat("k", 100)
	if allocs := testing.AllocsPerRun(100, func() { _ = Jump(Mix64(String(key)), 1000) }); allocs != 0 {
		t.Errorf("%.1f allocations", allocs)
	}
}

// FuzzString checks String against its specification on any key.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefg", "abcdefgh", "user-12345", strings.Repeat("\xff", 17)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := String(key), stringSpec(key); got != want {
			t.Fatalf("String(%q) = %#x, the specification gives %#x", key, got, want)
		}
	})
}

// BenchmarkString measures String beside FNV-1a (its reference, in the
// same run) on keys of a few lengths, each followed by Mix64 as PickKey
// routes them. Each hash picks the next key, so the loop measures latency,
// which is what a PickKey waits for, rather than throughput.
func BenchmarkString(b *testing.B) {
	for _, n := range []int{4, 10, 32, 128} {
		var keys [8]string
		for i := range keys {
			keys[i] = strings.Repeat(fmt.Sprint(i), n)[:n]
		}
		for _, h := range []struct {
			name string
			hash func(string) uint64
		}{{"key", String}, {"FNV1a", FNV1a}} {
			b.Run(fmt.Sprintf("hash=%s/len=%d", h.name, n), func(b *testing.B) {
				b.ReportAllocs()
				var x uint64
				for b.Loop() {
					x = Mix64(h.hash(keys[x&7]))
				}
				if x == 0 {
					b.Log(x) // keeps x alive
				}
			})
		}
	}
}

// FNV1a is 64-bit FNV-1a: the published vectors of its reference.
func TestFNV1aMatchesItsPublishedVectors(t *testing.T) {
	for in, want := range map[string]uint64{"": 0xcbf29ce484222325, "a": 0xaf63dc4c8601ec8c, "foobar": 0x85944171f73967e8} {
		if got := FNV1a(in); got != want {
			t.Errorf("FNV1a(%q) = %#x, want %#x", in, got, want)
		}
	}
}
