package lbhttp

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/race"
	"github.com/nanolb/nanolb/lb"
)

// scenarioServer is one of the five servers of the scenario.
type scenarioServer struct {
	name   string
	srv    *httptest.Server
	served atomic.Int64 // attempts answered, whatever the status
}

// scenarioResult is one policy's run.
type scenarioResult struct {
	policy   lb.Policy
	requests int
	errors   int64 // caller-visible: transport errors and non-200 responses
	attempts int64
	served   []int64
	names    []string
	took     time.Duration
	firstErr string
}

// scenarioShape is the scenario's timeline, scaled to the run's length.
type scenarioShape struct {
	requests  int
	run       time.Duration // the pace: requests are spread over it
	dieAt     time.Duration // the dying server shuts down
	failUntil time.Duration // the flaky server answers 500 until then
	slow      time.Duration // the slow server's added latency
}

// fullShape is the scenario. Its phases (500s for 3 s, a shutdown
// at 1 s) need the 20,000 requests spread over more than 3 s, so they are
// paced over 4 s: 5,000 requests a second.
var fullShape = scenarioShape{
	requests:  20000,
	run:       4 * time.Second,
	dieAt:     time.Second,
	failUntil: 3 * time.Second,
	slow:      20 * time.Millisecond,
}

// shortShape is fullShape at a tenth of the requests and a quarter of the
// time, every phase shortened in proportion.
var shortShape = scenarioShape{
	requests:  2000,
	run:       time.Second,
	dieAt:     250 * time.Millisecond,
	failUntil: 750 * time.Millisecond,
	slow:      20 * time.Millisecond,
}

const scenarioWorkers = 32

// runScenario may run in a goroutine of its own: it does not call
// t.Fatal.
//
// runScenario starts five real servers on loopback (two fast, one slow,
// one answering 500 until failUntil, one shut down at dieAt) and sends
// shape.requests GETs from 32 goroutines through a Transport with its
// defaults (retries on) over a pool with cfg.
func runScenario(t *testing.T, cfg lb.Config, shape scenarioShape) scenarioResult {
	t.Helper()
	start := time.Now() // before the servers start, so their handlers see it
	began := func() time.Duration { return time.Since(start) }
	ok := func(w http.ResponseWriter) { io.WriteString(w, "ok") }
	servers := []*scenarioServer{{name: "fast1"}, {name: "fast2"}, {name: "slow"}, {name: "flaky"}, {name: "dying"}}
	handlers := []func(w http.ResponseWriter, r *http.Request){
		func(w http.ResponseWriter, r *http.Request) { ok(w) },
		func(w http.ResponseWriter, r *http.Request) { ok(w) },
		func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(shape.slow):
				ok(w)
			case <-r.Context().Done():
			}
		},
		func(w http.ResponseWriter, r *http.Request) {
			if began() < shape.failUntil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			ok(w)
		},
		func(w http.ResponseWriter, r *http.Request) { ok(w) },
	}
	addrs := make([]string, len(servers))
	for i, s := range servers {
		h := handlers[i]
		s.srv = newServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.served.Add(1)
			h(w, r)
		}))
		addrs[i] = addr(s.srv)
	}
	pool, err := lb.New(cfg, addrs...)
	if err != nil {
		t.Error(err) // runs in a goroutine of its own: no Fatal
		return scenarioResult{}
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = scenarioWorkers // keep a connection per worker
	t.Cleanup(base.CloseIdleConnections)
	counted := &countingTripper{base: base}
	client := &http.Client{Transport: &Transport{Pool: pool, Base: counted}, Timeout: 10 * time.Second}

	res := scenarioResult{policy: cfg.Policy, requests: shape.requests}
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	dying := time.AfterFunc(shape.dieAt, servers[4].srv.Close)
	defer dying.Stop()
	gap := shape.run / time.Duration(shape.requests)
	for range scenarioWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(shape.requests) {
					return
				}
				if wait := time.Duration(i)*gap - began(); wait > 0 {
					time.Sleep(wait) // pacing, not an assertion
				}
				resp, err := client.Get("http://service/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	res.took = began()
	res.errors = errs.Load()
	if e, ok := firstErr.Load().(string); ok {
		res.firstErr = e
	}
	for _, s := range servers {
		n := s.served.Load()
		res.served = append(res.served, n)
		res.names = append(res.names, s.name)
	}
	res.attempts = counted.n.Load()
	requireIdle(t, pool)
	return res
}

// countingTripper counts the attempts it sends, refused connections
// included.
type countingTripper struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(req)
}

// TestFiveServerScenario is the acceptance scenario: five real
// servers, 20,000 requests from 32 goroutines, the default lb.Config,
// the Transport's defaults (retries on); callers must see at most 0.1%
// errors under every policy. It logs a table per policy: requests, caller
// errors, retries, time, and each server's share of the attempts it
// answered. The full shape runs unless -short or the race detector asks
// for less.
func TestFiveServerScenario(t *testing.T) {
	noLeaks(t)
	shape := fullShape
	if testing.Short() || race.Enabled {
		shape = shortShape
	}
	// The policies run at once, each on its own servers, in goroutines
	// rather than parallel subtests, which -parallel (GOMAXPROCS) would
	// run two at a time.
	policies := lb.Policies()
	results := make([]scenarioResult, len(policies))
	var wg sync.WaitGroup
	for i, p := range policies {
		wg.Go(func() { results[i] = runScenario(t, lb.Config{Policy: p}, shape) })
	}
	wg.Wait()
	for i, r := range results {
		t.Run("policy="+policies[i].String(), func(t *testing.T) {
			if r.requests == 0 {
				t.Fatal("the scenario did not run")
			}
			if bar := int64(r.requests / 1000); r.errors > bar { // 0.1%
				t.Errorf("%d caller errors of %d requests, want at most %d (0.1%%); first: %s",
					r.errors, r.requests, bar, r.firstErr)
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| policy | requests | caller errors | retries | took |")
	for _, n := range results[0].names {
		fmt.Fprintf(&b, " %s |", n)
	}
	fmt.Fprintf(&b, "\n|---|---:|---:|---:|---:|%s\n", strings.Repeat("---:|", len(results[0].names)))
	for _, r := range results {
		if r.requests == 0 {
			continue // this policy's run failed to start
		}
		fmt.Fprintf(&b, "| %s | %d | %d (%.3f%%) | %d | %.1fs |", r.policy, r.requests, r.errors,
			100*float64(r.errors)/float64(r.requests), r.attempts-int64(r.requests), r.took.Seconds())
		var served int64
		for _, n := range r.served {
			served += n
		}
		for _, n := range r.served {
			fmt.Fprintf(&b, " %.1f%% |", 100*float64(n)/float64(served))
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}
