package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/lb/lbhttp"
)

// backend is one real HTTP server on 127.0.0.1 playing its part of the
// script. It counts the requests it receives per time bucket (the traffic
// share a client gives it) and how many of them it failed.
type backend struct {
	spec     backendSpec
	addr     string
	inFlight atomic.Int64  // requests holding a slot or queued for one
	slots    chan struct{} // nil without a limit

	mu  sync.Mutex // guards srv
	srv *http.Server

	received []atomic.Int64 // per bucket
	failed   []atomic.Int64 // per bucket: 500 or 503 answers
	slow     atomic.Int64   // requests drawn to be answered after SlowDelay
	slowDone atomic.Int64   // of those, answered: not cancelled first
	meter    *workMeter     // its workers' utilization; nil unless spec.ReportLoad
}

// cluster runs one scenario's backends for one phase: the script's clock
// starts at start and lasts dur.
type cluster struct {
	backends []*backend
	start    time.Time
	dur      time.Duration
	buckets  int
	wg       sync.WaitGroup // serving goroutines and the script
	stop     chan struct{}
	closed   atomic.Bool // set by Close before it takes any backend's lock
}

// startCluster listens on 127.0.0.1 for every backend of sc and starts the
// script's clock. Close stops everything it started.
func startCluster(sc scenario, dur time.Duration, buckets int) (*cluster, error) {
	c := &cluster{dur: dur, buckets: buckets, stop: make(chan struct{})}
	for _, spec := range sc.Backends {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("nanolb-demo: listen for backend %s: %w", spec.Name, err)
		}
		b := &backend{
			spec:     spec,
			addr:     ln.Addr().String(),
			received: make([]atomic.Int64, buckets),
			failed:   make([]atomic.Int64, buckets),
		}
		if spec.Limit > 0 {
			b.slots = make(chan struct{}, spec.Limit)
			if spec.ReportLoad {
				b.meter = newWorkMeter(spec.Limit, time.Now())
			}
		}
		c.backends = append(c.backends, b)
		c.serve(b, ln)
	}
	c.start = time.Now()
	if sc.reportingBackend() >= 0 {
		c.wg.Add(1)
		go c.tickMeters()
	}
	for _, b := range c.backends {
		for _, w := range b.spec.Windows {
			if w.Kind == faultDown {
				c.wg.Add(1)
				go c.down(b, w)
			}
		}
	}
	return c, nil
}

// tickMeters samples the backends' meters every meterTick until Close.
func (c *cluster) tickMeters() {
	defer c.wg.Done()
	t := time.NewTicker(meterTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, b := range c.backends {
				if b.meter != nil {
					b.meter.tick()
				}
			}
		case <-c.stop:
			return
		}
	}
}

// utilization returns b's utilization samples, their times on the phase's
// clock; nil without a meter.
func (c *cluster) utilization(b *backend) []meterSample {
	if b.meter == nil {
		return nil
	}
	h := b.meter.history()
	offset := b.meter.start.Sub(c.start) // ≤ 0: the meter started first
	for i := range h {
		h[i].At += offset
	}
	return h
}

// addrs returns the backends' addresses in script order.
func (c *cluster) addrs() []string {
	out := make([]string, len(c.backends))
	for i, b := range c.backends {
		out[i] = b.addr
	}
	return out
}

// fraction returns how far into the phase t is, from 0 to 1.
func (c *cluster) fraction(t time.Time) float64 {
	return float64(t.Sub(c.start)) / float64(c.dur)
}

// bucket returns the time bucket of t, clamped to the phase.
func (c *cluster) bucket(t time.Time) int {
	i := int(c.fraction(t) * float64(c.buckets))
	return min(max(i, 0), c.buckets-1)
}

func (c *cluster) serve(b *backend, ln net.Listener) {
	srv := &http.Server{Handler: c.handler(b), ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed.Load() {
		_ = ln.Close()
		return
	}
	b.srv = srv
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = srv.Serve(ln) // returns when closed
	}()
}

// down closes b's server for window w, then listens on the same address
// again if the window ends before the phase does.
func (c *cluster) down(b *backend, w window) {
	defer c.wg.Done()
	at := func(f float64) <-chan time.Time {
		return time.After(time.Until(c.start.Add(time.Duration(f * float64(c.dur)))))
	}
	select {
	case <-at(w.From):
	case <-c.stop:
		return
	}
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	if w.To >= 1 {
		return
	}
	select {
	case <-at(w.To):
	case <-c.stop:
		return
	}
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		return // the port was taken meanwhile: the backend stays down
	}
	c.serve(b, ln)
}

// handler serves /work (the load) and /health (httplb's active checks);
// a backend with a meter reports its load on /work's answers.
func (c *cluster) handler(b *backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if b.spec.kindAt(c.fraction(time.Now())) != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	work := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		i := c.bucket(now)
		b.received[i].Add(1)
		w.Header().Set("X-Backend", b.spec.Name)
		if b.spec.kindAt(c.fraction(now)) == faultFail {
			b.failed[i].Add(1)
			http.Error(w, "scripted failure", http.StatusInternalServerError)
			return
		}
		n := b.inFlight.Add(1)
		defer b.inFlight.Add(-1)
		if b.slots != nil {
			if n > int64(b.spec.Limit+b.spec.Queue) {
				b.failed[i].Add(1)
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			select {
			case b.slots <- struct{}{}:
				defer func() { <-b.slots }()
			case <-r.Context().Done():
				return
			}
			if b.meter != nil {
				b.meter.begin()
				defer b.meter.end()
			}
		}
		d := b.spec.delayAt(now.Sub(c.start))
		slow := b.spec.SlowPercent > 0 && rand.IntN(100) < b.spec.SlowPercent
		if slow {
			d = b.spec.SlowDelay
			b.slow.Add(1)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		if slow {
			b.slowDone.Add(1)
		}
		if b.spec.FailPercent > 0 && rand.IntN(100) < b.spec.FailPercent {
			b.failed[i].Add(1)
			http.Error(w, "gray failure", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if b.meter != nil {
		mux.Handle("/work", lbhttp.ReportLoad(work, b.meter.load))
	} else {
		mux.Handle("/work", work)
	}
	return mux
}

// Close stops the script and every server, and waits for their goroutines.
func (c *cluster) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	for _, b := range c.backends {
		b.mu.Lock()
		srv := b.srv
		b.srv = nil
		b.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				_ = srv.Close()
			}
			cancel()
			_ = srv.Close()
		}
	}
	c.wg.Wait()
}
