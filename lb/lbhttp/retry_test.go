package lbhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// recorder is a handler that answers each request with status and records
// what it saw; check, if set, runs first.
type recorder struct {
	status int
	check  func(r *http.Request)

	mu     sync.Mutex
	bodies []string
	hosts  []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rec.check != nil {
		rec.check(r)
	}
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.bodies = append(rec.bodies, string(b))
	rec.hosts = append(rec.hosts, r.Host)
	rec.mu.Unlock()
	w.WriteHeader(rec.status)
	io.WriteString(w, strings.Repeat("e", 1000)) // a body for the retry to drain
}

func (rec *recorder) hits() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.bodies)
}

// failingAndHealthy starts one server answering 500 and one answering 200,
// a round-robin pool that tries the failing one first, and a client.
func failingAndHealthy(t *testing.T, http2 bool, tr *Transport) (bad, good *recorder, pool *lb.Pool, client *http.Client, url string) {
	t.Helper()
	bad, good = &recorder{status: http.StatusInternalServerError}, &recorder{status: http.StatusOK}
	badSrv, goodSrv := newServer(t, http2, bad), newServer(t, http2, good)
	pool = newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, badSrv, goodSrv)
	tr.Pool, tr.Base = pool, baseFor(t, badSrv)
	// A retry must find the failed attempt's lease already ended.
	good.check = func(*http.Request) {
		if s := status(t, pool, addr(badSrv)); s.InFlight != 0 {
			t.Errorf("retry sent while the failed attempt holds %d leases", s.InFlight)
		}
	}
	return bad, good, pool, &http.Client{Transport: tr}, scheme(badSrv) + "://service"
}

func TestRetries(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name+"/a 5xx GET goes to the other endpoint, the failed body closed and its lease ended first", func(t *testing.T) {
			noLeaks(t)
			bad, good, pool, client, url := failingAndHealthy(t, p.http2, &Transport{})
			resp, err := client.Get(url + "/")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || bad.hits() != 1 || good.hits() != 1 {
				t.Fatalf("status %d, hits bad %d good %d; want 200 after one try on each",
					resp.StatusCode, bad.hits(), good.hits())
			}
			requireIdle(t, pool)
			if got := good.hosts[0]; got != "service" {
				t.Errorf("Host header %q, want the name the caller used, %q", got, "service")
			}
		})
	}

	t.Run("a POST is not retried and its 5xx reaches the caller", func(t *testing.T) {
		noLeaks(t)
		bad, good, pool, client, url := failingAndHealthy(t, false, &Transport{})
		resp, err := client.Post(url+"/", "text/plain", strings.NewReader("once"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || bad.hits() != 1 || good.hits() != 0 {
			t.Fatalf("status %d, hits bad %d good %d; want the 500, one attempt",
				resp.StatusCode, bad.hits(), good.hits())
		}
		requireIdle(t, pool)
	})

	t.Run("a POST with an Idempotency-Key is retried with its body replayed", func(t *testing.T) {
		noLeaks(t)
		bad, good, pool, client, url := failingAndHealthy(t, false, &Transport{})
		req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader("payload"))
		req.Header.Set("Idempotency-Key", "k1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bad.bodies[0] != "payload" || good.bodies[0] != "payload" {
			t.Fatalf("status %d, bodies bad %q good %q; want 200 and the payload twice",
				resp.StatusCode, bad.bodies, good.bodies)
		}
		requireIdle(t, pool)
	})

	t.Run("RetryNonIdempotent retries a POST", func(t *testing.T) {
		noLeaks(t)
		_, good, pool, client, url := failingAndHealthy(t, false, &Transport{RetryNonIdempotent: true})
		resp, err := client.Post(url+"/", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || good.hits() != 1 {
			t.Fatalf("status %d, good hits %d; want a retried 200", resp.StatusCode, good.hits())
		}
		requireIdle(t, pool)
	})

	t.Run("a body without GetBody is not retried", func(t *testing.T) {
		noLeaks(t)
		bad, good, pool, client, url := failingAndHealthy(t, false, &Transport{RetryNonIdempotent: true})
		req, _ := http.NewRequest(http.MethodPut, url+"/", io.NopCloser(strings.NewReader("once")))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		requireOneAttempt(t, resp, bad, good, pool)
	})

	t.Run("MaxAttempts 1 turns retries off", func(t *testing.T) {
		noLeaks(t)
		bad, good, pool, client, url := failingAndHealthy(t, false, &Transport{MaxAttempts: 1})
		resp, err := client.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		requireOneAttempt(t, resp, bad, good, pool)
	})

	t.Run("Classify can make a 429 a retried failure", func(t *testing.T) {
		noLeaks(t)
		busy, good := &recorder{status: http.StatusTooManyRequests}, &recorder{status: http.StatusOK}
		busySrv, goodSrv := newServer(t, false, busy), newServer(t, false, good)
		pool := newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, busySrv, goodSrv)
		client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, busySrv),
			Classify: func(resp *http.Response, err error) error {
				if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
					return errors.New("busy")
				}
				return DefaultClassify(resp, err)
			}}}
		resp, err := client.Get("http://service/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || busy.hits() != 1 || status(t, pool, addr(busySrv)).Streak != 1 {
			t.Fatalf("status %d, busy hits %d; want a 200 after one 429 counted as a failure",
				resp.StatusCode, busy.hits())
		}
		requireIdle(t, pool)
	})
}

// TestRetriesTryEachEndpointOnce sends GETs to three servers that all
// answer 500: each request makes MaxAttempts attempts, one per endpoint,
// and gets the last 500.
func TestRetriesTryEachEndpointOnce(t *testing.T) {
	noLeaks(t)
	recs := make([]*recorder, 3)
	srvs := make([]*httptest.Server, 3)
	for i := range recs {
		recs[i] = &recorder{status: http.StatusServiceUnavailable}
		srvs[i] = newServer(t, false, recs[i])
	}
	pool := newPool(t, lb.Config{EjectAfter: 255}, srvs...)
	client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, srvs[0])}}
	const requests = 30
	for range requests {
		before := make([]int, 3)
		for i, r := range recs {
			before[i] = r.hits()
		}
		resp, err := client.Get("http://service/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want the last attempt's 503", resp.StatusCode)
		}
		for i, r := range recs {
			if d := r.hits() - before[i]; d != 1 {
				t.Fatalf("server %d got %d attempts of one request, want 1 each", i, d)
			}
		}
	}
	requireIdle(t, pool)
}

func TestTransportErrors(t *testing.T) {
	bad := []struct {
		name string
		tr   Transport
	}{
		{"no pool and no Pick", Transport{}},
		{"negative MaxAttempts", Transport{MaxAttempts: -1}},
		{"MaxAttempts over the maximum", Transport{MaxAttempts: MaxAttemptsLimit + 1}},
		{"negative RetryRatio", Transport{RetryRatio: -0.1}},
		{"RetryRatio over 1", Transport{RetryRatio: 1.5}},
		{"negative RetryMinPerSecond", Transport{RetryMinPerSecond: -1}},
		{"RetryMinPerSecond over the maximum", Transport{RetryMinPerSecond: 2 * MaxRetryMinPerSecond}},
		{"negative MaxIdleConnsPerEndpoint", Transport{MaxIdleConnsPerEndpoint: -1}},
		{"MaxIdleConnsPerEndpoint with a Base", Transport{MaxIdleConnsPerEndpoint: 10, Base: http.DefaultTransport}},
		{"Wait with a Pick hook", Transport{Wait: true, Pick: func(*http.Request, []string) (lb.Lease, error) {
			return lb.Lease{}, errors.New("not called")
		}}},
	}
	pool, err := lb.New(lb.Config{}, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range bad {
		c := &bad[i]
		t.Run(c.name+" is an ErrConfig", func(t *testing.T) {
			tr := &c.tr
			if c.name != "no pool and no Pick" {
				tr.Pool = pool
			}
			body := &closeCounter{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest(http.MethodPost, "http://service/", body)
			_, err := tr.RoundTrip(req)
			if !errors.Is(err, lb.ErrConfig) {
				t.Fatalf("error %v, want one wrapping lb.ErrConfig", err)
			}
			if body.closed != 1 {
				t.Errorf("request body closed %d times, want 1", body.closed)
			}
			if inFlight(pool) != 0 {
				t.Error("a lease was taken")
			}
		})
	}
	t.Run("an empty pool is an ErrNoEndpoint", func(t *testing.T) {
		empty, err := lb.New(lb.Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewClient(empty).Get("http://service/")
		if !errors.Is(err, lb.ErrNoEndpoint) {
			t.Fatalf("error %v, want one wrapping lb.ErrNoEndpoint", err)
		}
	})
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// TestPickHook routes through a custom Pick and checks what it is given.
func TestPickHook(t *testing.T) {
	noLeaks(t)
	bad, good, pool, _, url := failingAndHealthy(t, false, &Transport{})
	var calls []string
	tr := &Transport{Base: baseFor(t, newServer(t, false, good)),
		Pick: func(req *http.Request, tried []string) (lb.Lease, error) {
			calls = append(calls, fmt.Sprint(len(tried)))
			return pool.PickExcept(tried...)
		}}
	resp, err := (&http.Client{Transport: tr}).Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := strings.Join(calls, ","); got != "0,1" || bad.hits() != 1 || good.hits() != 1 {
		t.Fatalf("Pick saw tried lengths %q, hits bad %d good %d; want \"0,1\", one each", got, bad.hits(), good.hits())
	}
	requireIdle(t, pool)
}

func TestRequestWithoutURL(t *testing.T) {
	pool, err := lb.New(lb.Config{}, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Transport{Pool: pool}).RoundTrip(&http.Request{Method: http.MethodGet})
	if !errors.Is(err, ErrRequest) {
		t.Fatalf("error %v, want one wrapping ErrRequest", err)
	}
	requireIdle(t, pool)
}

// bodyWatcher is a base round tripper that wraps each response body to
// record whether it was read to EOF and closed, and checks, as each attempt
// is sent, that every earlier attempt's body already was.
type bodyWatcher struct {
	base   http.RoundTripper
	t      *testing.T
	mu     sync.Mutex
	bodies []*watchedBody
}

type watchedBody struct {
	io.ReadCloser
	eof, closed bool
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if err == io.EOF {
		w.eof = true
	}
	return n, err
}

func (w *watchedBody) Close() error { w.closed = true; return w.ReadCloser.Close() }

func (bw *bodyWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	bw.mu.Lock()
	for i, b := range bw.bodies {
		if !b.eof || !b.closed {
			bw.t.Errorf("attempt %d sent while attempt %d's body is drained %v, closed %v",
				len(bw.bodies)+1, i+1, b.eof, b.closed)
		}
	}
	bw.mu.Unlock()
	resp, err := bw.base.RoundTrip(req)
	if err == nil {
		wb := &watchedBody{ReadCloser: resp.Body}
		resp.Body = wb
		bw.mu.Lock()
		bw.bodies = append(bw.bodies, wb)
		bw.mu.Unlock()
	}
	return resp, err
}

func TestRetryDrainsAndClosesTheFailedBody(t *testing.T) {
	noLeaks(t)
	tr := &Transport{}
	bad, good, pool, client, url := failingAndHealthy(t, false, tr)
	tr.Base = &bodyWatcher{base: tr.Base, t: t}
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if bad.hits() != 1 || good.hits() != 1 {
		t.Fatalf("hits bad %d good %d, want one each", bad.hits(), good.hits())
	}
	requireIdle(t, pool)
}

// requireOneAttempt checks that a request failing on bad was not retried:
// its 500 came back, and good saw nothing.
func requireOneAttempt(t *testing.T, resp *http.Response, bad, good *recorder, pool *lb.Pool) {
	t.Helper()
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || bad.hits() != 1 || good.hits() != 0 {
		t.Fatalf("status %d, hits bad %d good %d; want one attempt", resp.StatusCode, bad.hits(), good.hits())
	}
	requireIdle(t, pool)
}

// TestRetryAfterAStalledBody has the first endpoint answer 503 and stall
// inside its body: the retry must go to the second endpoint promptly, well
// within the caller's deadline, and the healthy endpoint must not be
// charged. The failed body is closed after what arrives within the drain's
// budget, not read to its end.
func TestRetryAfterAStalledBody(t *testing.T) {
	shapes := []struct {
		name   string
		length string // Content-Length header; "" for none (chunked or streamed)
	}{
		{"announcing more than the drain limit", strconv.Itoa(drainLimit + 1)},
		{"announcing less than the drain limit", "1000"},
		{"of unannounced length", ""},
	}
	for _, p := range protocols {
		for _, s := range shapes {
			t.Run(p.name+"/a body "+s.name, func(t *testing.T) {
				noLeaks(t)
				release := make(chan struct{})
				stalled := newServer(t, p.http2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if s.length != "" {
						w.Header().Set("Content-Length", s.length)
					}
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, "0123456789")
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}))
				t.Cleanup(func() { close(release) }) // before the server closes
				good := &recorder{status: http.StatusOK}
				goodSrv := newServer(t, p.http2, good)
				pool := newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, stalled, goodSrv)
				client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, stalled)}}
				// A deadline far longer than the drain's budget: the stall
				// must not eat it.
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme(stalled)+"://service/", nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("error %v, want the healthy endpoint's 200", err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || good.hits() != 1 {
					t.Fatalf("status %d, healthy endpoint hit %d times; want its 200", resp.StatusCode, good.hits())
				}
				if s := status(t, pool, addr(goodSrv)).Streak; s != 0 {
					t.Errorf("healthy endpoint's streak %d, want 0", s)
				}
				if s := status(t, pool, addr(stalled)).Streak; s != 1 {
					t.Errorf("stalled endpoint's streak %d, want 1 (its 503)", s)
				}
				requireIdle(t, pool)
			})
		}
	}
}
