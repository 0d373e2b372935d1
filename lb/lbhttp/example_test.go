package lbhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
)

// Three real backends, one of them broken: every call still succeeds,
// because a failed GET is retried on an endpoint it has not tried.
func Example() {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from ", r.Host) })
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	a, b, c := httptest.NewServer(ok), httptest.NewServer(ok), httptest.NewServer(broken)
	defer a.Close()
	defer b.Close()
	defer c.Close()

	pool, err := lb.New(lb.Config{}, hostport(a), hostport(b), hostport(c))
	if err != nil {
		panic(err)
	}
	client := lbhttp.NewClient(pool) // an *http.Client; the pool picks the address
	for range 3 {
		resp, err := client.Get("http://users/hello")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close() // ends the lease on the endpoint
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 hello from users
	// 200 hello from users
	// 200 hello from users
}

// A Transport with its options: its own base transport, 429 counted as a
// failure (so it is retried elsewhere and counts toward ejection), and at
// most two attempts per request.
func ExampleTransport() {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	idle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "served")
	}))
	defer busy.Close()
	defer idle.Close()
	pool, err := lb.New(lb.Config{Policy: lb.RoundRobin}, hostport(busy), hostport(idle))
	if err != nil {
		panic(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 32
	client := &http.Client{Transport: &lbhttp.Transport{
		Pool:        pool,
		Base:        base,
		MaxAttempts: 2,
		Classify: func(resp *http.Response, err error) error {
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				return errors.New("429")
			}
			return lbhttp.DefaultClassify(resp, err)
		},
	}}
	resp, err := client.Get("http://orders/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 served
}

// A pool that lets each endpoint serve one request at a time, and a
// Transport that waits for a free one: four concurrent requests to one
// backend are served one after another, none refused. Without Wait, the
// three that find the endpoint busy would fail at once with an error
// wrapping lb.ErrSaturated.
func ExampleTransport_wait() {
	var now, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		time.Sleep(10 * time.Millisecond)
		fmt.Fprint(w, "done")
	}))
	defer srv.Close()
	pool, err := lb.New(lb.Config{MaxConcurrency: 1}, hostport(srv))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: &lbhttp.Transport{Pool: pool, Wait: true}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://jobs/", nil)
			resp, err := client.Do(req)
			if err != nil {
				fmt.Println(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close() // ends the lease: the next waiter gets it
		})
	}
	wg.Wait()
	fmt.Println("most at once on the backend:", most.Load())
	// Output: most at once on the backend: 1
}

// A Pick of one's own routes by key: here each user's requests go to one
// backend of a ConsistentHash pool, and a retry to another one.
func ExampleTransport_pick() {
	var addrs []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, i)
		}))
		defer srv.Close()
		addrs = append(addrs, hostport(srv))
	}
	pool, err := lb.New(lb.Config{Policy: lb.ConsistentHash}, addrs...)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: &lbhttp.Transport{
		Pick: func(req *http.Request, tried []string) (lb.Lease, error) {
			if len(tried) == 0 {
				return pool.PickKey(req.Header.Get("User"))
			}
			return pool.PickExcept(tried...)
		},
	}}
	for _, user := range []string{"alice", "bob"} {
		reached := map[string]bool{}
		for range 5 {
			req, _ := http.NewRequest(http.MethodGet, "http://profiles/", nil)
			req.Header.Set("User", user)
			resp, err := client.Do(req)
			if err != nil {
				panic(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			reached[string(body)] = true
		}
		fmt.Println(user, "reached", len(reached), "backend")
	}
	// Output:
	// alice reached 1 backend
	// bob reached 1 backend
}

// A throttled Transport's counts, for monitoring: three requests the
// backend accepted and three it answered 503. With K 2 the throttle sheds
// nothing until the requests outnumber twice the accepts; past that it
// would refuse some, and Rejected would count them.
func ExampleTransport_ThrottleStats() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer backend.Close()
	pool, err := lb.New(lb.Config{}, hostport(backend))
	if err != nil {
		panic(err)
	}
	tr := &lbhttp.Transport{Pool: pool, Throttle: true, MaxAttempts: 1}
	client := &http.Client{Transport: tr}
	for _, path := range []string{"/", "/", "/", "/busy", "/busy", "/busy"} {
		resp, err := client.Get("http://search" + path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	fmt.Printf("%+v\n", tr.ThrottleStats())
	// Output:
	// {Requests:6 Accepts:3 Rejected:0}
}

// A backend that reports its load on every answer, its utilization being
// its requests in flight over what it can serve at once. The header's RPS
// and EPS are the handler's own, counted by ReportLoad: here its first
// request, a 503. A Transport reading this answer passes the report to the
// lease of the endpoint that sent it.
func ExampleReportLoad() {
	const capacity = 8
	var inFlight atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	})
	backend := httptest.NewServer(lbhttp.ReportLoad(handler, func() lb.Load {
		return lb.Load{ApplicationUtilization: float64(inFlight.Load()) / capacity}
	}))
	defer backend.Close()

	resp, err := http.Get(backend.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Endpoint-Load-Metrics"))
	// Output:
	// 503 TEXT application_utilization=0.125, rps_fractional=1, eps=1
}

// hostport is a test server's address, host:port.
func hostport(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
