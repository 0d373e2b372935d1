package lb

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// keyHashSpec is keyHash written straight from its doc comment, slowly and
// with none of its tricks: the padding appended byte by byte, words read a
// byte at a time, the 128-bit product taken with math/big.
func keyHashSpec(key string) uint64 {
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

// keyHash is its specification at every length from 0 to 80 (a tail of
// every size after 0 to 10 whole words), on random bytes, on zeros and on
// 0xff bytes, whose words have the top bit set.
func TestKeyHashMatchesItsSpecification(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 81 {
		random := make([]byte, n)
		for i := range random {
			random[i] = byte(rng.Uint32())
		}
		for _, key := range []string{string(random), strings.Repeat("\x00", n), strings.Repeat("\xff", n)} {
			if got, want := keyHash(key), keyHashSpec(key); got != want {
				t.Fatalf("keyHash(%q) = %#x, the specification gives %#x", key, got, want)
			}
		}
	}
}

// Pinned values: the hash is a routing contract that clients in other
// languages compute, so a change to any of them is a change of contract.
// They were computed apart from this package, by a few lines of Python
// written from the doc comment, and each is checked against the
// specification too: lengths 0, 1, 2, 7, 8, 9, 10, 16 and 17.
func TestKeyHashVectors(t *testing.T) {
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
		if got := keyHash(v.key); got != v.hash {
			t.Errorf("keyHash(%q) = %#x, pinned %#x", v.key, got, v.hash)
		}
		if got := keyHashSpec(v.key); got != v.hash {
			t.Errorf("the specification of keyHash(%q) gives %#x, pinned %#x", v.key, got, v.hash)
		}
	}
}

// PickKey routes a key as PickKeyUint64 routes its hash: keyHash on a
// ConsistentHash pool (its specification, so a client computing the
// documented hash routes alike) and FNV-1a on a Shard pool, whose contract
// is unchanged. The other hash routes about 15 keys in 16 elsewhere, so
// each check tells the two apart (and ConsistentHash's keys moved once).
func TestPickKeyRoutesAsPickKeyUint64OfTheKeysHash(t *testing.T) {
	for _, c := range []struct {
		policy      Policy
		hash, other func(string) uint64
	}{{ConsistentHash, keyHashSpec, hashString}, {Shard, hashString, keyHash}} {
		p := mustNew(t, Config{Policy: c.policy}, addrs(16)...)
		route := func(pick func() (Lease, error)) string { // one lease at a time: no load bound in the way
			l, err := pick()
			if err != nil {
				t.Fatal(err)
			}
			defer l.Done(nil)
			return l.Endpoint()
		}
		moved := 0
		for k := range 2000 {
			key := fmt.Sprint("user-", k)
			byKey := route(func() (Lease, error) { return p.PickKey(key) })
			byHash := route(func() (Lease, error) { return p.PickKeyUint64(c.hash(key)) })
			if byKey != byHash {
				t.Fatalf("%v: PickKey(%q) went to %s, PickKeyUint64 of its hash to %s", c.policy, key, byKey, byHash)
			}
			if route(func() (Lease, error) { return p.PickKeyUint64(c.other(key)) }) != byKey {
				moved++
			}
		}
		if moved < 1700 {
			t.Errorf("%v: only %d of 2000 keys route elsewhere by the other hash", c.policy, moved)
		}
	}
}

// chiSquare is Pearson's statistic for the keys' spread over the entries
// of a table of size entries, each key routed as PickKeyUint64 routes
// hash(key): uniform hashing gives size-1 on average, with a standard
// deviation of about sqrt(2(size-1)).
func chiSquare(keys []string, hash func(string) uint64, size int) float64 {
	counts := make([]int, size)
	for _, k := range keys {
		counts[entryOf(mix64(hash(k)), size)]++
	}
	mean := float64(len(keys)) / float64(size)
	var x2 float64
	for _, c := range counts {
		d := float64(c) - mean
		x2 += d * d / mean
	}
	return x2
}

// evenlySpread reports whether the keys' statistic over size entries is
// at most 6 standard deviations above its mean under uniform hashing: a
// random function fails that about once in 10^9 tries.
func evenlySpread(keys []string, hash func(string) uint64, size int) (float64, bool) {
	x2 := chiSquare(keys, hash, size)
	df := float64(size - 1)
	return x2, x2 <= df+6*math.Sqrt(2*df)
}

// The keys ConsistentHash sees spread evenly over table entries: the
// sequential keys "user-0" to "user-99999" over the 65,537 entries of the
// default table and over 1,021 coarser buckets, and every key one byte
// away from a 32-byte key over 257 buckets. FNV-1a passes the same test;
// a byte sum (the same key hashed after the same fmix64) fails every
// case, so the test can fail.
func TestKeyHashSpreadsKeysEvenly(t *testing.T) {
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
		{"sequential keys over 65,537 entries", sequential, 65537},
		{"sequential keys over 1,021 buckets", sequential, 1021},
		{"keys one byte apart over 257 buckets", oneByte, 257},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, h := range []struct {
				name string
				hash func(string) uint64
				even bool
			}{{"keyHash", keyHash, true}, {"FNV-1a", hashString, true}, {"a byte sum", byteSum, false}} {
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
func TestKeyHashSeparatesKeysOneByteApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 64+8)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	seen := make(map[uint64]string)
	add := func(key string) {
		h := keyHash(key)
		if other, ok := seen[h]; ok && other != key {
			t.Fatalf("keyHash(%q) = keyHash(%q) = %#x", key, other, h)
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

// PickKey on ConsistentHash does not allocate, whatever the key's length.
func TestPickKeyDoesNotAllocate(t *testing.T) {
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(8)...)
	for _, key := range []string{"", "abc", "user-1", "user-12345", strings.Repeat("k", 100)} {
		if allocs := pickDoneAllocs(100, func() (Lease, error) { return p.PickKey(key) }, nil); allocs != 0 {
			t.Errorf("PickKey(%q): %.1f allocations", key, allocs)
		}
	}
}

// FuzzKeyHash checks keyHash against its specification on any key.
func FuzzKeyHash(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefg", "abcdefgh", "user-12345", strings.Repeat("\xff", 17)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := keyHash(key), keyHashSpec(key); got != want {
			t.Fatalf("keyHash(%q) = %#x, the specification gives %#x", key, got, want)
		}
	})
}

// BenchmarkKeyHash measures keyHash beside FNV-1a (its reference, in the
// same run) on keys of a few lengths, each followed by fmix64 as PickKey
// routes them. Each hash picks the next key, so the loop measures latency,
// which is what a PickKey waits for, rather than throughput.
func BenchmarkKeyHash(b *testing.B) {
	for _, n := range []int{4, 10, 32, 128} {
		var keys [8]string
		for i := range keys {
			keys[i] = strings.Repeat(fmt.Sprint(i), n)[:n]
		}
		for _, h := range []struct {
			name string
			hash func(string) uint64
		}{{"key", keyHash}, {"fnv1a", hashString}} {
			b.Run(fmt.Sprintf("hash=%s/len=%d", h.name, n), func(b *testing.B) {
				b.ReportAllocs()
				var x uint64
				for b.Loop() {
					x = mix64(h.hash(keys[x&7]))
				}
				if x == 0 {
					b.Log(x) // keeps x alive
				}
			})
		}
	}
}
