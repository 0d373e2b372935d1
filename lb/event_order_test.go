package lb

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Events of one endpoint arrive in the order of its transitions, checked
// against the state machine they describe, while goroutines fail and
// succeed leases concurrently. At MaxEjectedPercent 100 every ejection
// happens; at 50% on two endpoints the cap refuses some, and a refused
// ejection leaves the endpoint up with a streak word that the endpoint
// reaches again and again: a transition that read that word before an
// ejection must still be recorded after it.
func TestEventsOfOneEndpointArriveInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	for _, tc := range []struct{ endpoints, percent, workers, picks int }{
		{4, 100, 8, 3000},
		{2, 50, 16, 20000},
	} {
		t.Run(fmt.Sprintf("%d endpoints at max ejected %d%%", tc.endpoints, tc.percent), func(t *testing.T) {
			p := mustNew(t, Config{EjectAfter: 2, EjectFor: 100 * time.Microsecond, ProbeTimeout: time.Millisecond,
				MaxEjectedPercent: tc.percent}, addrs(tc.endpoints)...)
			s, _ := p.Subscribe(SubscribeOptions{Interval: time.Millisecond, Buffer: 1 << 22, Chunk: 1_000_000})
			var batches []Batch
			done := make(chan struct{})
			go func() {
				defer close(done)
				for b := range s.C() {
					batches = append(batches, b)
				}
			}()
			var wg sync.WaitGroup
			for w := range tc.workers {
				wg.Go(func() {
					for i := range tc.picks {
						if i%8 == 0 {
							time.Sleep(50 * time.Microsecond) // let cooldowns end, so probes happen
						}
						l, err := p.Pick()
						if err != nil {
							continue
						}
						if (i+w)%3 == 0 {
							l.Done(nil)
						} else {
							l.Done(errBackend)
						}
					}
				})
			}
			wg.Wait()
			time.Sleep(20 * time.Millisecond) // let the last sweep run
			s.Close()
			<-done
			checkEndpointOrder(t, batches)
		})
	}
}

// checkEndpointOrder replays batches through each endpoint's state machine.
// A batch that reports dropped events may lack any endpoint's transitions,
// so it is skipped and every endpoint's state is unknown until its next
// event.
func checkEndpointOrder(t *testing.T, batches []Batch) {
	t.Helper()
	state := map[string]string{}
	checked, skipped := 0, 0
	for _, b := range batches {
		if b.Dropped != 0 {
			skipped += len(b.Events)
			state = map[string]string{"": "unknown"}
			continue
		}
		for _, e := range b.Events {
			st, ok := state[e.Addr]
			if !ok {
				st = state[""] // "unknown" after a drop, else "" (up: no event yet)
			}
			if st == "" {
				st = "up"
			}
			unknown := st == "unknown"
			next := ""
			switch {
			case e.Kind == EventEjected && e.Refused:
				next, ok = "up", st == "up"
			case e.Kind == EventEjected:
				next, ok = "ejected", st == "up" || st == "failed"
			case e.Kind == EventProbeLeased:
				next, ok = "probing", st == "ejected" || st == "lapsed"
			case e.Kind == EventProbeTimedOut:
				next, ok = "lapsed", st == "probing"
			case e.Kind == EventProbeFailed:
				next, ok = "failed", st == "probing"
			case e.Kind == EventReinstated:
				next, ok = "up", st == "probing"
			default:
				continue
			}
			if !ok && !unknown {
				t.Fatalf("event %d, %v (refused %v) on %s, arrived in state %q", checked, e.Kind, e.Refused, e.Addr, st)
			}
			state[e.Addr] = next
			checked++
		}
	}
	if checked < 100 || skipped > checked {
		t.Fatalf("%d events checked, %d skipped after drops: the test did not exercise ejections", checked, skipped)
	}
}

// A transition that read the health word before other transitions brought
// it back to the same value is still recorded after their events. Between
// an ejection's read of the streak word and its compare-and-swap, another
// failure's ejection is refused (the first holds the cap's one place), a
// success ends the streak and a failure starts it again: the word is what
// the ejection read, its swap succeeds, and its event must follow the
// refusal's.
func TestATransitionRacingARepeatedWordIsRecordedAfterTheEventsBetween(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 2, MaxEjectedPercent: 50}, "a:1", "b:1")
	s, err := p.Subscribe(SubscribeOptions{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failTimes(t, p, "a:1", 1)
	first := leaseOn(t, p, "a:1")
	second := leaseOn(t, p, "a:1")
	third := leaseOn(t, p, "a:1")
	testHookOrdered = func(p *Pool) {
		testHookOrdered = nil
		second.Done(errBackend) // streak 2, the cap's place is taken: refused
		third.Done(nil)         // streak 0
		failTimes(t, p, "a:1", 1)
	}
	t.Cleanup(func() { testHookOrdered = nil })
	first.Done(errBackend)
	if st := mustStatus(t, p, "a:1"); st.State != Ejected {
		t.Fatalf("a:1 is %v, want ejected", st.State)
	}
	b := <-s.C()
	var got []string
	for _, e := range b.Events {
		got = append(got, fmt.Sprintf("%v refused=%v", e.Kind, e.Refused))
	}
	want := []string{"ejected refused=true", "ejected refused=false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
