package lb

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestInFlightCountsOpenLeases(t *testing.T) {
	p := mustNew(t, Config{}, "only:1")
	var held []Lease
	for k := 1; k <= 5; k++ {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		if got := mustStatus(t, p, "only:1").InFlight; got != int64(k) {
			t.Fatalf("after %d Picks in-flight = %d", k, got)
		}
	}
	for i := range held {
		held[i].Done(nil)
	}
	if got := mustStatus(t, p, "only:1").InFlight; got != 0 {
		t.Fatalf("after every Done in-flight = %d", got)
	}
}

// Done twice on one lease releases once: it must neither go negative nor
// take away another open lease's count.
func TestDoneTwiceReleasesOnce(t *testing.T) {
	for _, second := range []error{nil, errBackend, context.Canceled} {
		p := mustNew(t, Config{}, "only:1")
		other, _ := p.Pick()
		l, _ := p.Pick()
		l.Done(nil)
		l.Done(second)
		if got := mustStatus(t, p, "only:1").InFlight; got != 1 {
			t.Fatalf("second Done(%v): in-flight = %d, want 1 (the other lease)", second, got)
		}
		if l.Endpoint() != "" {
			t.Fatal("a finished lease still names its endpoint")
		}
		other.Done(nil)
	}
}

// Copying a lease and ending both copies is a misuse; the count it would
// drive below zero is put back, so it never stays negative.
func TestCopiedLeaseNeverLeavesInFlightNegative(t *testing.T) {
	p := mustNew(t, Config{}, "only:1")
	l, _ := p.Pick()
	dup := l
	l.Done(nil)
	dup.Done(nil)
	if got := mustStatus(t, p, "only:1").InFlight; got != 0 {
		t.Fatalf("in-flight = %d, want 0", got)
	}
}

func TestZeroLeaseIsHarmless(t *testing.T) {
	var l Lease
	l.Done(errBackend)
	if l.Endpoint() != "" || l.Probe() {
		t.Fatal("zero lease claims an endpoint")
	}
}

// Real goroutines pick and release (some twice on one lease, as the
// contract allows) while a watcher reads every count: none is ever
// negative, all end at zero.
func TestInFlightNeverNegativeUnderConcurrency(t *testing.T) {
	p := mustNew(t, Config{}, addrs(4)...)
	var negative atomic.Int64
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, e := range p.Endpoints() {
				if e.InFlight < 0 {
					negative.Add(1)
				}
			}
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20000 {
				l, err := p.Pick()
				if err != nil {
					panic(err)
				}
				switch (i + w) % 3 {
				case 0:
					l.Done(nil)
					l.Done(nil)
				case 1:
					l.Done(context.Canceled)
					l.Done(errBackend)
				default:
					l.Done(nil)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	watcher.Wait()
	if negative.Load() != 0 {
		t.Fatalf("saw a negative in-flight count %d times", negative.Load())
	}
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("%s: in-flight %d at the end", e.Addr, e.InFlight)
		}
	}
}
