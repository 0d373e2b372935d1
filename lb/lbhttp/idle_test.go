package lbhttp

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanolb/nanolb/lb"
)

// TestNewClientKeepsAnIdlePoolPerEndpoint sends concurrent requests to two
// real servers through NewClient's defaults, counting the connections the
// servers accept: each endpoint's connections are reused, so the count
// stays near the concurrency instead of growing with the requests.
func TestNewClientKeepsAnIdlePoolPerEndpoint(t *testing.T) {
	noLeaks(t)
	const workers, perWorker = 16, 100
	var accepted atomic.Int64
	srvs := make([]*httptest.Server, 2)
	for i := range srvs {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		srvs[i] = srv
	}
	pool := newPool(t, lb.Config{Policy: lb.RoundRobin}, srvs...)
	client := NewClient(pool)
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				resp, err := client.Get("http://service/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	// About one connection per request in flight, and one more for each
	// dial that lost its race to a connection freed meanwhile; far fewer
	// than one per request or two.
	n := accepted.Load()
	t.Logf("%d connections accepted for %d requests", n, workers*perWorker)
	if n > 3*workers {
		t.Errorf("%d connections accepted from %d workers, want at most %d", n, workers, 3*workers)
	}
	requireIdle(t, pool)
}

func TestMaxIdleConnsPerEndpoint(t *testing.T) {
	pool, err := lb.New(lb.Config{}, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set, want int
	}{{0, DefaultMaxIdleConnsPerEndpoint}, {7, 7}} {
		tr := &Transport{Pool: pool, MaxIdleConnsPerEndpoint: tc.set}
		tr.CloseIdleConnections() // initializes the default Base
		base := tr.base.(*http.Transport)
		if base.MaxIdleConnsPerHost != tc.want || base.MaxIdleConns != 0 {
			t.Errorf("MaxIdleConnsPerEndpoint %d: default Base keeps %d per host, %d in all; want %d per host, no total limit",
				tc.set, base.MaxIdleConnsPerHost, base.MaxIdleConns, tc.want)
		}
	}
}
