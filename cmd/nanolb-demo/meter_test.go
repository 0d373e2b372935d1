package main

import (
	"math"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// A meter on a clock of its own: busy worker time and served requests,
// its report over the window (from its start while it is younger), and
// the utilization between two instants from its ticks.
func TestWorkMeter(t *testing.T) {
	var now time.Duration
	m := newWorkMeter(4, time.Now())
	m.now = func() time.Duration { return now }
	at := func(d time.Duration) { now = d }
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }

	at(50 * time.Millisecond)
	m.begin()
	if l := m.load(); l != (lb.Load{}) {
		t.Errorf("a report 50ms after the start: %+v, want none", l)
	}
	// Two of four workers busy from 100 ms on, one of them done at 300 ms.
	at(100 * time.Millisecond)
	m.tick()
	m.begin()
	at(200 * time.Millisecond)
	m.tick()
	at(300 * time.Millisecond)
	m.end()
	if l := m.load(); !near(l.ApplicationUtilization, (50+200+200)/(4*300.0)) || !near(l.RPS, 1/0.3) {
		t.Errorf("at 300ms: %+v; want utilization 450/1200 and 1/0.3 requests a second", l)
	}
	// Past the window, the report covers its last second and a little.
	for d := 300 * time.Millisecond; d <= 2*time.Second; d += meterTick {
		at(d)
		m.tick()
	}
	at(2050 * time.Millisecond)
	if l := m.load(); !near(l.ApplicationUtilization, 0.25) || l.RPS != 0 {
		t.Errorf("at 2.05s: %+v; want one worker of four busy all along, no request done", l)
	}
	h := m.history()
	if len(h) != 20 || h[0].At != 100*time.Millisecond || h[19].At != 2*time.Second {
		t.Fatalf("%d ticks from %v to %v, want 20 from 100ms to 2s", len(h), h[0].At, h[len(h)-1].At)
	}
	if u := utilizationBetween(h, 4, time.Second, 2*time.Second); !near(u, 0.25) {
		t.Errorf("utilization from 1s to 2s %v, want 0.25", u)
	}
	if u := utilizationBetween(h, 4, 100*time.Millisecond, 300*time.Millisecond); !near(u, (200+200)/(4*200.0)) {
		t.Errorf("utilization from 100ms to 300ms %v, want 400/800", u)
	}
	if u := utilizationBetween(h, 4, 3*time.Second, 4*time.Second); u != 0 {
		t.Errorf("utilization after the last tick %v, want 0", u)
	}
}
