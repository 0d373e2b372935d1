package quantile

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func mustNew(t testing.TB, o Options) *Histogram {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// within reports whether got is an answer the package doc allows for the
// true quantile want: above it, by at most 1/16 of it or 64 ns.
func within(got, want time.Duration) bool {
	return got > want && got <= max(want+want/16, want+64)
}

// TestQuantileMatchesASortedModel records random samples and compares each
// answer with the sample of rank ⌈q·n⌉ in a sorted copy.
func TestQuantileMatchesASortedModel(t *testing.T) {
	ms := float64(time.Millisecond)
	for _, c := range []struct {
		name string
		draw func(r *rand.Rand) time.Duration
	}{
		{"uniform from 1 ms to 100 ms", func(r *rand.Rand) time.Duration {
			return time.Millisecond + time.Duration(r.Int64N(int64(99*time.Millisecond)))
		}},
		{"bimodal at 5 ms with 1% at 200 ms", func(r *rand.Rand) time.Duration {
			mode := 5 * ms
			if r.IntN(100) == 0 {
				mode = 200 * ms
			}
			return time.Duration(mode * (0.9 + 0.2*r.Float64()))
		}},
		{"exponential with a 10 ms mean", func(r *rand.Rand) time.Duration {
			return time.Duration(10 * ms * r.ExpFloat64())
		}},
		{"log-uniform from 10 ns to 100 s", func(r *rand.Rand) time.Duration {
			return time.Duration(math.Pow(10, 1+10*r.Float64()))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
				for _, n := range []int{100, 1000, 50000} {
					h := mustNew(t, Options{})
					samples := make([]time.Duration, n)
					for i := range samples {
						samples[i] = c.draw(r)
						h.Record(samples[i])
					}
					slices.Sort(samples)
					for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.995, 0.999} {
						want := samples[int(math.Ceil(q*float64(n)))-1]
						got, ok := h.Quantile(q)
						if !ok || !within(got, want) {
							t.Errorf("n=%d: Quantile(%v) = %v, %v; the sample of its rank is %v", n, q, got, ok, want)
						}
					}
					for _, q := range []float64{-1, 0, math.NaN()} {
						if got, _ := h.Quantile(q); !within(got, samples[0]) {
							t.Errorf("n=%d: Quantile(%v) = %v, least sample %v", n, q, got, samples[0])
						}
					}
					for _, q := range []float64{1, 2} {
						if got, _ := h.Quantile(q); !within(got, samples[n-1]) {
							t.Errorf("n=%d: Quantile(%v) = %v, greatest sample %v", n, q, got, samples[n-1])
						}
					}
				}
			})
		})
	}
}

func TestSamplesBeyondMaxAnswerMax(t *testing.T) {
	h := mustNew(t, Options{MinSamples: 1})
	h.Record(time.Hour)
	if got, ok := h.Quantile(0.5); got != Max || !ok {
		t.Fatalf("Quantile = %v, %v after an hour-long sample, want Max %v", got, ok, Max)
	}
}

func TestMinSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, Options{MinSamples: 100, Refresh: 50 * time.Millisecond})
		if got, ok := h.Quantile(0.99); ok || got != 0 {
			t.Fatalf("empty: Quantile = %v, %v, want 0, false", got, ok)
		}
		for range 99 {
			h.Record(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if got, ok := h.Quantile(0.99); ok || got != 0 {
			t.Fatalf("99 samples: Quantile = %v, %v, want 0, false", got, ok)
		}
		h.Record(time.Millisecond)
		if _, ok := h.Quantile(0.99); ok {
			t.Fatal("the 100th sample was seen before Refresh passed")
		}
		time.Sleep(50 * time.Millisecond)
		if got, ok := h.Quantile(0.99); !ok || !within(got, time.Millisecond) {
			t.Fatalf("100 samples of 1ms: Quantile = %v, %v", got, ok)
		}
	})
	t.Run("one sample is enough when MinSamples is 1", func(t *testing.T) {
		h := mustNew(t, Options{MinSamples: 1})
		if _, ok := h.Quantile(0.5); ok {
			t.Fatal("an empty window answered")
		}
		h = mustNew(t, Options{MinSamples: 1})
		h.Record(3 * time.Millisecond)
		if got, ok := h.Quantile(0.5); !ok || !within(got, 3*time.Millisecond) {
			t.Fatalf("Quantile = %v, %v", got, ok)
		}
	})
}

// TestAnAnswerIsReusedForRefresh shows that Quantile answers from its
// snapshot, for any q, until Refresh has passed.
func TestAnAnswerIsReusedForRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const refresh = 100 * time.Millisecond
		h := mustNew(t, Options{Refresh: refresh})
		for range 1000 {
			h.Record(time.Millisecond)
		}
		first, _ := h.Quantile(0.99)
		for range 10000 {
			h.Record(50 * time.Millisecond)
		}
		time.Sleep(refresh - 1)
		for _, q := range []float64{0.5, 0.99} {
			if got, _ := h.Quantile(q); got != first {
				t.Fatalf("Quantile(%v) = %v before Refresh passed, want the snapshot's %v", q, got, first)
			}
		}
		time.Sleep(1)
		if got, _ := h.Quantile(0.5); !within(got, 50*time.Millisecond) {
			t.Fatalf("Quantile(0.5) = %v once Refresh passed, want about 50ms", got)
		}
	})
}

// TestOldSamplesAgeOut records slow samples, lets the window pass, records
// fast ones: only the fast ones count.
func TestOldSamplesAgeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, Options{Window: 10 * time.Second})
		for range 1000 {
			h.Record(200 * time.Millisecond)
		}
		if got, _ := h.Quantile(0.5); !within(got, 200*time.Millisecond) {
			t.Fatalf("slow: Quantile(0.5) = %v", got)
		}
		time.Sleep(10 * time.Second)
		h.Quantile(0.5) // the ring turns here, before the fast samples
		for range 1000 {
			h.Record(5 * time.Millisecond)
		}
		time.Sleep(DefaultRefresh)
		if got, ok := h.Quantile(0.999); !ok || !within(got, 5*time.Millisecond) {
			t.Fatalf("fast after slow: Quantile(0.999) = %v, %v, want about 5ms", got, ok)
		}
	})
	t.Run("a silence of a window clears every generation", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const window = 10 * time.Second
			h := mustNew(t, Options{Window: window, MinSamples: 1})
			for range Generations {
				time.Sleep(window / Generations)
				h.Quantile(0.5)
				h.Record(time.Millisecond)
			}
			if n := h.total(); n != Generations {
				t.Fatalf("the ring holds %d samples, want %d, one a generation", n, Generations)
			}
			time.Sleep(window)
			if got, ok := h.Quantile(0.5); ok {
				t.Fatalf("Quantile(0.5) = %v, a window after the last sample", got)
			}
			if n := h.total(); n != 0 {
				t.Fatalf("the ring holds %d samples a window after the last", n)
			}
		})
	})
	t.Run("a sample recorded after a silence ages out early, never late", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := mustNew(t, Options{Window: 10 * time.Second})
			for range 1000 {
				h.Record(200 * time.Millisecond)
			}
			time.Sleep(10 * time.Second)
			for range 1000 { // no Quantile since the slow samples: same generation
				h.Record(5 * time.Millisecond)
			}
			if got, ok := h.Quantile(0.5); ok {
				t.Fatalf("Quantile(0.5) = %v: samples of a generation that ended a window ago were counted", got)
			}
		})
	})
}

// TestWindowEdges checks how long a sample counts: from the start of its
// generation to Window after it, so between Window·(Generations−1)/
// Generations and Window.
func TestWindowEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			window  = 10 * time.Second
			width   = window / Generations
			refresh = time.Millisecond
		)
		h := mustNew(t, Options{Window: window, Refresh: refresh, MinSamples: 1})
		at := func(d time.Duration) { // sleeps until d after New, at least Refresh after the last call
			time.Sleep(d - time.Since(h.start))
		}
		const a, b, c = 100 * time.Millisecond, 10 * time.Millisecond, time.Millisecond
		h.Record(a) // at 0
		at(width - refresh)
		h.Quantile(0)
		h.Record(b) // at the end of generation 0
		at(width)
		h.Quantile(0)
		h.Record(c) // at the start of generation 1
		for _, step := range []struct {
			at      time.Duration
			q       float64
			want    time.Duration // the sample of rank ⌈q·n⌉; 0 if the window is empty
			present string
		}{
			{window - 2*refresh, 0.5, b, "all three"},
			{window - refresh, 1, a, "all three"},
			{window, 1, c, "only the last"},
			{window + refresh, 0, c, "only the last"},
			{window + width - refresh, 1, c, "only the last"},
			{window + width, 1, 0, "none"},
		} {
			at(step.at)
			got, ok := h.Quantile(step.q)
			if step.want == 0 {
				if ok {
					t.Fatalf("at %v: Quantile(%v) = %v, want none left", step.at, step.q, got)
				}
				continue
			}
			if !ok || !within(got, step.want) {
				t.Fatalf("at %v, with %s samples counted: Quantile(%v) = %v, %v, want about %v", step.at, step.present, step.q, got, ok, step.want)
			}
		}
	})
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		name       string
		o          Options
		wantErr    bool
		width      time.Duration
		refresh    time.Duration
		minSamples uint64
	}{
		{"zero means the defaults", Options{}, false, DefaultWindow / Generations, DefaultRefresh, DefaultMinSamples},
		{"a short window shortens the default refresh", Options{Window: 200 * time.Millisecond}, false, 50 * time.Millisecond, 50 * time.Millisecond, DefaultMinSamples},
		{"a refresh of a whole generation is allowed", Options{Window: time.Second, Refresh: 250 * time.Millisecond, MinSamples: 5}, false, 250 * time.Millisecond, 250 * time.Millisecond, 5},
		{"a refresh longer than a generation is an error", Options{Window: time.Second, Refresh: 251 * time.Millisecond}, true, 0, 0, 0},
		{"a negative window is an error", Options{Window: -time.Second}, true, 0, 0, 0},
		{"a window shorter than a nanosecond a generation is an error", Options{Window: Generations - 1}, true, 0, 0, 0},
		{"a negative refresh is an error", Options{Refresh: -1}, true, 0, 0, 0},
		{"negative MinSamples is an error", Options{MinSamples: -1}, true, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := New(c.o)
			if c.wantErr {
				if err == nil {
					t.Fatalf("New(%+v) returned no error", c.o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.width != c.width || h.refresh != c.refresh || h.minSamples != c.minSamples {
				t.Fatalf("New(%+v): width %v, refresh %v, MinSamples %d; want %v, %v, %d",
					c.o, h.width, h.refresh, h.minSamples, c.width, c.refresh, c.minSamples)
			}
		})
	}
}

// total is the number of samples the ring holds.
func (h *Histogram) total() uint64 {
	var n uint64
	for g := range h.ring {
		for i := range h.ring[g] {
			n += h.ring[g][i].Load()
		}
	}
	return n
}

// TestConcurrentRecordAndQuantile runs recorders beside goroutines asking
// for quantiles, on the real clock, and checks every answer lies in the
// buckets of the values recorded.
func TestConcurrentRecordAndQuantile(t *testing.T) {
	const (
		recorders = 8
		each      = 20000
		lo, hi    = time.Millisecond, 2 * time.Millisecond
	)
	for _, c := range []struct {
		name string
		o    Options
		turn bool // whether the window turns during the test
	}{
		{"every sample counts when the window does not turn", Options{Window: time.Hour, Refresh: time.Nanosecond}, false},
		{"answers stay in range while the window turns", Options{Window: 4 * time.Millisecond, Refresh: time.Microsecond, MinSamples: 1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := mustNew(t, c.o)
			var recording, asking sync.WaitGroup
			var recorded, checked atomic.Int64
			done := make(chan struct{})
			for i := range recorders {
				recording.Go(func() {
					r := rand.New(rand.NewPCG(uint64(i), 1))
					n := 0
					for ; n < each || checked.Load() < 1000; n++ { // until answers were checked while recording
						h.Record(lo + time.Duration(r.Int64N(int64(hi-lo))))
					}
					recorded.Add(int64(n))
				})
			}
			for range 2 {
				asking.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						for _, q := range []float64{0.5, 0.99} {
							got, ok := h.Quantile(q)
							if !ok {
								continue
							}
							checked.Add(1)
							if got <= lo || got > hi+hi/16 {
								t.Errorf("Quantile(%v) = %v, outside the recorded values' buckets", q, got)
								return
							}
						}
					}
				})
			}
			recording.Wait()
			close(done)
			asking.Wait()
			if !c.turn {
				if n, want := h.total(), uint64(recorded.Load()); n != want {
					t.Fatalf("the ring holds %d samples, want %d", n, want)
				}
				if h.head.Load() != 0 {
					t.Fatal("the window turned during an hour-long window")
				}
			}
		})
	}
}

// TestAReusedAnswerTakesNoLock asks for a quantile while the refresh lock
// is held: an answer from the snapshot returns all the same.
func TestAReusedAnswerTakesNoLock(t *testing.T) {
	h := mustNew(t, Options{Window: 4 * time.Hour, Refresh: time.Hour, MinSamples: 1})
	h.Record(time.Millisecond)
	want, _ := h.Quantile(0.5)
	h.mu.Lock()
	defer h.mu.Unlock()
	done := make(chan time.Duration)
	go func() {
		got, _ := h.Quantile(0.5)
		done <- got
	}()
	select {
	case got := <-done:
		if got != want {
			t.Fatalf("Quantile(0.5) = %v, want the snapshot's %v", got, want)
		}
	case <-time.After(time.Minute): // reached only if Quantile waits for the lock
		t.Fatal("Quantile waited for the refresh lock to answer from its snapshot")
	}
}

func TestRecordAndAReusedAnswerDoNotAllocate(t *testing.T) {
	h := mustNew(t, Options{Window: 4 * time.Hour, Refresh: time.Hour})
	if n := testing.AllocsPerRun(1000, func() { h.Record(3 * time.Millisecond) }); n != 0 {
		t.Errorf("Record: %v allocations per call, want 0", n)
	}
	if _, ok := h.Quantile(0.99); !ok {
		t.Fatal("no answer after 1001 samples")
	}
	s := h.snap.Load()
	if n := testing.AllocsPerRun(1000, func() { h.Quantile(0.99) }); n != 0 {
		t.Errorf("Quantile from its snapshot: %v allocations per call, want 0", n)
	}
	if h.snap.Load() != s {
		t.Fatal("the snapshot was replaced: the measured calls were not answered from it")
	}
}
