package fanout

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func identity(v int) int { return v }

// arrival is one batch a sink took: when (after the start), its values
// and the drops it reported.
type arrival struct {
	at      time.Duration
	values  []int
	dropped int
}

func (a arrival) String() string { return fmt.Sprintf("%v: %v -%d", a.at, a.values, a.dropped) }

// recorder is a sink that takes every batch, unless refusing.
type recorder struct {
	start    time.Time
	mu       sync.Mutex
	refusing bool
	got      []arrival
}

func (r *recorder) deliver(values []int, dropped int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refusing {
		return false
	}
	r.got = append(r.got, arrival{time.Since(r.start), values, dropped})
	return true
}

func (r *recorder) refuse(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusing = on
}

func (r *recorder) arrivals() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.got)
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func upTo(n int) []int {
	var out []int
	for i := range n {
		out = append(out, i)
	}
	return out
}

// Each sink gets its batch every Interval of its own, counted from Add,
// with what was put since its previous batch; a turn with nothing to tell
// sends nothing.
func TestSinksGetABatchEveryIntervalOfTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Hub[int, int]
		h.Init(identity)
		go h.Run()
		defer h.Stop()
		fast, slow := &recorder{start: time.Now()}, &recorder{start: time.Now()}
		h.Add(Options{Interval: ms(100), Chunk: 100, Buffer: 100}, fast.deliver)
		h.Add(Options{Interval: ms(300), Chunk: 100, Buffer: 100}, slow.deliver)
		time.Sleep(ms(50))
		for i := range 10 { // at 50 ms, 150 ms ... 950 ms
			h.Put(i)
			time.Sleep(ms(100))
		}
		time.Sleep(ms(250)) // past 1,200 ms
		var want []arrival
		for i := range 10 {
			want = append(want, arrival{ms(100 * (i + 1)), []int{i}, 0})
		}
		if got := fast.arrivals(); got != fmt.Sprint(want) {
			t.Errorf("every 100 ms: %s, want %v", got, want)
		}
		want = []arrival{{ms(300), []int{0, 1, 2}, 0}, {ms(600), []int{3, 4, 5}, 0},
			{ms(900), []int{6, 7, 8}, 0}, {ms(1200), []int{9}, 0}}
		if got := slow.arrivals(); got != fmt.Sprint(want) {
			t.Errorf("every 300 ms: %s, want %v", got, want)
		}
	})
}

// A batch holds at most Chunk values; the rest wait for the next turns.
func TestABatchHoldsAtMostChunkValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Hub[int, int]
		h.Init(identity)
		go h.Run()
		defer h.Stop()
		r := &recorder{start: time.Now()}
		h.Add(Options{Interval: ms(100), Chunk: 10, Buffer: 100}, r.deliver)
		for i := range 25 {
			h.Put(i)
		}
		time.Sleep(ms(350))
		all := upTo(25)
		want := []arrival{{ms(100), all[:10], 0}, {ms(200), all[10:20], 0}, {ms(300), all[20:], 0}}
		if got := r.arrivals(); got != fmt.Sprint(want) {
			t.Fatalf("batches %s, want %v", got, want)
		}
	})
}

// A sink that does not take its batches keeps them, loses what overflows
// its Buffer and is told how many in its next batch taken; another sink
// gets everything on time.
func TestASinkThatFallsBehindLosesOnlyItsOwnValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Hub[int, int]
		h.Init(identity)
		go h.Run()
		defer h.Stop()
		live, behind := &recorder{start: time.Now()}, &recorder{start: time.Now()}
		h.Add(Options{Interval: ms(100), Chunk: 100, Buffer: 100}, live.deliver)
		h.Add(Options{Interval: ms(100), Chunk: 10, Buffer: 10}, behind.deliver)
		behind.refuse(true)
		for i := range 50 {
			h.Put(i)
		}
		time.Sleep(ms(150))
		behind.refuse(false)
		time.Sleep(ms(200))
		all := upTo(50)
		if got, want := live.arrivals(), fmt.Sprint([]arrival{{ms(100), all, 0}}); got != want {
			t.Errorf("the live sink: %s, want %s", got, want)
		}
		if got, want := behind.arrivals(), fmt.Sprint([]arrival{{ms(200), all[:10], 40}}); got != want {
			t.Errorf("the sink behind: %s, want %s", got, want)
		}
	})
}

// Values a full ring drops are counted in every sink's next batch. The
// zero Hub keeps what is put before Init for Run's first drain.
func TestWhatAFullRingDropsIsCountedForEverySink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Hub[int, int]
		a, b := &recorder{start: time.Now()}, &recorder{start: time.Now()}
		for _, r := range []*recorder{a, b} {
			h.Add(Options{Interval: ms(100), Chunk: RingSize, Buffer: RingSize}, r.deliver)
		}
		for i := range RingSize + 5 {
			h.Put(i)
		}
		h.Init(identity)
		go h.Run()
		defer h.Stop()
		time.Sleep(ms(150))
		want := fmt.Sprint([]arrival{{ms(100), upTo(RingSize), 5}})
		for name, r := range map[string]*recorder{"a": a, "b": b} {
			if got := r.arrivals(); got != want {
				t.Errorf("sink %s: %.200s, want %.200s", name, got, want)
			}
		}
	})
}

// The Put that fills the ring to half wakes the dispatcher, which drains
// it early, so a second burst fits; the batch still comes on time.
func TestAHalfFullRingIsDrainedEarlyWithoutMovingTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h Hub[int, int]
		h.Init(identity)
		go h.Run()
		defer h.Stop()
		r := &recorder{start: time.Now()}
		h.Add(Options{Interval: time.Second, Chunk: 2 * RingSize, Buffer: 2 * RingSize}, r.deliver)
		time.Sleep(ms(500))
		for i := range RingSize/2 + 1 {
			h.Put(i)
		}
		time.Sleep(ms(100))
		for i := RingSize/2 + 1; i < RingSize+1; i++ {
			h.Put(i)
		}
		time.Sleep(time.Second)
		want := fmt.Sprint([]arrival{{time.Second, upTo(RingSize + 1), 0}})
		if got := r.arrivals(); got != want {
			t.Fatalf("batches %.200s, want %.200s", got, want)
		}
	})
}

// Once Remove returns, the sink is never handed another batch, and once
// Stop returns, no sink is: each may close what its deliver sends on (a
// send on a closed channel would panic in the dispatcher).
func TestRemoveAndStopWhileDeliveringEndTheSinksDeliveries(t *testing.T) {
	for range 30 {
		var h Hub[int, int]
		h.Init(identity)
		go h.Run()
		chans := make([]chan []int, 8)
		sinks := make([]*Sink[int], len(chans))
		for i := range chans {
			c := make(chan []int, 1)
			chans[i] = c
			sinks[i] = h.Add(Options{Interval: time.Millisecond, Chunk: 100, Buffer: 1000}, func(b []int, _ int) bool {
				runtime.Gosched() // widens the window a dispatcher that let go of the lock would have
				select {
				case c <- b:
					return true
				default:
					return false
				}
			})
		}
		stop := make(chan struct{})
		var writer, removers sync.WaitGroup
		writer.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h.Put(i)
				if i%64 == 63 {
					time.Sleep(20 * time.Microsecond) // bursts, which the dispatcher can drain
				}
			}
		})
		for i := range 4 { // sink 4+i goes while the dispatcher hands sink i its batch
			removers.Go(func() {
				for range 1 + i%3 {
					<-chans[i]
				}
				h.Remove(sinks[4+i])
				close(chans[4+i])
			})
		}
		removers.Wait()
		for _, c := range chans[:4] {
			<-c
		}
		h.Stop()
		for _, c := range chans[:4] {
			close(c)
		}
		close(stop)
		writer.Wait()
	}
}

// Remove reports the sinks left; removing a sink twice changes nothing.
func TestRemoveReportsTheSinksLeft(t *testing.T) {
	var h Hub[int, int]
	o := Options{Interval: time.Second, Chunk: 1, Buffer: 1}
	take := func([]int, int) bool { return true }
	a, b := h.Add(o, take), h.Add(o, take)
	for i, c := range []struct {
		k    *Sink[int]
		left int
	}{{a, 1}, {a, 1}, {b, 0}} {
		if left := h.Remove(c.k); left != c.left {
			t.Fatalf("Remove %d: %d left, want %d", i, left, c.left)
		}
	}
}

func TestAddRefusesOptionsItCannotPace(t *testing.T) {
	for _, o := range []Options{
		{},
		{Interval: -time.Second, Chunk: 1, Buffer: 1},
		{Interval: time.Second, Chunk: 0, Buffer: 1},
		{Interval: time.Second, Chunk: 10, Buffer: 5},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Add did not panic")
				}
			}()
			var h Hub[int, int]
			h.Add(o, func([]int, int) bool { return true })
		})
	}
}
