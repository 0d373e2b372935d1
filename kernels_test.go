package nanolb

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nanolb/nanolb/internal/race"
)

// impl is one kernel of an operation, runnable directly. The per-architecture
// _test files list the kernels this CPU can run (selectImpls and friends,
// always starting with the generic one) and the feature switches
// (featureToggles) that force the dispatch down each path.
type impl[F any] struct {
	name string
	fn   F
}

type (
	selectFunc   = func([]uint64, int) int
	popCountFunc = func([]uint64) int
	minIndexFunc = func([]int64) int
	firstDueFunc = func([]int64, int64) int
)

// toggle switches one CPU feature off for the dispatch and returns the
// function that switches it back: defer disableAVX512()().
type toggle struct {
	name    string
	disable func() func()
}

// maxTestLen covers three vector widths of the widest kernel step
// (32 int64 or words for the AVX-512 loops) and the overlapping tails.
const maxTestLen = 3*32 + 9

// rng returns a generator with a fixed seed, so failures replay.
func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6e616e6f6c62)) }

// naiveSelect is the bit-by-bit definition of Select.
func naiveSelect(words []uint64, k int) int {
	if k < 0 {
		return -1
	}
	for i := 0; i < 64*len(words); i++ {
		if words[i/64]>>(i%64)&1 == 1 {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// testLengths is every length from 0 to maxTestLen plus each threshold and
// its neighbours, so that the dispatch is checked on both sides of it.
func testLengths(thresholds ...int) []int {
	var ns []int
	for n := 0; n <= maxTestLen; n++ {
		ns = append(ns, n)
	}
	for _, t := range thresholds {
		for n := t - 2; n <= t+2; n++ {
			if n > maxTestLen {
				ns = append(ns, n)
			}
		}
	}
	return append(ns, 1000, 4099)
}

// wordSets yields word slices of length n in several densities, with and
// without an unaligned start (a sub-slice one element into a bigger array).
func wordSets(r *rand.Rand, n int, yield func(desc string, w []uint64)) {
	dens := []struct {
		name string
		gen  func() uint64
	}{
		{"random", r.Uint64},
		{"sparse", func() uint64 { return r.Uint64() & r.Uint64() & r.Uint64() & r.Uint64() }},
		{"one bit", func() uint64 { return 1 << r.IntN(64) }},
		{"mostly zero", func() uint64 {
			if r.IntN(8) == 0 {
				return r.Uint64()
			}
			return 0
		}},
		{"all ones", func() uint64 { return math.MaxUint64 }},
		{"zero", func() uint64 { return 0 }},
		{"top bit", func() uint64 { return 1 << 63 }},
	}
	for _, d := range dens {
		for off := 0; off < 2; off++ {
			buf := make([]uint64, n+off)
			for i := range buf {
				buf[i] = d.gen()
			}
			yield(fmt.Sprintf("%s words at offset %d", d.name, off), buf[off:])
		}
	}
}

func TestSelectInWordMatchesNaive(t *testing.T) {
	r := rng(1)
	for i := 0; i < 20000; i++ {
		w := r.Uint64()
		switch i % 4 {
		case 1:
			w &= r.Uint64()
		case 2:
			w = ^(1 << r.IntN(64))
		case 3:
			w = 1 << r.IntN(64)
		}
		for k := 0; k < bits.OnesCount64(w); k++ {
			if got, want := selectInWord(w, uint64(k)), naiveSelect([]uint64{w}, k); got != want {
				t.Fatalf("selectInWord(%#x, %d) = %d, want %d", w, k, got, want)
			}
		}
	}
	if got := selectInWord(math.MaxUint64, 63); got != 63 {
		t.Fatalf("selectInWord(all ones, 63) = %d, want 63", got)
	}
}

func TestSelectGenericMatchesNaive(t *testing.T) {
	r := rng(2)
	for n := 0; n <= 12; n++ {
		wordSets(r, n, func(desc string, w []uint64) {
			for k := 0; k <= 64*n+1; k++ {
				if got, want := selectGeneric(w, k), naiveSelect(w, k); got != want {
					t.Fatalf("%s, n=%d: selectGeneric(k=%d) = %d, want %d", desc, n, k, got, want)
				}
			}
		})
	}
}

func TestEveryKernelMatchesGeneric(t *testing.T) {
	t.Run("Select", func(t *testing.T) {
		for _, k := range selectImpls() {
			t.Run("kernel="+k.name, func(t *testing.T) { checkSelect(t, k.fn) })
		}
	})
	t.Run("PopCount", func(t *testing.T) {
		for _, k := range popCountImpls() {
			t.Run("kernel="+k.name, func(t *testing.T) { checkPopCount(t, k.fn) })
		}
	})
	t.Run("MinIndex", func(t *testing.T) {
		for _, k := range minIndexImpls() {
			t.Run("kernel="+k.name, func(t *testing.T) { checkMinIndex(t, k.fn) })
		}
	})
	t.Run("FirstDue", func(t *testing.T) {
		for _, k := range firstDueImpls() {
			t.Run("kernel="+k.name, func(t *testing.T) { checkFirstDue(t, k.fn) })
		}
	})
}

// TestDispatchMatchesGeneric runs the exported functions with every feature
// on, then with each switched off, then with all off, at every length
// around the thresholds.
func TestDispatchMatchesGeneric(t *testing.T) {
	exported := func(t *testing.T) {
		checkSelect(t, func(w []uint64, k int) int { return Select(w, k) })
		checkPopCount(t, PopCount)
		checkMinIndex(t, MinIndex)
		checkFirstDue(t, FirstDue)
	}
	t.Run("with every feature this CPU has", exported)
	for _, tg := range featureToggles() {
		t.Run("with "+tg.name+" switched off", func(t *testing.T) {
			defer tg.disable()()
			exported(t)
		})
	}
	t.Run("with every feature switched off", func(t *testing.T) {
		for _, tg := range featureToggles() {
			defer tg.disable()()
		}
		exported(t)
	})
}

func checkSelect(t *testing.T, fn selectFunc) {
	t.Helper()
	r := rng(3)
	for _, n := range testLengths(selectThresholds()...) {
		if n > 300 && n%1000 != 0 && n != 4099 {
			continue
		}
		wordSets(r, n, func(desc string, w []uint64) {
			total := popCountGeneric(w)
			ks := []int{0, 1, 63, 64, total - 1, total, total + 1, 64 * n, math.MaxInt}
			for i := 0; i < 16 && total > 0; i++ {
				ks = append(ks, r.IntN(total))
			}
			if n <= 40 {
				ks = ks[:0]
				for k := 0; k <= total+1; k++ {
					ks = append(ks, k)
				}
			}
			for _, k := range ks {
				if k < 0 {
					continue
				}
				if got, want := fn(w, k), selectGeneric(w, k); got != want {
					t.Fatalf("%s, n=%d, popcount %d: Select(k=%d) = %d, want %d", desc, n, total, k, got, want)
				}
			}
		})
	}
}

func checkPopCount(t *testing.T, fn popCountFunc) {
	t.Helper()
	r := rng(4)
	for _, n := range testLengths(popCountThresholds()...) {
		wordSets(r, n, func(desc string, w []uint64) {
			if got, want := fn(w), popCountGeneric(w); got != want {
				t.Fatalf("%s, n=%d: PopCount = %d, want %d", desc, n, got, want)
			}
		})
	}
	// Length must bound the read: words past the end are all ones.
	buf := make([]uint64, 64)
	for i := range buf {
		buf[i] = math.MaxUint64
	}
	for n := 0; n <= 40; n++ {
		for i := range n {
			buf[i] = 0
		}
		if got := fn(buf[:n]); got != 0 {
			t.Fatalf("n=%d zero words followed by ones: PopCount = %d, want 0", n, got)
		}
		for i := range n {
			buf[i] = math.MaxUint64
		}
	}
}

// int64Cases yields value slices of length n: random, ties, all equal, the
// extremes, and the answer placed at the first and the last position, each
// also at an unaligned start.
func int64Cases(r *rand.Rand, n int, yield func(desc string, v []int64)) {
	gens := []struct {
		name string
		fill func(v []int64)
	}{
		{"random", func(v []int64) {
			for i := range v {
				v[i] = int64(r.Uint64())
			}
		}},
		{"few distinct values (ties)", func(v []int64) {
			for i := range v {
				v[i] = int64(r.IntN(4)) - 2
			}
		}},
		{"all equal", func(v []int64) {
			for i := range v {
				v[i] = 7
			}
		}},
		{"all MaxInt64", func(v []int64) {
			for i := range v {
				v[i] = math.MaxInt64
			}
		}},
		{"all MinInt64", func(v []int64) {
			for i := range v {
				v[i] = math.MinInt64
			}
		}},
		{"MinInt64 and MaxInt64 mixed", func(v []int64) {
			for i := range v {
				v[i] = []int64{math.MinInt64, math.MaxInt64, -1, 0, 1}[r.IntN(5)]
			}
		}},
		{"smallest at the first position", func(v []int64) {
			for i := range v {
				v[i] = int64(r.IntN(1000)) + 10
			}
			if len(v) > 0 {
				v[0] = 1
			}
		}},
		{"smallest at the last position", func(v []int64) {
			for i := range v {
				v[i] = int64(r.IntN(1000)) + 10
			}
			if len(v) > 0 {
				v[len(v)-1] = 1
			}
		}},
		{"ascending", func(v []int64) {
			for i := range v {
				v[i] = int64(i) - 5
			}
		}},
		{"descending", func(v []int64) {
			for i := range v {
				v[i] = -int64(i)
			}
		}},
	}
	for _, g := range gens {
		for _, off := range []int{0, 1, 3} {
			buf := make([]int64, n+off)
			g.fill(buf[off:])
			yield(fmt.Sprintf("%s at offset %d", g.name, off), buf[off:])
		}
	}
}

func checkMinIndex(t *testing.T, fn minIndexFunc) {
	t.Helper()
	r := rng(5)
	for _, n := range testLengths(minIndexThresholds()...) {
		int64Cases(r, n, func(desc string, v []int64) {
			if got, want := fn(v), minIndexGeneric(v); got != want {
				t.Fatalf("%s, n=%d: MinIndex = %d, want %d", desc, n, got, want)
			}
		})
		// The minimum (and a tie for it) at every position.
		if n <= maxTestLen {
			v := make([]int64, n)
			for p := 0; p < n; p++ {
				for i := range v {
					v[i] = math.MaxInt64 - int64(i%3)
				}
				v[p] = math.MinInt64
				if got := fn(v); got != p {
					t.Fatalf("n=%d, only minimum at %d: MinIndex = %d", n, p, got)
				}
				if q := p + 1 + (n-p)/2; q < n {
					v[q] = math.MinInt64
					if got := fn(v); got != p {
						t.Fatalf("n=%d, minimum at %d tied at %d: MinIndex = %d", n, p, q, got)
					}
				}
			}
		}
	}
	// Length must bound the read: a smaller value just past the end.
	buf := make([]int64, 64)
	for n := 1; n <= 40; n++ {
		for i := range buf {
			buf[i] = math.MinInt64
		}
		for i := range n {
			buf[i] = 5
		}
		if got := fn(buf[:n]); got != 0 {
			t.Fatalf("n=%d followed by smaller values: MinIndex = %d, want 0", n, got)
		}
	}
}

func checkFirstDue(t *testing.T, fn firstDueFunc) {
	t.Helper()
	r := rng(6)
	nows := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, 500, math.MaxInt64 - 1, math.MaxInt64}
	for _, n := range testLengths(firstDueThresholds()...) {
		int64Cases(r, n, func(desc string, v []int64) {
			for _, now := range nows {
				if got, want := fn(v, now), firstDueGeneric(v, now); got != want {
					t.Fatalf("%s, n=%d, now=%d: FirstDue = %d, want %d", desc, n, now, got, want)
				}
			}
			if n > 0 {
				now := v[r.IntN(n)]
				if got, want := fn(v, now), firstDueGeneric(v, now); got != want {
					t.Fatalf("%s, n=%d, now=%d (an element): FirstDue = %d, want %d", desc, n, now, got, want)
				}
			}
		})
		// One due deadline (equal to now, then below it) at every position.
		if n <= maxTestLen {
			v := make([]int64, n)
			for p := 0; p < n; p++ {
				for i := range v {
					v[i] = 1001 + int64(i)
				}
				v[p] = 1000
				if got := fn(v, 1000); got != p {
					t.Fatalf("n=%d, d == now only at %d: FirstDue = %d", n, p, got)
				}
				v[p] = math.MinInt64
				if got := fn(v, 999); got != p {
					t.Fatalf("n=%d, d < now only at %d: FirstDue = %d", n, p, got)
				}
			}
			for i := range v {
				v[i] = 1000
			}
			if got, want := fn(v, 999), -1; got != want {
				t.Fatalf("n=%d, nothing due: FirstDue = %d, want -1", n, got)
			}
		}
	}
	// Length must bound the read: due deadlines just past the end.
	buf := make([]int64, 64)
	for n := 0; n <= 40; n++ {
		for i := range buf {
			buf[i] = math.MinInt64
		}
		for i := range n {
			buf[i] = 5
		}
		if got := fn(buf[:n], 4); got != -1 {
			t.Fatalf("n=%d followed by due deadlines: FirstDue = %d, want -1", n, got)
		}
	}
}

func TestSelectNegativeK(t *testing.T) {
	for _, k := range []int{-1, -64, math.MinInt} {
		if got := Select([]uint64{math.MaxUint64}, k); got != -1 {
			t.Errorf("Select(all ones, %d) = %d, want -1", k, got)
		}
	}
}

func TestEmptyInputs(t *testing.T) {
	if got := Select(nil, 0); got != -1 {
		t.Errorf("Select(nil, 0) = %d, want -1", got)
	}
	if got := PopCount(nil); got != 0 {
		t.Errorf("PopCount(nil) = %d, want 0", got)
	}
	if got := MinIndex(nil); got != -1 {
		t.Errorf("MinIndex(nil) = %d, want -1", got)
	}
	if got := FirstDue(nil, math.MaxInt64); got != -1 {
		t.Errorf("FirstDue(nil, MaxInt64) = %d, want -1", got)
	}
}

func TestKernelsDoNotAllocate(t *testing.T) {
	words := make([]uint64, 1000)
	vals := make([]int64, 1000)
	r := rng(7)
	for i := range words {
		words[i] = r.Uint64()
		vals[i] = int64(r.Uint64())
	}
	for _, n := range []int{0, 1, 8, 64, 1000} {
		w, v := words[:n], vals[:n]
		allocs := testing.AllocsPerRun(100, func() {
			Select(w, n*16)
			PopCount(w)
			MinIndex(v)
			FirstDue(v, math.MinInt64)
		})
		if allocs != 0 {
			t.Errorf("n=%d: %v allocations per run, want 0", n, allocs)
		}
	}
}

// TestRequiredAssemblyWasSelected fails, when NANOLB_REQUIRE_ASM=1, if the
// dispatch would not run the assembly kernel this CPU and architecture are
// expected to use (CI sets it on amd64 and under qemu for arm64, so that a
// broken feature probe or build tag cannot silently fall back to Go).
func TestRequiredAssemblyWasSelected(t *testing.T) {
	if os.Getenv("NANOLB_REQUIRE_ASM") != "1" {
		t.Skip("set NANOLB_REQUIRE_ASM=1 to require the assembly kernels")
	}
	if race.Enabled {
		t.Skip("the race detector build uses the Go kernels by design")
	}
	for _, c := range requiredKernels() {
		if c.got != c.want {
			t.Errorf("%s: dispatch at n=%d picks %q, want %q", c.op, c.n, c.got, c.want)
		}
	}
}

// kernelChoice is one expectation of TestRequiredAssemblyWasSelected.
type kernelChoice struct {
	op        string
	n         int
	got, want string
}
