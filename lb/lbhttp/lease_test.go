package lbhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// bigBody is longer than any transport buffers at once, so an unread body
// really is unread.
var bigBody = strings.Repeat("x", 256<<10)

// failingPath answers 500; leases tests use it to give an endpoint a
// failure streak, so that a later neutral outcome (streak kept) can be told
// from a success (streak ended).
const failingPath = "/fail"

// leaseHandler serves the lease tests: failingPath answers 500, anything
// else bigBody.
func leaseHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == failingPath {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	io.WriteString(w, bigBody)
}

// oneEndpoint sets up a real server, a one-endpoint pool over it and a
// client whose Transport has retries off, so each request is one lease.
func oneEndpoint(t *testing.T, http2 bool, h http.HandlerFunc) (*lb.Pool, *http.Client, string) {
	t.Helper()
	srv := newServer(t, http2, h)
	pool := newPool(t, lb.Config{EjectAfter: 100}, srv)
	client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1}}
	return pool, client, scheme(srv) + "://service"
}

func TestLeaseEnds(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name+"/when the body is closed unread", func(t *testing.T) {
			noLeaks(t)
			pool, client, url := oneEndpoint(t, p.http2, leaseHandler)
			resp, err := client.Get(url + "/big")
			if err != nil {
				t.Fatal(err)
			}
			if n := inFlight(pool); n != 1 {
				t.Fatalf("in flight with the body open: %d, want 1", n)
			}
			resp.Body.Close()
			requireIdle(t, pool)
		})

		t.Run(p.name+"/at EOF, once, however often the body is closed", func(t *testing.T) {
			noLeaks(t)
			pool, client, url := oneEndpoint(t, p.http2, leaseHandler)
			other, err := client.Get(url + "/held") // a second lease, held open
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(url + "/read")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || len(b) != len(bigBody) {
				t.Fatalf("read %d bytes, %v; want %d", len(b), err, len(bigBody))
			}
			if n := inFlight(pool); n != 1 {
				t.Fatalf("in flight after EOF: %d, want 1 (the held response)", n)
			}
			resp.Body.Close()
			resp.Body.Close()
			resp.Body.Read(make([]byte, 1))
			if n := inFlight(pool); n != 1 {
				t.Fatalf("in flight after closing twice: %d, want 1: a lease ended twice", n)
			}
			other.Body.Close()
			requireIdle(t, pool)
		})

		t.Run(p.name+"/with a failure when the handler aborts mid-body (HTTP/1.1: hijack and close; HTTP/2: stream reset)", func(t *testing.T) {
			noLeaks(t)
			pool, client, url := oneEndpoint(t, p.http2, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000000")
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				if hj, ok := w.(http.Hijacker); ok { // HTTP/1.1
					conn, _, err := hj.Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					conn.Close()
					return
				}
				panic(http.ErrAbortHandler) // HTTP/2: resets the stream
			})
			resp, err := client.Get(url + "/drop")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Fatal("read the whole body of a dropped connection without error")
			}
			requireIdle(t, pool)
			if s := pool.Endpoints()[0].Streak; s != 1 {
				t.Errorf("streak %d after a body read failure, want 1", s)
			}
			resp.Body.Close()
			requireIdle(t, pool)
		})

		t.Run(p.name+"/with a failure when the server closes every connection mid-body", func(t *testing.T) {
			noLeaks(t)
			sent := make(chan struct{}, 1)
			srv := newServer(t, p.http2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000000")
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				sent <- struct{}{}
				<-r.Context().Done()
			}))
			pool := newPool(t, lb.Config{EjectAfter: 100}, srv)
			client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, srv), MaxAttempts: 1}}
			resp, err := client.Get(scheme(srv) + "://service/")
			if err != nil {
				t.Fatal(err)
			}
			<-sent
			srv.CloseClientConnections() // the TCP connection itself, HTTP/2 included
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Fatal("read the whole body of a closed connection without error")
			}
			requireIdle(t, pool)
			if s := pool.Endpoints()[0].Streak; s != 1 {
				t.Errorf("streak %d after a body read failure, want 1", s)
			}
			resp.Body.Close()
		})

		t.Run(p.name+"/neutrally when the client cancels mid-body", func(t *testing.T) {
			noLeaks(t)
			pool, client, url := oneEndpoint(t, p.http2, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == failingPath {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			})
			fail, err := client.Get(url + failingPath) // streak 1 to keep
			if err != nil {
				t.Fatal(err)
			}
			fail.Body.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/slow", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, len("partial"))); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Fatal("read after cancel succeeded")
			}
			requireIdle(t, pool)
			if s := pool.Endpoints()[0].Streak; s != 1 {
				t.Errorf("streak %d after a cancel, want the 1 from before: a cancel is neutral", s)
			}
			resp.Body.Close()
		})

		t.Run(p.name+"/on every hop of a redirect", func(t *testing.T) {
			noLeaks(t)
			h := func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/from" {
					http.Redirect(w, r, "/to", http.StatusFound)
					return
				}
				io.WriteString(w, "arrived at "+r.Host+r.URL.Path)
			}
			a, b := newServer(t, p.http2, http.HandlerFunc(h)), newServer(t, p.http2, http.HandlerFunc(h))
			pool := newPool(t, lb.Config{Policy: lb.RoundRobin}, a, b)
			client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, a)}}
			resp, err := client.Get(scheme(a) + "://service/from")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(got) != "arrived at service/to" {
				t.Fatalf("got %q, %v; want %q", got, err, "arrived at service/to")
			}
			requireIdle(t, pool)
		})
	}
}

// TestUpgradeBodyIsReadWriteCloser runs a 101 Switching Protocols exchange
// (HTTP/1.1 only: HTTP/2 has no 101) to an echo protocol: the body keeps
// io.ReadWriteCloser, the lease stays in flight while the connection is
// open, and closing the body ends it.
func TestUpgradeBodyIsReadWriteCloser(t *testing.T) {
	noLeaks(t)
	pool, client, url := oneEndpoint(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade to echo", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		brw.WriteString(line)
		brw.Flush()
		brw.ReadString('\n') // wait for the client to hang up
	})
	req, _ := http.NewRequest(http.MethodGet, url+"/echo", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 body %T is not an io.ReadWriteCloser", resp.Body)
	}
	if _, err := io.WriteString(rw, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rw).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo: %q, %v", line, err)
	}
	if n := inFlight(pool); n != 1 {
		t.Fatalf("in flight with the upgraded connection open: %d, want 1", n)
	}
	rw.Close()
	requireIdle(t, pool)
}

// TestPlainBodyIsNotWriter checks the other half of the 101 rule: an
// ordinary body does not pretend to be writable.
func TestPlainBodyIsNotWriter(t *testing.T) {
	noLeaks(t)
	pool, client, url := oneEndpoint(t, false, leaseHandler)
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, ok := resp.Body.(io.Writer); ok {
		t.Errorf("an ordinary body (%T) is an io.Writer", resp.Body)
	}
	resp.Body.Close()
	requireIdle(t, pool)
}

// TestLeaseEndsAtOnce covers the paths with nothing to read: a transport
// error and a response without a body (HEAD).
func TestLeaseEndsAtOnce(t *testing.T) {
	t.Run("on a transport error, as a failure", func(t *testing.T) {
		noLeaks(t)
		srv := newServer(t, false, http.HandlerFunc(leaseHandler))
		dead := addr(srv)
		srv.Close() // nothing listens there now
		pool, err := lb.New(lb.Config{EjectAfter: 100}, dead)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &Transport{Pool: pool, Base: baseFor(t, srv)}}
		if _, err := client.Get("http://service/"); err == nil {
			t.Fatal("request to a closed port succeeded")
		}
		requireIdle(t, pool)
		// MaxAttempts 3, one endpoint: the retries go to it too.
		if s := pool.Endpoints()[0].Streak; s != DefaultMaxAttempts {
			t.Errorf("streak %d, want %d failed attempts", s, DefaultMaxAttempts)
		}
	})
	for _, p := range protocols {
		t.Run(p.name+"/for a response without a body", func(t *testing.T) {
			noLeaks(t)
			pool, client, url := oneEndpoint(t, p.http2, leaseHandler)
			resp, err := client.Head(url + "/")
			if err != nil {
				t.Fatal(err)
			}
			requireIdle(t, pool)
			resp.Body.Close()
			requireIdle(t, pool)
		})
	}
}

func TestContextOutcomes(t *testing.T) {
	// hang answers failingPath with 500; anything else it announces on
	// arrived and never answers.
	hang := func(arrived chan<- struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == failingPath {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			arrived <- struct{}{}
			<-r.Context().Done()
		}
	}
	t.Run("a cancel before the response is neutral", func(t *testing.T) {
		noLeaks(t)
		arrived := make(chan struct{}, 1)
		pool, client, url := oneEndpoint(t, false, hang(arrived))
		fail, err := client.Get(url + failingPath)
		if err != nil {
			t.Fatal(err)
		}
		fail.Body.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/hang", nil)
		_, err = client.Do(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		requireIdle(t, pool)
		if s := pool.Endpoints()[0].Streak; s != 1 {
			t.Errorf("streak %d, want the 1 from before", s)
		}
	})
	t.Run("a passed deadline is a failure, not retried", func(t *testing.T) {
		noLeaks(t)
		arrived := make(chan struct{}, 10)
		pool, client, url := oneEndpoint(t, false, hang(arrived))
		client.Transport.(*Transport).MaxAttempts = 0 // retries on
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/hang", nil)
		_, err := client.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
		requireIdle(t, pool)
		if s := pool.Endpoints()[0].Streak; s != 1 {
			t.Errorf("streak %d, want 1: one failed attempt, no retry past the deadline", s)
		}
	})
}
