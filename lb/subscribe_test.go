package lb

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/race"
)

// collectEvents reads s until it has want events or the bubble's clock
// passes limit; it returns the events and the drops reported.
func collectEvents(t *testing.T, s *Subscription, want int, limit time.Duration) ([]Event, int, []int) {
	t.Helper()
	var events []Event
	var sizes []int
	dropped := 0
	deadline := time.After(limit)
	for len(events)+dropped < want {
		select {
		case b := <-s.C():
			events = append(events, b.Events...)
			dropped += b.Dropped
			sizes = append(sizes, len(b.Events))
		case <-deadline:
			t.Fatalf("got %d events and %d drops of %d before %v", len(events), dropped, want, limit)
		}
	}
	return events, dropped, sizes
}

func kinds(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind.String()+" "+e.Addr)
	}
	return out
}

// Every transition of an ejection and a recovery reaches a subscriber, in
// order, with the fields a user asks for.
func TestSubscribeSeesEjectionProbeAndReinstatement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		p, _ := r.Ensure("svc", Config{EjectAfter: 2, EjectFor: time.Second, NoJitter: true}, "a:1", "b:1")
		s, err := p.Subscribe(SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		failTimes(t, p, "a:1", 2)
		time.Sleep(time.Second)
		synctest.Wait()
		probe := leaseOn(t, p, "a:1")
		probe.Done(errBackend) // ejected again, for 2 s
		time.Sleep(2 * time.Second)
		synctest.Wait()
		probe = leaseOn(t, p, "a:1")
		probe.Done(nil)
		_ = p.Remove("b:1")
		_ = p.Add("c:1")
		events, dropped, _ := collectEvents(t, s, 8, time.Second)
		want := []string{"ejected a:1", "probe_leased a:1", "probe_failed a:1", "ejected a:1",
			"probe_leased a:1", "reinstated a:1", "removed b:1", "added c:1"}
		got := kinds(events)
		if dropped != 0 || fmt.Sprint(got[:len(want)]) != fmt.Sprint(want) {
			t.Fatalf("events %v (dropped %d), want %v", got, dropped, want)
		}
		first := events[0]
		if first.Pool != "svc" || first.Streak != 2 || first.Ejections != 1 || first.Refused ||
			!first.Until.Equal(start.Add(time.Second)) || !first.Time.Equal(start) {
			t.Fatalf("the first ejection: %+v (start %v)", first, start)
		}
		if e := events[3]; e.Ejections != 2 || !e.Until.Equal(start.Add(3*time.Second)) {
			t.Fatalf("the second ejection: %+v, want 2 in a row until start+3s", e)
		}
	})
}

// An ejection the MaxEjectedPercent cap refuses is reported as such.
func TestSubscribeReportsARefusedEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, MaxEjectedPercent: 10}, "a:1", "b:1")
		s, _ := p.Subscribe(SubscribeOptions{})
		defer s.Close()
		failTimes(t, p, "a:1", 1)
		failTimes(t, p, "b:1", 1)
		events, _, _ := collectEvents(t, s, 2, time.Second)
		if events[1].Kind != EventEjected || !events[1].Refused || events[1].Addr != "b:1" || !events[1].Until.IsZero() {
			t.Fatalf("events %+v, want b:1's ejection refused", events)
		}
	})
}

// A burst of 100,000 transitions arrives whole, in batches of at most
// Chunk, one per sweep.
func TestABurstIsDeliveredInChunksPerSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{}, "base:1")
		s, _ := p.Subscribe(SubscribeOptions{Chunk: 5000})
		defer s.Close()
		start := time.Now()
		for i := range 50000 { // an Added and a Removed each
			_ = p.Add("x:1")
			_ = p.Remove("x:1")
			if i%1000 == 999 {
				synctest.Wait() // the dispatcher drains the ring when half full
			}
		}
		events, dropped, sizes := collectEvents(t, s, 100000, time.Minute)
		if dropped != 0 || len(sizes) != 20 {
			t.Fatalf("%d events in %d batches, %d dropped; want 100,000 in 20 of 5,000", len(events), len(sizes), dropped)
		}
		for _, n := range sizes {
			if n > 5000 {
				t.Fatalf("a batch of %d events, past the chunk", n)
			}
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Fatalf("20 sweeps took %v, want 2 s at 100 ms", took)
		}
		for i, e := range events {
			if want := [2]EventKind{EventAdded, EventRemoved}[i%2]; e.Kind != want {
				t.Fatalf("event %d is %v, want %v", i, e.Kind, want)
			}
		}
	})
}

// A subscriber that takes nothing loses only its own events, counted
// exactly; another subscriber gets every event on time.
func TestABlockedSubscriberDelaysNobodyAndItsDropsAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{}, "base:1")
		blocked, _ := p.Subscribe(SubscribeOptions{Chunk: 10, Buffer: 10})
		defer blocked.Close()
		live, _ := p.Subscribe(SubscribeOptions{})
		defer live.Close()
		for range 50 {
			_ = p.Add("x:1")
			_ = p.Remove("x:1")
		}
		events, dropped, _ := collectEvents(t, live, 100, 150*time.Millisecond)
		if len(events) != 100 || dropped != 0 {
			t.Fatalf("the live subscriber: %d events, %d dropped", len(events), dropped)
		}
		time.Sleep(time.Second) // the blocked one's buffer (10) filled at the first sweep
		got, drops, _ := collectEvents(t, blocked, 100, time.Second)
		if len(got) != 10 || drops != 90 {
			t.Fatalf("the blocked subscriber: %d events and %d drops, want 10 and 90", len(got), drops)
		}
	})
}

// Subscribing and closing while transitions happen neither races nor
// leaks: the last Close ends the dispatcher.
func TestSubscribeAndCloseRacingTransitionsLeaveNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Millisecond, MaxEjectedPercent: 100}, addrs(4)...)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if l, err := p.Pick(); err == nil {
					l.Done(errBackend)
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
		for range 50 {
			s, _ := p.Subscribe(SubscribeOptions{Interval: time.Millisecond})
			time.Sleep(time.Millisecond)
			s.Close()
			s.Close()
		}
		close(stop)
		wg.Wait()
		if p.hub.Load() != nil {
			t.Fatal("the hub outlived its last subscriber")
		}
		// synctest.Test fails if the dispatcher is left blocked.
	})
}

// A Registry subscription covers every pool, including later ones.
func TestRegistrySubscriptionCoversPoolsCreatedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		old, _ := r.Ensure("old", Config{}, "a:1")
		s, err := r.Subscribe(SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, _ = r.Ensure("new", Config{}, "b:1")
		newer, _ := r.Get("new")
		_ = old.Add("a:2")
		_ = newer.Add("b:2")
		events, _, _ := collectEvents(t, s, 3, time.Second) // new's b:1 joined after the subscription
		pools := map[string]string{}
		for _, e := range events {
			pools[e.Addr] = e.Pool
		}
		if pools["a:2"] != "old" || pools["b:2"] != "new" {
			t.Fatalf("events %+v", events)
		}
	})
}

func TestBadSubscribeOptionsAreErrors(t *testing.T) {
	p := mustNew(t, Config{}, "a:1")
	for _, o := range []SubscribeOptions{{Interval: -1}, {Interval: time.Microsecond}, {Chunk: -1}, {Chunk: 10, Buffer: 5}} {
		if _, err := p.Subscribe(o); !errors.Is(err, ErrConfig) {
			t.Errorf("Subscribe(%+v) = %v, want ErrConfig", o, err)
		}
	}
	if _, err := NewRegistry().Subscribe(SubscribeOptions{Chunk: 2_000_000}); !errors.Is(err, ErrConfig) {
		t.Errorf("Registry.Subscribe with a 2,000,000 chunk: %v", err)
	}
}

// Deleting a pool from a registry ends its dispatcher when only registry
// subscriptions listened, and C may be read while Close runs.
func TestRegistryDeleteDetachesAndCloseRacesC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		s, _ := r.Subscribe(SubscribeOptions{})
		for i := range 5 {
			name := fmt.Sprint("pool-", i)
			p, _ := r.Ensure(name, Config{}, "a:1")
			if p.hub.Load() == nil {
				t.Fatal("a registry subscription did not attach to a new pool")
			}
			r.Delete(name)
			if p.hub.Load() != nil {
				t.Fatalf("%s's dispatcher outlived its deletion", name)
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range s.C() {
			}
		}()
		s.Close()
		<-done
	})
}

// Deleting pools while a registry subscription closes never lets a pool's
// dispatcher send on the closed C, which would panic in the dispatcher.
func TestRegistryDeleteRacingCloseSendsNothingAfterClose(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	rounds := 200
	if race.Enabled { // each round's dispatchers cost far more under -race
		rounds = 60
	}
	for range rounds {
		r := NewRegistry()
		s, _ := r.Subscribe(SubscribeOptions{Interval: time.Millisecond})
		var pools []*Pool
		for i := range 8 {
			p, _ := r.Ensure(fmt.Sprint("svc-", i), Config{}, "a:1")
			pools = append(pools, p)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // events for every pool, so each has batches to deliver
			for {
				for _, p := range pools {
					select {
					case <-stop:
						return
					default:
					}
					_ = p.Add("x:1")
					_ = p.Remove("x:1")
				}
			}
		})
		for i := range pools {
			wg.Go(func() { r.Delete(fmt.Sprint("svc-", i)) })
		}
		wg.Go(s.Close)
		for range s.C() {
		}
		close(stop)
		wg.Wait()
	}
}

// A registry subscription sees the starting endpoints of a pool created
// after it join, before that pool's later changes; a pool that existed
// when it subscribed, like Pool.Subscribe, reports changes only.
func TestRegistrySubscriptionSeesTheStartingEndpointsOfLaterPools(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		early, _ := r.Ensure("early", Config{}, "a:1")
		s, _ := r.Subscribe(SubscribeOptions{})
		defer s.Close()
		later, err := r.Ensure("later", Config{}, "b:1", "b:2")
		if err != nil {
			t.Fatal(err)
		}
		_ = later.Add("b:3")
		_ = early.Add("a:2")
		events, _, _ := collectEvents(t, s, 4, time.Second)
		got := map[string][]string{} // pools deliver separately; each keeps its order
		for _, e := range events {
			got[e.Pool] = append(got[e.Pool], e.Kind.String()+" "+e.Addr)
		}
		want := map[string][]string{"early": {"added a:2"}, "later": {"added b:1", "added b:2", "added b:3"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events %q, want %q", got, want)
		}
		time.Sleep(time.Second)
		if len(s.C()) != 0 {
			t.Fatalf("more events: %+v", <-s.C())
		}
	})
}

// arrival is one batch as a subscriber saw it: when, after the start, and
// how many events.
type arrival struct {
	at time.Duration
	n  int
}

func (a arrival) String() string { return fmt.Sprintf("%v: %d", a.at, a.n) }

// arrivals reads s until it is closed and returns its batches' arrivals.
func arrivals(s *Subscription, start time.Time) <-chan []arrival {
	out := make(chan []arrival, 1)
	go func() {
		var got []arrival
		for b := range s.C() {
			got = append(got, arrival{time.Since(start), len(b.Events)})
		}
		out <- got
	}()
	return out
}

// Wakes drain the ring early but move no delivery: a subscriber gets its
// batch every Interval while the ring fills past half (4,200 events every
// 20 s) and while other subscribers come and go.
func TestSubscriberBatchesAreDueEveryIntervalWhateverWakesTheDispatcher(t *testing.T) {
	cases := []struct {
		name      string
		opts      SubscribeOptions
		every     time.Duration // a burst of pairs, starting at every/2
		pairs     int           // Add and Remove
		churn     time.Duration // another subscription starts and ends, from churn/2; 0: none
		runFor    time.Duration
		wantEvery time.Duration
		wantN     int
	}{
		{"the ring fills past half between deliveries",
			SubscribeOptions{Interval: time.Minute, Chunk: 20000}, 20 * time.Second, 2100, 0, 3 * time.Minute, time.Minute, 12600},
		{"other subscriptions start and end between deliveries",
			SubscribeOptions{Interval: time.Second}, 100 * time.Millisecond, 1, 500 * time.Millisecond, 5 * time.Second, time.Second, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := mustNew(t, Config{}, "base:1")
				start := time.Now()
				s, _ := p.Subscribe(c.opts)
				got := arrivals(s, start)
				var churn sync.WaitGroup
				if c.churn > 0 {
					churn.Go(func() {
						time.Sleep(c.churn / 2)
						for time.Since(start) < c.runFor {
							other, _ := p.Subscribe(SubscribeOptions{})
							other.Close()
							time.Sleep(c.churn)
						}
					})
				}
				time.Sleep(c.every / 2)
				for time.Since(start) < c.runFor {
					for range c.pairs {
						_ = p.Add("x:1")
						_ = p.Remove("x:1")
					}
					time.Sleep(c.every)
				}
				time.Sleep(c.every) // past the last delivery due
				churn.Wait()
				s.Close()
				var want []arrival
				for at := c.wantEvery; at <= c.runFor; at += c.wantEvery {
					want = append(want, arrival{at, c.wantN})
				}
				if batches := <-got; fmt.Sprint(batches) != fmt.Sprint(want) {
					t.Fatalf("batches (time, events) %v, want %v", batches, want)
				}
			})
		})
	}
}

// Each kind's name is the one subscribers and logs have always read.
func TestEventKindNames(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventAdded: "added", EventRemoved: "removed", EventEjected: "ejected", EventProbeLeased: "probe_leased",
		EventProbeTimedOut: "probe_timed_out", EventProbeFailed: "probe_failed", EventReinstated: "reinstated",
		EventSaturated: "saturated", EventDrained: "drained",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// Recording a transition while somebody listens allocates nothing.
func TestRecordingAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	p := mustNew(t, Config{}, "a:1")
	s, _ := p.Subscribe(SubscribeOptions{Interval: time.Hour}) // no delivery, and fewer records than wake a drain
	defer s.Close()
	c := p.index["a:1"]
	if allocs := testing.AllocsPerRun(1000, func() {
		o := p.ordered()
		o.record(EventEjected, c, 0, false)
		o.unlock()
	}); allocs != 0 {
		t.Errorf("ordered+record+unlock: %.1f allocations", allocs)
	}
}
