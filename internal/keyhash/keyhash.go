// Package keyhash is the key hash that lb's PickKey routes by, on every
// keyed policy: String hashes a key's bytes, Mix64 (MurmurHash3's fmix64)
// spreads the result, or a numeric key, over 64 bits, and Jump numbers the
// key's shard. Clients in other languages compute the same functions to
// route a key as lb does, so they are specified here step by step and
// pinned by test vectors; a change to any of them moves keys.
//
// None of them is keyed (every process must compute the same values), so
// keys chosen to collide can be made.
package keyhash

import "math/bits"

// Constants of String: seed is the first 64 bits of the fraction of pi,
// mul is 2^64 divided by the golden ratio, rounded to odd.
const (
	seed = 0x243f6a8885a308d3
	mul  = 0x9e3779b97f4a7c15
)

// String returns the 64-bit hash of key, specified so that any language
// with a 64×64→128-bit multiply computes it. For a key of n bytes:
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
//  4. The hash is h XOR the last word.
//
// For example String("") = 0x243f6a8885a308d3, String("a") =
// 0x253f6a8885a308b2 and String("user-12345") = 0x17d3ed2bab2b0728.
// The last word is left for Mix64 to mix, so a key of up to 7 bytes costs
// no fold and one of 8 to 15 bytes one. The padding is injective (the word
// count and n mod 256 give n), so keys that differ only in length, such as
// "a" and "a\x00", differ in their word count or their last word.
//
// The code reads the words straight from the string, with no copy: the
// last word is the key's last 8 bytes shifted down (two overlapping 4-byte
// reads, or three single bytes, below 8 bytes).
func String(key string) uint64 {
	h := uint64(seed)
	n := len(key)
	t := key
	for len(t) >= 8 {
		h = fold(h ^ le64(t))
		t = t[8:]
	}
	var w uint64 // the last word, but for its top byte
	switch r := uint(len(t)); {
	case n >= 8: // the 8 bytes ending at the key's end, shifted down to the tail
		w = le64(key[n-8:]) >> 1 >> ((63 - 8*r) & 63) // r = 0 shifts out everything
	case n >= 4: // two 4-byte reads, overlapping when n < 8
		w = uint64(le32(key)) | uint64(le32(key[n-4:]))<<(8*(n-4)&63)
	case n > 0: // first, middle and last byte, overlapping when n < 3
		w = uint64(key[0]) | uint64(key[n/2])<<(8*(n/2)&63) | uint64(key[n-1])<<(8*(n-1)&63)
	}
	return h ^ w ^ uint64(n)<<56
}

// fold is String's mixing step: x times mul, the 128-bit product's halves
// XORed.
func fold(x uint64) uint64 {
	hi, lo := bits.Mul64(x, mul)
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

// Mix64 is MurmurHash3's 64-bit finaliser (fmix64): a bijection with full
// avalanche, so nearby keys (IDs 1, 2, 3, or String's unmixed last word)
// spread over the whole range.
func Mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// FNV1a returns the 64-bit FNV-1a hash of s: a multiply per byte. The
// Maglev table draws each address's permutation from it, and tests use it
// as a reference hash.
func FNV1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
