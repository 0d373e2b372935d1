package lbhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/lb"
)

// handDeadline is a context whose deadline the test passes by hand, at
// the exact step it wants: after end, Err is context.DeadlineExceeded.
type handDeadline struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newHandDeadline() *handDeadline {
	return &handDeadline{Context: context.Background(), done: make(chan struct{})}
}

func (c *handDeadline) end() { c.once.Do(func() { close(c.done) }) }

func (c *handDeadline) Done() <-chan struct{} { return c.done }

func (c *handDeadline) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// hooked is a base round tripper that runs after on each attempt's
// response before handing it on.
type hooked struct {
	base  http.RoundTripper
	after func(resp *http.Response)
}

func (h *hooked) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	if err == nil {
		h.after(resp)
	}
	return resp, err
}

// readHook calls first before a body's first Read.
type readHook struct {
	io.ReadCloser
	first func()
	once  sync.Once
}

func (r *readHook) Read(p []byte) (int, error) {
	r.once.Do(r.first)
	return r.ReadCloser.Read(p)
}

// pair is a failing and a healthy endpoint behind a round-robin pool that
// tries the failing one first, with tr's client.
type pair struct {
	bad, good         *recorder
	badAddr, goodAddr string
	pool              *lb.Pool
	client            *http.Client
	url               string
}

func newPair(t *testing.T, tr *Transport) *pair {
	t.Helper()
	p := &pair{bad: &recorder{status: http.StatusServiceUnavailable}, good: &recorder{status: http.StatusOK}}
	badSrv, goodSrv := newServer(t, false, p.bad), newServer(t, false, p.good)
	p.badAddr, p.goodAddr = addr(badSrv), addr(goodSrv)
	p.pool = newPool(t, lb.Config{Policy: lb.RoundRobin, EjectAfter: 100}, badSrv, goodSrv)
	tr.Pool = p.pool
	if tr.Base == nil {
		tr.Base = baseFor(t, badSrv)
	}
	p.client, p.url = &http.Client{Transport: tr}, "http://service/"
	return p
}

// streaks returns the failing and the healthy endpoint's streaks.
func (p *pair) streaks(t *testing.T) (bad, good int) {
	t.Helper()
	return int(status(t, p.pool, p.badAddr).Streak), int(status(t, p.pool, p.goodAddr).Streak)
}

// TestEndedContextsChargeNoEndpoint ends the request's context at the
// steps where it used to be charged to an endpoint that never had the
// attempt, or that had answered.
func TestEndedContextsChargeNoEndpoint(t *testing.T) {
	t.Run("a deadline that passes while the failed body drains sends no retry", func(t *testing.T) {
		noLeaks(t)
		ctx := newHandDeadline()
		tr := &Transport{}
		p := newPair(t, tr)
		tr.Base = &hooked{base: tr.Base, after: func(resp *http.Response) {
			if resp.StatusCode >= 500 {
				resp.Body = &readHook{ReadCloser: resp.Body, first: ctx.end}
			}
		}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
		_, err := p.client.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
		}
		if bad, good := p.streaks(t); p.good.hits() != 0 || bad != 1 || good != 0 {
			t.Errorf("healthy endpoint hit %d times, streaks bad %d good %d; want no retry and only the 503 charged",
				p.good.hits(), bad, good)
		}
		requireIdle(t, p.pool)
	})

	t.Run("a deadline that passes as the lease is granted sends nothing", func(t *testing.T) {
		noLeaks(t)
		ctx := newHandDeadline()
		var pool *lb.Pool
		p := newPair(t, &Transport{Pick: func(_ *http.Request, tried []string) (lb.Lease, error) {
			ctx.end() // as when PickWait's grant races the deadline
			return pool.PickExcept(tried...)
		}})
		pool = p.pool
		body := &closeCounter{Reader: strings.NewReader("x")}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, p.url, body)
		_, err := p.client.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
		}
		if bad, good := p.streaks(t); p.bad.hits() != 0 || bad != 0 || good != 0 {
			t.Errorf("first endpoint hit %d times, streaks %d and %d; want nothing sent and nobody charged",
				p.bad.hits(), bad, good)
		}
		if body.closed != 1 {
			t.Errorf("request body closed %d times, want 1", body.closed)
		}
		requireIdle(t, p.pool)
	})

	t.Run("a deadline that passes once the response is in is judged by the response", func(t *testing.T) {
		noLeaks(t)
		ctx := newHandDeadline()
		tr := &Transport{}
		p := newPair(t, tr)
		tr.Base = &hooked{base: tr.Base, after: func(*http.Response) { ctx.end() }}
		skip, _ := p.pool.Pick() // round robin: the next pick is the healthy endpoint
		skip.Done(nil)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, good := p.streaks(t); resp.StatusCode != http.StatusOK || good != 0 {
			t.Errorf("status %d, healthy endpoint's streak %d; want its 200 counted as a success", resp.StatusCode, good)
		}
		requireIdle(t, p.pool)
	})
}
