package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/race"
)

// The five-server scenario: real HTTP servers on 127.0.0.1, two fast, one
// 20 ms slow, one answering 500 for its first 3 s, one shut down after
// 1 s; 20,000 requests from 32 goroutines, default Config, no retries. The
// caller sees an error for every failed request.

const (
	scenarioRequests = 20000
	scenarioWorkers  = 32
	scenarioLimit    = 60 * time.Second // the whole run's bound, per policy
)

type scenarioResult struct {
	errors int
	share  map[string]int // requests per server name
	took   time.Duration
}

// runScenario drives the load through pick (a Pool's Pick) and returns the
// errors callers saw and each server's share.
func runScenario(t *testing.T, cfg Config) scenarioResult {
	t.Helper()
	start := time.Now()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	servers := map[string]*httptest.Server{
		"fast1": httptest.NewServer(ok),
		"fast2": httptest.NewServer(ok),
		"slow": httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, "ok")
		})),
		"500s": httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if time.Since(start) < 3*time.Second {
				http.Error(w, "warming up", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		})),
		"dies": httptest.NewServer(ok),
	}
	names := map[string]string{}
	var addrs []string
	for name, s := range servers {
		defer s.Close()
		a := strings.TrimPrefix(s.URL, "http://")
		names[a] = name
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	killer := time.AfterFunc(time.Second, servers["dies"].Close)
	defer killer.Stop()

	p, err := New(cfg, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: scenarioWorkers}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()

	var next, failed atomic.Int64
	var mu sync.Mutex
	share := map[string]int{}
	var wg sync.WaitGroup
	for range scenarioWorkers {
		wg.Go(func() {
			local := map[string]int{}
			for next.Add(1) <= scenarioRequests && ctx.Err() == nil {
				l, err := p.Pick()
				if err != nil {
					failed.Add(1)
					continue
				}
				local[names[l.Endpoint()]]++
				if err := get(ctx, client, l.Endpoint()); err != nil {
					failed.Add(1)
					l.Done(err)
					continue
				}
				l.Done(nil)
			}
			mu.Lock()
			for k, v := range local {
				share[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the scenario took longer than %v", scenarioLimit)
	}
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("%s: %d leases in flight after the run", names[e.Addr], e.InFlight)
		}
	}
	return scenarioResult{errors: int(failed.Load()), share: share, took: time.Since(start)}
}

var errStatus = errors.New("server error")

func get(ctx context.Context, c *http.Client, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	return nil
}

// With the default Config and no retries, callers see at most 1% errors
// under every policy, and P2C does not starve the slow server.
func TestFiveServerScenarioKeepsTrafficOffFailingServers(t *testing.T) {
	if race.Enabled || testing.Short() {
		t.Skip("a timing scenario over real servers: run without -race and -short (make test's purego leg)")
	}
	for _, pol := range Policies() {
		t.Run(pol.String(), func(t *testing.T) {
			r := runScenario(t, Config{Policy: pol})
			t.Logf("%-20s errors %4d (%.2f%%)  fast1 %5d fast2 %5d slow %5d 500s %5d dies %5d  in %v", pol,
				r.errors, 100*float64(r.errors)/scenarioRequests,
				r.share["fast1"], r.share["fast2"], r.share["slow"], r.share["500s"], r.share["dies"], r.took.Round(time.Millisecond))
			if r.errors > scenarioRequests/100 {
				t.Errorf("callers saw %d errors in %d requests, more than 1%%", r.errors, scenarioRequests)
			}
			if pol == P2C && r.share["slow"] < scenarioRequests/1000 {
				t.Errorf("P2C starved the slow server: %d of %d requests", r.share["slow"], scenarioRequests)
			}
		})
	}
}
