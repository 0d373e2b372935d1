package lb

import "math/bits"

// Key hashes. PickKey(s) is PickKeyUint64(H(s)) for a fixed 64-bit hash H
// of the key's bytes, and PickKeyUint64(k) routes by fmix64(k),
// MurmurHash3's 64-bit finaliser (mix64). H is part of the routing
// contract: clients in other languages compute it to route a key as this
// package does, so it must never change unnoticed (the tests pin values
// computed apart from this package). Shard's H is 64-bit FNV-1a
// (hashString), its documented contract (shard.go). Every other policy's
// H, the one ConsistentHash routes by, is keyHash: one multiply per 8
// bytes where FNV-1a takes one per byte (BenchmarkPickKey). Earlier
// versions hashed ConsistentHash's keys with FNV-1a too: upgrading moves
// its keys once.
//
// Neither hash is keyed (every process must compute the same one), so
// keys chosen to collide can be made; on ConsistentHash the load bound
// limits what a burst of them does to one endpoint.

// Constants of keyHash: keySeed is the first 64 bits of the fraction of
// pi, keyMul is 2^64 divided by the golden ratio, rounded to odd.
const (
	keySeed = 0x243f6a8885a308d3
	keyMul  = 0x9e3779b97f4a7c15
)

// keyHash is H of PickKey's doc comment for every policy but Shard,
// specified so that any language with a 64×64→128-bit multiply computes
// it. For a key of n bytes:
//
//  1. Pad the key: zero bytes until its length is 7 more than a multiple
//     of 8 (none if it already is), then one byte, n mod 256. The padded
//     key is floor(n/8)+1 words of 8 bytes; the last holds the key's final
//     n mod 8 bytes (0 to 7), zeros, and n mod 256 in its top byte.
//  2. Read each word w as a little-endian unsigned 64-bit integer.
//  3. h = 0x243f6a8885a308d3; for each word but the last, in order,
//     h = fold(h XOR w), where fold(x) multiplies x by 0x9e3779b97f4a7c15
//     into a 128-bit product and returns its high 64 bits XOR its low 64
//     bits.
//  4. H = h XOR the last word.
//
// The routing then takes fmix64(H), as PickKeyUint64 does for a numeric
// key: that finaliser, a bijection with full avalanche, mixes the last
// word, so a key of up to 7 bytes costs no fold (it routes as the number
// 0x243f6a8885a308d3 XOR its word) and one of 8 to 15 bytes costs one.
// The padding is injective (the word count and n mod 256 give n): keys
// that differ only in length, such as "a" and "a\x00", differ in their
// word count or their last word, and keys whose words differ only in the
// last never collide.
//
// The code reads the words straight from the string, with no copy and no
// unsafe: le64's byte reads compile to one load, and the last word is the
// key's last 8 bytes shifted down (two overlapping 4-byte reads, or three
// single bytes, below 8 bytes), not a padded copy.
func keyHash(s string) uint64 {
	h := uint64(keySeed)
	n := len(s)
	t := s
	for len(t) >= 8 {
		h = fold(h ^ le64(t))
		t = t[8:]
	}
	var w uint64 // the last word, but for its top byte
	switch r := uint(len(t)); {
	case n >= 8: // the 8 bytes ending at the key's end, shifted down to the tail
		w = le64(s[n-8:]) >> 1 >> ((63 - 8*r) & 63) // r = 0 shifts out everything
	case n >= 4: // two 4-byte reads, overlapping when n < 8
		w = uint64(le32(s)) | uint64(le32(s[n-4:]))<<(8*(n-4)&63)
	case n > 0: // first, middle and last byte, overlapping when n < 3
		w = uint64(s[0]) | uint64(s[n/2])<<(8*(n/2)&63) | uint64(s[n-1])<<(8*(n-1)&63)
	}
	return h ^ w ^ uint64(n)<<56
}

// fold is keyHash's mixing step: x times keyMul, the 128-bit product's
// halves XORed.
func fold(x uint64) uint64 {
	hi, lo := bits.Mul64(x, keyMul)
	return hi ^ lo
}

// le64 reads the first 8 bytes of s as a little-endian integer; the
// compiler merges the byte reads into one load.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 reads the first 4 bytes of s as a little-endian integer.
func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// hashString is 64-bit FNV-1a: Shard's key hash (shard.go), and the hash
// of an address from which Maglev draws its permutation and turn order
// (consistenthash.go).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
