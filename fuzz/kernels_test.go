package fuzz

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/nanolb/nanolb"
)

// The targets decode the fuzzer's bytes into words or int64 values (8 bytes
// each, little endian; a trailing partial group is dropped), start the slice
// at an offset taken from the input so that unaligned starts are covered,
// and compare the exported kernel with a definition written plainly here.

func words(data []byte, skip uint8) []uint64 {
	w := make([]uint64, len(data)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(data[8*i:])
	}
	return w[min(int(skip%4), len(w)):]
}

func int64s(data []byte, skip uint8) []int64 {
	v := make([]int64, len(data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return v[min(int(skip%4), len(v)):]
}

func FuzzSelect(f *testing.F) {
	f.Add([]byte{}, uint8(0), 0)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0}, uint8(0), 0)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(0), 64)
	f.Fuzz(func(t *testing.T, data []byte, skip uint8, k int) {
		w := words(data, skip)
		want := -1
		if k >= 0 {
			left := k
			for i := 0; i < 64*len(w) && want < 0; i++ {
				if w[i/64]>>(i%64)&1 == 1 {
					if left == 0 {
						want = i
					}
					left--
				}
			}
		}
		if got := nanolb.Select(w, k); got != want {
			t.Fatalf("Select(%x, %d) = %d, want %d", w, k, got, want)
		}
	})
}

func FuzzPopCount(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0xff, 1, 0, 0, 0, 0, 0, 0x80}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, skip uint8) {
		w := words(data, skip)
		want := 0
		for _, x := range w {
			for ; x != 0; x &= x - 1 {
				want++
			}
		}
		if got := nanolb.PopCount(w); got != want {
			t.Fatalf("PopCount(%x) = %d, want %d", w, got, want)
		}
	})
}

func FuzzMinIndex(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, skip uint8) {
		v := int64s(data, skip)
		want := -1
		for i, x := range v {
			if want < 0 || x < v[want] {
				want = i
			}
		}
		if got := nanolb.MinIndex(v); got != want {
			t.Fatalf("MinIndex(%d) = %d, want %d", v, got, want)
		}
	})
}

func FuzzFirstDue(f *testing.F) {
	f.Add([]byte{}, uint8(0), int64(0))
	f.Add([]byte{5, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}, uint8(0), int64(4))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, uint8(0), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, data []byte, skip uint8, now int64) {
		v := int64s(data, skip)
		want := -1
		for i, d := range v {
			if d <= now {
				want = i
				break
			}
		}
		if got := nanolb.FirstDue(v, now); got != want {
			t.Fatalf("FirstDue(%d, %d) = %d, want %d", v, now, got, want)
		}
	})
}
