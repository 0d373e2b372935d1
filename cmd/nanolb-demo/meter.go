package main

import (
	"sync"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// Utilization as a backend measures it: the time integral of its busy
// workers, read over a sliding window for the load it reports and over the
// measured part of the phase for the capacity table.
const (
	// meterWindow is how far back a backend's report looks: long enough to
	// hold a hundred requests of its smallest backend, short enough that
	// its weight follows a change of share within a second.
	meterWindow = time.Second
	// meterTick is how often the cluster samples each meter: the window's
	// resolution, and the phase's utilization samples.
	meterTick = 100 * time.Millisecond
	// meterSlots is the ring of samples that spans the window.
	meterSlots = int(meterWindow/meterTick) + 1
)

// meterSample is a meter's counts at one instant.
type meterSample struct {
	At   time.Duration // since the meter started
	Busy time.Duration // worker time spent serving, summed over workers
	Done int64         // requests that left a worker
}

// workMeter measures a backend of workers workers: how long they were busy
// and how many requests they served, exactly (not sampled), under a mutex
// taken twice a request and once a report.
type workMeter struct {
	workers int
	start   time.Time
	now     func() time.Duration // since start; tests set their own

	mu      sync.Mutex
	busy    int           // workers serving now
	last    time.Duration // when busy last changed, since start
	busyFor time.Duration // busy worker time up to last
	done    int64
	ring    [meterSlots]meterSample // the last samples, oldest at next
	next    int
	samples []meterSample // every tick's, for the phase's result
}

// newWorkMeter returns a meter of workers workers, started at start.
func newWorkMeter(workers int, start time.Time) *workMeter {
	return &workMeter{workers: workers, start: start, now: func() time.Duration { return time.Since(start) }}
}

// advance brings busyFor up to now, under mu.
func (m *workMeter) advance(now time.Duration) {
	if now > m.last {
		m.busyFor += time.Duration(m.busy) * (now - m.last)
		m.last = now
	}
}

// sample is the meter's counts at now, under mu.
func (m *workMeter) sample(now time.Duration) meterSample {
	m.advance(now)
	return meterSample{At: now, Busy: m.busyFor, Done: m.done}
}

// begin marks a worker busy.
func (m *workMeter) begin() {
	m.mu.Lock()
	m.advance(m.now())
	m.busy++
	m.mu.Unlock()
}

// end marks a worker free again, its request served (or given up).
func (m *workMeter) end() {
	m.mu.Lock()
	m.advance(m.now())
	m.busy--
	m.done++
	m.mu.Unlock()
}

// tick records a sample: into the window's ring and the phase's samples.
func (m *workMeter) tick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sample(m.now())
	m.ring[m.next] = s
	m.next = (m.next + 1) % meterSlots
	m.samples = append(m.samples, s)
}

// load is the backend's report for lbhttp.ReportLoad: its utilization
// (busy worker time over the workers' time) and the requests it served a
// second, both over the same window, from the oldest sample in the ring
// (the meter's start while it is younger than the window) to now.
func (m *workMeter) load() lb.Load {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sample(m.now())
	old := m.ring[m.next] // zero before the ring is full: the start
	span := now.At - old.At
	if span < meterTick {
		return lb.Load{} // too short a time to say anything
	}
	return lb.Load{
		ApplicationUtilization: float64(now.Busy-old.Busy) / float64(time.Duration(m.workers)*span),
		RPS:                    float64(now.Done-old.Done) / span.Seconds(),
	}
}

// history returns the ticks' samples so far.
func (m *workMeter) history() []meterSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]meterSample(nil), m.samples...)
}

// utilizationBetween is the share of workers busy between from and to
// (since the meter started), from samples: those nearest each end within
// the span. 0 when fewer than two samples fall within it.
func utilizationBetween(samples []meterSample, workers int, from, to time.Duration) float64 {
	var first, last *meterSample
	for i := range samples {
		s := &samples[i]
		if s.At < from-meterTick/2 || s.At > to+meterTick/2 {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
	}
	if first == nil || last.At <= first.At || workers <= 0 {
		return 0
	}
	return float64(last.Busy-first.Busy) / float64(time.Duration(workers)*(last.At-first.At))
}
