package lbhttp

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/loadreport"
	"github.com/nanolb/nanolb/lb"
)

// fixedLoad is a ReportLoad source that always reports l.
func fixedLoad(l lb.Load) func() lb.Load { return func() lb.Load { return l } }

// getHeader sends a GET of url through client and returns the
// response's status and header, its body read and closed.
func getHeader(t *testing.T, client *http.Client, url string) (int, http.Header) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// Each way a handler answers carries the report, set before the status:
// the source's utilizations, and the handler's own RPS and EPS (one
// request, over the floor of a second, on a fresh middleware).
func TestReportLoadSetsTheHeaderOnEveryResponse(t *testing.T) {
	source := fixedLoad(lb.Load{CPUUtilization: 0.25, MemUtilization: 0.5, ApplicationUtilization: 0.75})
	handlers := []struct {
		name   string
		h      http.HandlerFunc
		status int
		eps    float64
	}{
		{"a handler that writes a body", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, 200, 0},
		{"a handler that writes nothing", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
		{"a handler that only writes a 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, 204, 0},
		{"a handler that answers 503, an error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}, 503, 1},
		{"a handler that flushes first", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			io.WriteString(w, "ok")
		}, 200, 0},
		{"a handler that flushes through a ResponseController", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Error(err)
			}
		}, 200, 0},
		{"a handler that copies a body with io.Copy (ReadFrom)", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, strings.NewReader(strings.Repeat("x", 100<<10)))
		}, 200, 0},
		{"a handler that sends 103 Early Hints first", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, 0},
	}
	for _, v := range protocols {
		for _, hc := range handlers {
			t.Run(v.name+"/"+hc.name, func(t *testing.T) {
				srv := newServer(t, v.http2, ReportLoad(hc.h, source))
				status, hdr := getHeader(t, srv.Client(), srv.URL)
				if status != hc.status {
					t.Fatalf("status %d, want %d", status, hc.status)
				}
				got, err := loadreport.Parse(hdr.Get("Endpoint-Load-Metrics"))
				want := loadreport.Report{CPUUtilization: 0.25, MemUtilization: 0.5, ApplicationUtilization: 0.75, RPS: 1, EPS: hc.eps}
				if err != nil || got != want {
					t.Fatalf("header %q read as %+v, %v; want %+v", hdr.Get("Endpoint-Load-Metrics"), got, err, want)
				}
			})
		}
	}
}

// A source's own RPS and EPS win over the counted ones; fields a report
// cannot carry are left out; a nil source reports the counts alone; a
// handler's own header is kept.
func TestReportLoadFields(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name string
		h    http.Handler
		want string
	}{
		{"the source's RPS and EPS", ReportLoad(ok, fixedLoad(lb.Load{RPS: 250, EPS: 2.5})),
			"TEXT rps_fractional=250, eps=2.5"},
		{"negative, NaN and infinite fields left out", ReportLoad(ok, fixedLoad(lb.Load{
			CPUUtilization: -1, MemUtilization: math.NaN(), ApplicationUtilization: math.Inf(1), EPS: math.Inf(-1)})),
			"TEXT rps_fractional=1"},
		{"a nil source", ReportLoad(ok, nil), "TEXT rps_fractional=1"},
		{"a handler's own header", ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Endpoint-Load-Metrics", "TEXT eps=9")
		}), fixedLoad(lb.Load{EPS: 1})), "TEXT eps=9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tt.h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if got := w.Result().Header.Values("Endpoint-Load-Metrics"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("header %q, want [%q]", got, tt.want)
			}
		})
	}
}

// counted is the requests and errors h's window holds.
func counted(h http.Handler) (requests, errors int64) {
	r := &h.(*loadReporter).rates
	for i := range r.buckets {
		requests += r.buckets[i].requests.Load()
		errors += r.buckets[i].errors.Load()
	}
	return requests, errors
}

// A hijacked request counts as a success without a report; a handler that
// panics before writing counts as an error.
func TestReportLoadCountsHijacksAndPanics(t *testing.T) {
	h := ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		rw.Flush()
	}), nil)
	srv := newServer(t, false, h)
	status, hdr := getHeader(t, srv.Client(), srv.URL)
	if status != 200 || hdr.Get("Endpoint-Load-Metrics") != "" {
		t.Fatalf("hijacked answer %d with report %q, want 200 without", status, hdr.Get("Endpoint-Load-Metrics"))
	}
	if req, errs := counted(h); req != 1 || errs != 0 {
		t.Fatalf("counted %d requests, %d errors after a hijack; want 1, 0", req, errs)
	}

	h = ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("handler bug") }), nil)
	func() {
		defer func() { recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if req, errs := counted(h); req != 1 || errs != 1 {
		t.Fatalf("counted %d requests, %d errors after a panic; want 1, 1", req, errs)
	}
}

// Over HTTP/2, where a connection cannot be hijacked, Hijack fails as
// net/http's ResponseController says, and nothing is counted for it.
func TestReportLoadHijackOverHTTP2Fails(t *testing.T) {
	errc := make(chan error, 1)
	srv := newServer(t, true, ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, err := w.(http.Hijacker).Hijack()
		errc <- err
	}), nil))
	_, hdr := getHeader(t, srv.Client(), srv.URL)
	if err := <-errc; err == nil {
		t.Fatal("Hijack over HTTP/2 succeeded")
	}
	if hdr.Get("Endpoint-Load-Metrics") != "TEXT rps_fractional=1" {
		t.Fatalf("report %q, want the handler's return to count the request", hdr.Get("Endpoint-Load-Metrics"))
	}
}

// The window's rates, on a clock of its own: counts over the time since
// the first request while it is young (at least a second), then over the
// window, old turns dropped.
func TestRates(t *testing.T) {
	var r rates
	at := func(d time.Duration, n int, failed bool) {
		for range n {
			r.add(d, failed)
		}
	}
	check := func(now time.Duration, wantRPS, wantEPS float64) {
		t.Helper()
		rps, eps := r.rates(now)
		if math.Abs(rps-wantRPS) > 1e-9 || math.Abs(eps-wantEPS) > 1e-9 {
			t.Errorf("at %v: rates %v, %v; want %v, %v", now, rps, eps, wantRPS, wantEPS)
		}
	}
	check(0, 0, 0)
	at(3*time.Second, 10, false) // the first requests, 3 s after the clock started
	check(3*time.Second, 10, 0)  // over the floor of a second
	at(3500*time.Millisecond, 10, true)
	check(5*time.Second, 10, 5)                  // 20 and 10 over 2 s since the first
	check(7900*time.Millisecond, 20/4.9, 10/4.9) // the window starts at 3 s
	check(8*time.Second, 10/4.5, 10/4.5)         // it starts at 3.5 s: the first ten have left it
	check(8600*time.Millisecond, 0, 0)
	at(13*time.Second, 1, false) // 3 s's bucket again, a turn of the ring later: reset
	check(13*time.Second, 1/4.5, 0)
}

// Requests from many goroutines are counted at most once each (one that
// races a bucket's reset may be lost), and every report stays readable.
func TestReportLoadUnderConcurrency(t *testing.T) {
	h := ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
	}), fixedLoad(lb.Load{CPUUtilization: 0.5}))
	srv := newServer(t, false, h)
	client := srv.Client()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				path := "/"
				if (g+i)%5 == 0 {
					path = "/fail"
				}
				resp, err := client.Get(srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if r, err := loadreport.Parse(resp.Header.Get("Endpoint-Load-Metrics")); err != nil || r.RPS <= 0 || r.CPUUtilization != 0.5 {
					t.Errorf("report %+v, %v", r, err)
				}
			}
		})
	}
	wg.Wait()
	if req, errs := counted(h); req > 200 || errs > 40 || req < 1 {
		t.Fatalf("counted %d requests, %d errors of 200, 40", req, errs)
	}
}
