package discovery

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// backend is a real HTTP server on 127.0.0.1 that counts its requests; a
// request to /hold waits until release is closed.
type backend struct {
	srv     *httptest.Server
	port    uint16
	hits    atomic.Int64
	release chan struct{}
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{release: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if r.URL.Path == "/hold" {
			select {
			case <-b.release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(b.srv.Close)
	_, port, _ := net.SplitHostPort(b.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	b.port = uint16(p)
	return b
}

// TestChainDNSToPicks runs the whole chain: a DNS server whose SRV records
// change while a Runner keeps a Pool in step, and real HTTP requests to the
// endpoints that Pick returns.
func TestChainDNSToPicks(t *testing.T) {
	noLeaks(t)
	const (
		name     = "_http._tcp.chain.nanolb.test."
		interval = 300 * time.Millisecond
		bound    = 5 * time.Second // a failure bound, not an expectation
	)
	z := startZone(t)
	b1, b2, b3 := startBackend(t), startBackend(t), startBackend(t)
	z.setA("one.nanolb.test.", "127.0.0.1")
	z.setA("two.nanolb.test.", "127.0.0.1")
	z.setA("three.nanolb.test.", "127.0.0.1")
	z.setSRV(name, srvRec{10, 1, b1.port, "one.nanolb.test."}, srvRec{10, 1, b2.port, "two.nanolb.test."})

	res, err := NewDNS(DNSConfig{SRV: name, Server: z.Addr})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := lb.New(lb.Config{Policy: lb.RoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	r := mustStart(t, pool, res, Config{StartupEvery: interval, Every: interval, RetryAfter: interval, Timeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	if err := r.WaitForReady(ctx); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: bound}
	defer client.CloseIdleConnections()
	get := func(path string) (string, error) {
		l, err := pool.Pick()
		if err != nil {
			return "", err
		}
		resp, err := client.Get("http://" + l.Endpoint() + path)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		l.Done(err)
		return l.Endpoint(), err
	}
	// pickUntil sends requests until one reaches b, and returns how long
	// that took; it fails the test after bound.
	pickUntil := func(b *backend) time.Duration {
		t.Helper()
		start := time.Now()
		for before := b.hits.Load(); b.hits.Load() == before; {
			if time.Since(start) > bound {
				t.Fatalf("no request reached %s within %v; pool %v, status %+v", b.srv.URL, bound, addrsOf(pool), r.Status())
			}
			if _, err := get("/"); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	pickUntil(b1)
	pickUntil(b2)

	// A new record: a request reaches it within one interval, give or take
	// one resolve's time.
	queries := z.queries.Load()
	z.setSRV(name, srvRec{10, 1, b1.port, "one.nanolb.test."}, srvRec{10, 1, b2.port, "two.nanolb.test."},
		srvRec{10, 1, b3.port, "three.nanolb.test."})
	took := pickUntil(b3)
	t.Logf("the new endpoint was reached %v after the record change (interval %v)", took, interval)
	if took > interval+300*time.Millisecond {
		t.Errorf("the new endpoint was reached %v after the record change, over one interval (%v) and a resolve", took, interval)
	}
	// One SRV and three A/AAAA pairs per resolve: at most one resolve ran.
	if n := z.queries.Load() - queries; n > 2*(1+2*3) {
		t.Errorf("%d DNS queries before the change took effect, more than two resolves' worth", n)
	}

	// A request in flight to b1 when its record goes away finishes; no new
	// request reaches b1.
	var held sync.WaitGroup
	var heldErr error
	for {
		l, err := pool.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if l.Endpoint() != b1.srv.Listener.Addr().String() {
			l.Done(nil)
			continue
		}
		held.Go(func() {
			resp, err := client.Get("http://" + l.Endpoint() + "/hold")
			if err == nil {
				resp.Body.Close()
			}
			l.Done(err)
			heldErr = err
		})
		break
	}
	z.setSRV(name, srvRec{10, 1, b2.port, "two.nanolb.test."}, srvRec{10, 1, b3.port, "three.nanolb.test."})
	start := time.Now()
	if !waitFor(bound, func() bool { return pool.Len() == 2 }) {
		t.Fatalf("the removed record stayed in the pool: %v", addrsOf(pool))
	}
	t.Logf("the removal took effect after %v", time.Since(start))
	hits := b1.hits.Load()
	for range 50 {
		if addr, err := get("/"); err != nil || addr == b1.srv.Listener.Addr().String() {
			t.Fatalf("a request after the removal: %s, %v", addr, err)
		}
	}
	if n := b1.hits.Load() - hits; n != 0 {
		t.Errorf("%d requests reached the removed endpoint", n)
	}
	close(b1.release)
	held.Wait()
	if heldErr != nil {
		t.Errorf("the request in flight during the removal: %v", heldErr)
	}

	// SERVFAIL and a server that stops answering keep the set; picks go on.
	for _, mode := range []string{"servfail", "silent"} {
		z.setMode(mode)
		if !waitFor(bound, func() bool { return r.Status().Failures >= 2 }) {
			t.Fatalf("%s: no failure reported: %+v", mode, r.Status())
		}
		for range 20 {
			if _, err := get("/"); err != nil {
				t.Fatalf("%s: a request during failed resolves: %v", mode, err)
			}
		}
		if st := r.Status(); pool.Len() != 2 || st.Endpoints != 2 || !errors.Is(st.LastError, ErrResolve) {
			t.Errorf("%s: pool %v, status %+v", mode, addrsOf(pool), st)
		}
		t.Logf("%s: %v", mode, r.Status().LastError)
		z.setMode("")
		if !waitFor(bound, func() bool { return r.Status().Failures == 0 }) {
			t.Fatalf("%s: no recovery: %+v", mode, r.Status())
		}
	}

	// A record with port 0 and an empty answer keep the set too.
	for _, recs := range [][]srvRec{
		{{10, 1, b1.port, "one.nanolb.test."}, {10, 1, 0, "two.nanolb.test."}},
		nil,
	} {
		z.setSRV(name, recs...)
		if !waitFor(bound, func() bool { return r.Status().Failures > 0 }) {
			t.Fatalf("answer %v was not reported: %+v", recs, r.Status())
		}
		if st := r.Status(); pool.Len() != 2 || !errors.Is(st.LastError, ErrResolve) {
			t.Errorf("answer %v: pool %v, status %+v", recs, addrsOf(pool), st)
		}
		t.Log(r.Status().LastError)
		z.setSRV(name, srvRec{10, 1, b2.port, "two.nanolb.test."}, srvRec{10, 1, b3.port, "three.nanolb.test."})
		if !waitFor(bound, func() bool { return r.Status().Failures == 0 }) {
			t.Fatalf("no recovery after %v: %+v", recs, r.Status())
		}
	}
	r.Close()
}
