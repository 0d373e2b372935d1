package lbhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
)

// protocols are the wire protocols every lease test runs over.
var protocols = []struct {
	name  string
	http2 bool
}{
	{"http1", false},
	{"http2", true},
}

// noLeaks fails the test if goroutines it started are still running five
// seconds after it ends (after every cleanup registered later: servers
// closed, idle connections closed).
func noLeaks(t *testing.T) {
	t.Helper()
	testkit.NoGoroutinesLeft(t, 5*time.Second)
}

// newServer starts a real server on 127.0.0.1: plain HTTP/1.1, or HTTP/2
// over TLS. It is closed when the test ends.
func newServer(t *testing.T, http2 bool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if http2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// addr is srv's host:port.
func addr(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://")
}

// scheme is "https" for a TLS server, else "http".
func scheme(srv *httptest.Server) string {
	if srv.TLS != nil {
		return "https"
	}
	return "http"
}

// newPool returns a pool over the servers' addresses.
func newPool(t *testing.T, cfg lb.Config, srvs ...*httptest.Server) *lb.Pool {
	t.Helper()
	addrs := make([]string, len(srvs))
	for i, s := range srvs {
		addrs[i] = addr(s)
	}
	pool, err := lb.New(cfg, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// baseFor returns a fresh transport that trusts httptest's certificate
// (all httptest TLS servers share it) and speaks HTTP/2 to TLS servers.
// Its idle connections are closed when the test ends.
func baseFor(t *testing.T, srv *httptest.Server) *http.Transport {
	t.Helper()
	base := srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return base
}

// status returns the pool's status of the endpoint at address a.
func status(t *testing.T, pool *lb.Pool, a string) lb.EndpointStatus {
	t.Helper()
	for _, e := range pool.Endpoints() {
		if e.Addr == a {
			return e
		}
	}
	t.Fatalf("no endpoint %s in the pool", a)
	return lb.EndpointStatus{}
}

// inFlight is the pool's total of leases in flight.
func inFlight(pool *lb.Pool) int64 {
	var n int64
	for _, e := range pool.Endpoints() {
		n += e.InFlight
	}
	return n
}

// requireIdle fails unless no lease is in flight.
func requireIdle(t *testing.T, pool *lb.Pool) {
	t.Helper()
	for _, e := range pool.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("endpoint %s has %d leases in flight, want 0", e.Addr, e.InFlight)
		}
	}
}
