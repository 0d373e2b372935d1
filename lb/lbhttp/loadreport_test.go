package lbhttp

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// report is one call of testHookLoadReport.
type report struct {
	endpoint string
	load     lb.Load
}

// recordReports sets testHookLoadReport for the test and returns what it
// has recorded so far, safe to call while requests run.
func recordReports(t *testing.T) func() []report {
	var mu sync.Mutex
	var got []report
	testHookLoadReport = func(endpoint string, load lb.Load) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, report{endpoint, load})
	}
	t.Cleanup(func() { testHookLoadReport = nil })
	return func() []report {
		mu.Lock()
		defer mu.Unlock()
		return append([]report(nil), got...)
	}
}

// The Transport passes each attempt's report to that attempt's lease: the
// failed first attempt's and its retry's, each with its own endpoint.
func TestTransportReportsEachAttemptsLoad(t *testing.T) {
	for _, v := range protocols {
		t.Run(v.name, func(t *testing.T) {
			reports := recordReports(t)
			bad := newServer(t, v.http2, ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(500)
			}), fixedLoad(lb.Load{CPUUtilization: 0.9, RPS: 40, EPS: 40})))
			good := newServer(t, v.http2, ReportLoad(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}), fixedLoad(lb.Load{ApplicationUtilization: 0.2, MemUtilization: 0.3, RPS: 50})))
			pool := newPool(t, lb.Config{}, bad, good)
			tr := &Transport{Pool: pool, Base: baseFor(t, bad), Pick: firstOn(pool, addr(bad))}
			status, _ := getHeader(t, &http.Client{Transport: tr}, scheme(bad)+"://svc/")
			if status != 200 {
				t.Fatalf("status %d, want the retry's 200", status)
			}
			want := []report{
				{addr(bad), lb.Load{CPUUtilization: 0.9, RPS: 40, EPS: 40}},
				{addr(good), lb.Load{ApplicationUtilization: 0.2, MemUtilization: 0.3, RPS: 50}},
			}
			if got := reports(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Fatalf("reports %+v, want %+v", got, want)
			}
			if n := tr.LoadReportErrors(); n != 0 {
				t.Fatalf("LoadReportErrors() = %d, want 0", n)
			}
		})
	}
}

// A hedge's report goes to the hedge's lease.
func TestTransportReportsAHedgesLoad(t *testing.T) {
	reports := recordReports(t)
	slow := &slowOnce{delay: 10 * time.Second}
	fast := &slowOnce{}
	fast.calls.Store(1)
	sa := newServer(t, false, ReportLoad(slow, fixedLoad(lb.Load{CPUUtilization: 0.9})))
	sb := newServer(t, false, ReportLoad(fast, fixedLoad(lb.Load{CPUUtilization: 0.1})))
	pool := newPool(t, lb.Config{}, sa, sb)
	tr := &Transport{Pool: pool, Base: baseFor(t, sa), HedgeAfter: 10 * time.Millisecond, Pick: firstOn(pool, addr(sa))}
	getHeader(t, &http.Client{Transport: tr}, "http://svc/")
	if got := reports(); len(got) != 1 || got[0] != (report{addr(sb), lb.Load{CPUUtilization: 0.1, RPS: 1}}) {
		t.Fatalf("reports %+v, want the hedge's from %s", got, addr(sb))
	}
}

// A header the Transport cannot read never fails the request: it is
// counted and dropped. A response without one reports nothing.
func TestTransportIgnoresHeadersItCannotRead(t *testing.T) {
	reports := recordReports(t)
	var value string
	srv := newServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if value != "" {
			w.Header().Set("Endpoint-Load-Metrics", value)
		}
		io.WriteString(w, "ok")
	}))
	pool := newPool(t, lb.Config{}, srv)
	tr := &Transport{Pool: pool, Base: baseFor(t, srv)}
	client := &http.Client{Transport: tr}
	for i, v := range []string{"TEXT cpu_utilization=-1", "BIN CQAAAAAAAOA/", "JSON {", "", "TEXT eps=1"} {
		value = v
		if status, _ := getHeader(t, client, "http://svc/"); status != 200 {
			t.Fatalf("header %q: status %d", v, status)
		}
		if want := uint64(min(i+1, 3)); tr.LoadReportErrors() != want {
			t.Fatalf("after %q: LoadReportErrors() = %d, want %d", v, tr.LoadReportErrors(), want)
		}
	}
	if got := reports(); len(got) != 1 || got[0].load != (lb.Load{EPS: 1}) {
		t.Fatalf("reports %+v, want only the last header's", got)
	}
	requireIdle(t, pool)
}

// A response without the header costs the Transport no allocation.
func TestReportLoadWithoutHeaderAllocatesNothing(t *testing.T) {
	var tr Transport
	resp := &http.Response{Header: http.Header{"Content-Type": {"text/plain"}}}
	if n := testing.AllocsPerRun(100, func() { tr.reportLoad(lb.Lease{}, resp) }); n != 0 {
		t.Errorf("reportLoad allocates %v times, want 0", n)
	}
}

// BenchmarkReadLoad is what reading a response's load report costs the
// Transport, beside BenchmarkOverhead: header=none is the lookup every
// response pays, header=text a report parsed and passed to a lease (of a
// pool without LoadWeights, so the lease ignores it).
func BenchmarkReadLoad(b *testing.B) {
	pool, err := lb.New(lb.Config{}, "10.0.0.1:80")
	if err != nil {
		b.Fatal(err)
	}
	lease, err := pool.Pick()
	if err != nil {
		b.Fatal(err)
	}
	defer lease.Done(nil)
	for _, c := range []struct{ name, value string }{
		{"none", ""},
		{"text", "TEXT cpu_utilization=0.3, application_utilization=0.5, rps_fractional=120, eps=2"},
		{"json", `JSON {"cpuUtilization":0.3,"applicationUtilization":0.5,"rpsFractional":120,"eps":2}`},
		{"malformed", "TEXT cpu_utilization=-1"},
	} {
		b.Run("header="+c.name, func(b *testing.B) {
			resp := &http.Response{Header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"2"}}}
			if c.value != "" {
				resp.Header.Set("Endpoint-Load-Metrics", c.value)
			}
			var tr Transport
			b.ReportAllocs()
			for b.Loop() {
				tr.reportLoad(lease, resp)
			}
		})
	}
}
