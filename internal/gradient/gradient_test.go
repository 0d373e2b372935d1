package gradient

import (
	"testing"
	"time"
)

// server is a sequential model of a backend that serves capacity requests
// at once in service each and queues the rest first in first out: with a
// client keeping n in flight, a request's latency is service × n/capacity
// once n passes capacity.
type server struct {
	capacity int
	service  time.Duration
}

// window is what a client saw in a 100 ms window keeping inflight requests
// in flight (or offered requests in flight, if it offered fewer).
func (s server) window(limit, offered int) Window {
	n := min(limit, offered)
	latency := s.service * time.Duration(max(n, s.capacity)) / time.Duration(s.capacity)
	length := 100 * time.Millisecond
	done := int(time.Duration(n) * length / latency)
	return Window{Length: length, Completed: done, Latency: latency * time.Duration(done), InFlight: n, Peak: n}
}

// run feeds l windows of a client offering offered requests in flight, and
// returns the limits it answered.
func run(l *Limit, s server, offered, windows int) []int {
	out := make([]int, windows)
	for i := range out {
		out[i] = l.Update(s.window(l.Current(), offered))
	}
	return out
}

func TestTheLimitSettlesAtTheServersCapacityPlusTheBuffer(t *testing.T) {
	for _, s := range []server{{8, 80 * time.Millisecond}, {64, 2 * time.Millisecond}, {3, 10 * time.Millisecond}} {
		l := New(Config{}, nil)
		limits := run(l, s, 10000, 200)
		if got, want := l.MinRTT(), s.service; got != want {
			t.Errorf("capacity %d: minRTT %v, want the unloaded latency %v", s.capacity, got, want)
		}
		// Where latency is (1 + Buffer) × minRTT the gradient is 1 and the
		// headroom √limit: the limit holds at capacity × 1.25 + √(that).
		low := float64(s.capacity)
		high := float64(s.capacity)*1.25 + 2*float64(s.capacity)
		for i, got := range limits[100:] {
			if float64(got) < low || float64(got) > high {
				t.Fatalf("capacity %d: window %d: limit %d outside [%v, %v] after settling (%v)", s.capacity, 100+i, got, low, high, limits)
			}
		}
	}
}

func TestTheLimitIsNotRaisedBeyondTwiceWhatTheClientUses(t *testing.T) {
	l := New(Config{}, nil)
	limits := run(l, server{1000, 10 * time.Millisecond}, 5, 300)
	for i, got := range limits {
		if got > 2*5+DefaultMin+8 {
			t.Fatalf("window %d: limit %d while the client never had more than 5 in flight", i, got)
		}
	}
}

func TestATimeoutBacksTheLimitOff(t *testing.T) {
	l := New(Config{}, nil)
	run(l, server{1000, time.Millisecond}, 10000, 60)
	before := l.Current()
	if before < 100 {
		t.Fatalf("limit %d: the model should have grown it well past 100", before)
	}
	w := server{1000, time.Millisecond}.window(before, 10000)
	w.Timeouts = 1
	if got := l.Update(w); float64(got) > float64(before)*DefaultBackoff+1 {
		t.Fatalf("limit %d after a window with a timeout, want at most %v × %d", got, DefaultBackoff, before)
	}
}

func TestMinRTTIsMeasuredOnlyOnceTheQueueDrainedAndAgainEveryRemeasureWindows(t *testing.T) {
	l := New(Config{Remeasure: 50, MinSamples: 10}, nil)
	s := server{8, 80 * time.Millisecond}
	run(l, s, 10000, 10) // measures, then tracks
	if l.phase != tracking {
		t.Fatalf("phase %d after 10 windows: not tracking yet", l.phase)
	}
	// Within Remeasure windows the limit is pinned at Min again. The first
	// pinned window's requests started under the higher limit and still
	// show its queue: it is not measured.
	was := l.Current()
	for i := 0; l.phase == tracking; i++ {
		if i > 50 {
			t.Fatalf("still tracking %d windows later", i)
		}
		was = l.Current()
		w := s.window(was, 10000)
		w.Latency *= 10 // a measurement of this window would show
		l.Update(w)
	}
	if got := l.Current(); got != DefaultMin {
		t.Fatalf("limit %d while measuring, want Min %d", got, DefaultMin)
	}
	l.Update(s.window(was, 10000)) // still draining: in flight above Min
	for l.phase != tracking {
		l.Update(s.window(l.Current(), 10000))
	}
	if l.MinRTT() != s.service {
		t.Fatalf("minRTT %v, want %v: a window before the queue drained was averaged in", l.MinRTT(), s.service)
	}
	if got := l.Current(); got != was {
		t.Fatalf("limit %d after measuring, want back at %d", got, was)
	}
}

func TestTheLimitStaysWithinItsBounds(t *testing.T) {
	l := New(Config{Min: 2, Max: 20}, nil)
	for i, got := range run(l, server{1000, time.Millisecond}, 10000, 100) {
		if got < 2 || got > 20 {
			t.Fatalf("window %d: limit %d outside [2, 20]", i, got)
		}
	}
	if got := l.Current(); got != 20 {
		t.Fatalf("limit %d against an unlimited server, want Max 20", got)
	}
}

func TestJitterOnlyShortensTheRemeasureInterval(t *testing.T) {
	seq := uint64(0)
	l := New(Config{Remeasure: 100}, func() uint64 { seq += 7; return seq })
	for range 50 {
		if n := l.interval(); n < 85 || n > 100 {
			t.Fatalf("interval %d outside [85, 100]", n)
		}
	}
}
