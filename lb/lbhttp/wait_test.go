package lbhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// holder is a real server whose /hold requests wait until release is
// closed; every other path answers at once. It records the most requests
// it ever served at once.
type holder struct {
	release  chan struct{}
	once     sync.Once
	now, max atomic.Int64
	quick    atomic.Int64 // requests to paths other than /hold
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.now.Add(1)
	defer h.now.Add(-1)
	for m := h.max.Load(); n > m && !h.max.CompareAndSwap(m, n); m = h.max.Load() {
	}
	if r.URL.Path == "/hold" {
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	} else {
		h.quick.Add(1)
	}
	io.WriteString(w, "ok")
}

func (h *holder) let() { h.once.Do(func() { close(h.release) }) }

// limited sets up a holder server, a pool over it with MaxConcurrency 1 and
// MaxWaiters waiters, and a client with tr's settings. It starts a request
// to /hold, which takes the endpoint's one slot, and returns a function
// that lets it finish and waits for it (registered as a cleanup too).
func limited(t *testing.T, http2 bool, maxWaiters int, tr *Transport) (*lb.Pool, *http.Client, string, *holder, func()) {
	t.Helper()
	h := &holder{release: make(chan struct{})}
	srv := newServer(t, http2, h)
	pool := newPool(t, lb.Config{MaxConcurrency: 1, MaxWaiters: maxWaiters}, srv)
	tr.Pool, tr.Base = pool, baseFor(t, srv)
	client := &http.Client{Transport: tr}
	url := scheme(srv) + "://service"
	held := make(chan error, 1)
	go func() {
		resp, err := client.Get(url + "/hold")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		held <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for inFlight(pool) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the holding request never took its lease")
		}
		time.Sleep(time.Millisecond)
	}
	var finish sync.Once
	done := func() {
		finish.Do(func() {
			h.let()
			if err := <-held; err != nil {
				t.Errorf("holding request: %v", err)
			}
		})
	}
	t.Cleanup(done)
	return pool, client, url, h, done
}

// waiting waits until n requests are queued in the pool.
func waiting(t *testing.T, pool *lb.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for pool.Stats().Waiting != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests waiting, want %d", pool.Stats().Waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestWaitQueuesARequestUntilTheSlotFrees(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			noLeaks(t)
			pool, client, url, h, finish := limited(t, p.http2, 0, &Transport{Wait: true})
			got := make(chan error, 1)
			go func() {
				body, err := get(context.Background(), client, url+"/second")
				if err == nil && body != "ok" {
					err = errors.New("body " + body)
				}
				got <- err
			}()
			waiting(t, pool, 1)
			if n := h.quick.Load(); n != 0 {
				t.Fatalf("the server saw the waiting request %d times before the slot freed", n)
			}
			finish()
			if err := <-got; err != nil {
				t.Fatalf("the waiting request: %v, want success", err)
			}
			if s := pool.Stats(); s.Grants != 1 || s.Waiting != 0 {
				t.Errorf("stats %+v, want one grant and nobody waiting", s)
			}
			if m := h.max.Load(); m != 1 {
				t.Errorf("the server served %d requests at once, want 1 (MaxConcurrency)", m)
			}
			requireIdle(t, pool)
		})
	}
}

func TestWaitEndsWithTheRequestsDeadline(t *testing.T) {
	noLeaks(t)
	pool, client, url, h, finish := limited(t, false, 0, &Transport{Wait: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := get(ctx, client, url+"/late")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "while it waited for an endpoint") {
		t.Errorf("error %q does not say the request was waiting", err)
	}
	if s := pool.Stats(); s.Timeouts != 1 || s.Waiting != 0 || s.Grants != 0 {
		t.Errorf("stats %+v, want one timeout, nobody waiting, no grant", s)
	}
	finish()
	if n := h.quick.Load(); n != 0 {
		t.Errorf("the server saw the timed-out request %d times", n)
	}
	requireIdle(t, pool)
}

func TestNoLeaseErrorsWrapLbsSentinels(t *testing.T) {
	t.Run("without Wait a saturated pool fails at once with ErrSaturated", func(t *testing.T) {
		noLeaks(t)
		pool, client, url, h, finish := limited(t, false, 0, &Transport{})
		_, err := get(context.Background(), client, url+"/now")
		if !errors.Is(err, lb.ErrSaturated) || !strings.Contains(err.Error(), "Transport.Wait") {
			t.Fatalf("error %v, want one wrapping lb.ErrSaturated that names Transport.Wait", err)
		}
		finish()
		if n := h.quick.Load(); n != 0 {
			t.Errorf("the server saw the refused request %d times", n)
		}
		requireIdle(t, pool)
	})
	t.Run("a full queue is ErrQueueFull and a closed pool ErrClosed", func(t *testing.T) {
		noLeaks(t)
		pool, client, url, _, finish := limited(t, false, 1, &Transport{Wait: true})
		first := make(chan error, 1)
		go func() {
			_, err := get(context.Background(), client, url+"/queued")
			first <- err
		}()
		waiting(t, pool, 1)
		if _, err := get(context.Background(), client, url+"/over"); !errors.Is(err, lb.ErrQueueFull) {
			t.Errorf("error %v past MaxWaiters, want one wrapping lb.ErrQueueFull", err)
		}
		pool.Close()
		if err := <-first; !errors.Is(err, lb.ErrClosed) {
			t.Errorf("waiting request's error %v after Close, want one wrapping lb.ErrClosed", err)
		}
		if _, err := get(context.Background(), client, url+"/after"); !errors.Is(err, lb.ErrClosed) {
			t.Errorf("error %v after Close, want one wrapping lb.ErrClosed", err)
		}
		finish()
		requireIdle(t, pool)
	})
}

// A shed wait says so and still wraps lb.ErrShed.
func TestPickErrorNamesAShedWait(t *testing.T) {
	err := pickError(fmt.Errorf("lb: PickWait: %w", lb.ErrShed))
	if !errors.Is(err, lb.ErrShed) || !strings.HasPrefix(err.Error(), "lbhttp: the request waited past its target") {
		t.Fatalf("pickError = %v, want one wrapping lb.ErrShed that says why", err)
	}
}
