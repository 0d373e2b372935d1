package lbhttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

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

// hostport is a test server's address, host:port.
func hostport(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
