package fanout

import (
	"runtime"
	"sync"
	"testing"
)

// A ring holds RingSize values in order, drops and counts the rest, and
// keeps working lap after lap.
func TestRingKeepsOrderAndCountsWhatAFullRingDrops(t *testing.T) {
	var r Ring[int]
	next := 0 // the next value to put
	for lap := range 3 {
		for i := range RingSize + 10 {
			if ok := r.Put(next + i); ok != (i < RingSize) {
				t.Fatalf("lap %d: Put %d of %d reported %v", lap, i, RingSize+10, ok)
			}
		}
		if n := r.Dropped(); n != 10 {
			t.Fatalf("lap %d: %d dropped, want 10", lap, n)
		}
		if n := r.Dropped(); n != 0 {
			t.Fatalf("lap %d: Dropped counted %d again", lap, n)
		}
		for i := range RingSize {
			if v, ok := r.Get(); !ok || v != next+i {
				t.Fatalf("lap %d: Get %d = %d, %v; want %d", lap, i, v, ok, next+i)
			}
		}
		if v, ok := r.Get(); ok {
			t.Fatalf("lap %d: Get on an empty ring = %d", lap, v)
		}
		next += RingSize + 10
	}
}

// Get clears the slot it read, so the ring keeps nothing alive.
func TestRingGetClearsItsSlot(t *testing.T) {
	var r Ring[*int]
	r.Put(new(int))
	if v, ok := r.Get(); !ok || v == nil {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if r.slots[0].v != nil {
		t.Fatal("the slot still points to the value it held")
	}
}

// The Put that leaves the ring half full signals its wake channel, once.
func TestRingWakesItsReaderAtHalfFull(t *testing.T) {
	r := Ring[int]{wake: make(chan struct{}, 1)}
	for i := range RingSize / 2 {
		r.Put(i)
		if len(r.wake) != 0 {
			t.Fatalf("woken after %d values", i+1)
		}
	}
	r.Put(0)
	if len(r.wake) != 1 {
		t.Fatalf("not woken with %d values in the ring", RingSize/2+1)
	}
}

// Many writers and one reader: each writer's values arrive in the order it
// put them, and every value is either read or counted as dropped.
func TestRingWithManyWritersKeepsEachWritersOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	type value struct{ writer, n int }
	const writers, each = 8, 20000
	var r Ring[value]
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range each {
				r.Put(value{w, n})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	last := make([]int, writers)
	for i := range last {
		last[i] = -1
	}
	read, dropped := 0, 0
	for finished := false; ; {
		v, ok := r.Get()
		if ok {
			if v.n <= last[v.writer] {
				t.Fatalf("writer %d: %d after %d", v.writer, v.n, last[v.writer])
			}
			last[v.writer] = v.n
			read++
			continue
		}
		dropped += int(r.Dropped())
		if finished {
			break
		}
		select {
		case <-done:
			finished = true // one more pass reads what the last Puts wrote
		default:
			runtime.Gosched()
		}
	}
	if read+dropped != writers*each {
		t.Fatalf("%d read and %d dropped of %d", read, dropped, writers*each)
	}
	t.Logf("%d read, %d dropped", read, dropped)
}
