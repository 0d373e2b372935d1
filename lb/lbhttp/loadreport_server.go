package lbhttp

import (
	"bufio"
	"io"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/loadreport"
	"github.com/nanolb/nanolb/lb"
)

// LoadReportWindow is how far back ReportLoad counts a handler's requests
// and errors for the RPS and EPS it reports: a sliding window, turned in
// tenths of it.
const LoadReportWindow = 5 * time.Second

const (
	rateBuckets = 10
	rateWidth   = LoadReportWindow / rateBuckets
)

// ReportLoad wraps next so that every response carries an
// endpoint-load-metrics header in the TEXT format, the load report a
// client's Transport passes to lb.Lease.ReportLoad (and Envoy's
// client_side_weighted_round_robin reads). The report is source's Load,
// called once per response as its header is written, so it must be safe
// for concurrent use and quick; a nil source reports no utilization. Its
// RPS and EPS, when source leaves them zero, are next's own requests and
// 5xx answers per second over the last LoadReportWindow (from its first
// request while it is younger); a negative, NaN or infinite field is left
// out.
//
// The header is set just before the status is written: at WriteHeader,
// the first Write, ReadFrom or Flush, or when next returns having written
// nothing (net/http then answers 200). A handler that sets the header
// itself keeps its own. Informational (1xx) statuses pass through
// untouched. The wrapper passes Flush, Hijack and ReadFrom through, and
// http.ResponseController reaches the rest through its Unwrap. A hijacked
// request counts as a success without a header; one whose handler panics
// before writing counts as an error.
func ReportLoad(next http.Handler, source func() lb.Load) http.Handler {
	return &loadReporter{next: next, source: source, start: time.Now()}
}

// loadReporter is ReportLoad's handler.
type loadReporter struct {
	next   http.Handler
	source func() lb.Load
	start  time.Time // the clock of rates
	rates  rates
}

func (h *loadReporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lw := &loadWriter{ResponseWriter: w, h: h}
	returned := false
	defer func() {
		switch {
		case lw.reported:
		case returned:
			lw.report(http.StatusOK)
		default: // next panicked before writing
			h.rates.add(time.Since(h.start), true)
		}
	}()
	h.next.ServeHTTP(lw, r)
	returned = true
}

// load is the report for a response with status code, counted first.
func (h *loadReporter) load(code int) loadreport.Report {
	now := time.Since(h.start)
	h.rates.add(now, code >= 500)
	var l lb.Load
	if h.source != nil {
		l = h.source()
	}
	if l.RPS == 0 || l.EPS == 0 {
		rps, eps := h.rates.rates(now)
		if l.RPS == 0 {
			l.RPS = rps
		}
		if l.EPS == 0 {
			l.EPS = eps
		}
	}
	return loadreport.Report{
		CPUUtilization:         valid(l.CPUUtilization),
		MemUtilization:         valid(l.MemUtilization),
		ApplicationUtilization: valid(l.ApplicationUtilization),
		RPS:                    valid(l.RPS),
		EPS:                    valid(l.EPS),
	}
}

// valid is x, or 0 (not reported) when a report could not carry it.
func valid(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 1) {
		return 0
	}
	return x
}

// loadWriter is the ResponseWriter next gets: it sets the header before
// the status goes out.
type loadWriter struct {
	http.ResponseWriter
	h        *loadReporter
	reported bool // counted, header set (or hijacked)
}

var (
	_ http.Flusher  = (*loadWriter)(nil)
	_ http.Hijacker = (*loadWriter)(nil)
	_ io.ReaderFrom = (*loadWriter)(nil)
)

// report counts the response and sets its header, unless next set one.
func (w *loadWriter) report(code int) {
	w.reported = true
	r := w.h.load(code)
	hdr := w.Header()
	if _, set := hdr[loadreport.Header]; set {
		return
	}
	var buf [160]byte
	hdr[loadreport.Header] = []string{string(loadreport.AppendFormat(buf[:0], r))}
}

// WriteHeader sets the report before a final status; 1xx statuses but 101
// Switching Protocols pass through, as more headers follow them.
func (w *loadWriter) WriteHeader(code int) {
	if !w.reported && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.report(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sets the report, as an implicit 200, before the first write.
func (w *loadWriter) Write(p []byte) (int, error) {
	if !w.reported {
		w.report(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom sets the report as Write does, then lets the underlying writer
// copy from r (net/http's may use sendfile).
func (w *loadWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.reported {
		w.report(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

// Flush sets the report as Write does (a flush sends the header), then
// flushes the underlying writer if it can.
func (w *loadWriter) Flush() {
	if !w.reported {
		w.report(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	http.NewResponseController(w.ResponseWriter).Flush() // through Unwrap
}

// Hijack hands the connection over, as the underlying writer does; a
// hijacked request counts as a success and carries no report. It fails
// with an error wrapping http.ErrNotSupported where the underlying writer
// cannot hijack (HTTP/2).
func (w *loadWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.reported {
		w.reported = true
		w.h.rates.add(time.Since(w.h.start), false)
	}
	return c, rw, err
}

// Unwrap is the underlying writer, for http.ResponseController.
func (w *loadWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// rates counts requests and errors in a ring of rateBuckets buckets, each
// rateWidth of a clock that starts at zero. Buckets are atomic counters a
// request resets when it is the first of a new turn; a request racing
// that reset may go uncounted, which a rate over thousands can afford.
type rates struct {
	buckets [rateBuckets]rateBucket
	first   atomic.Int64 // the first request's time, +1; 0 before it
}

type rateBucket struct {
	turn             atomic.Int64 // the clock's now / rateWidth when counted
	requests, errors atomic.Int64
}

// add counts a request at now, an error if failed.
func (r *rates) add(now time.Duration, failed bool) {
	if r.first.Load() == 0 {
		r.first.CompareAndSwap(0, int64(now)+1)
	}
	turn := int64(now / rateWidth)
	b := &r.buckets[turn%rateBuckets]
	if old := b.turn.Load(); old < turn && b.turn.CompareAndSwap(old, turn) {
		b.requests.Store(0)
		b.errors.Store(0)
	}
	b.requests.Add(1)
	if failed {
		b.errors.Add(1)
	}
}

// rates returns the requests and errors per second at now: the counts of
// the buckets in the window, over the time they span (from the first
// request while that is shorter), at least a second.
func (r *rates) rates(now time.Duration) (rps, eps float64) {
	turn := int64(now / rateWidth)
	var requests, errors int64
	for i := range r.buckets {
		b := &r.buckets[i]
		if t := b.turn.Load(); t > turn-rateBuckets && t <= turn {
			requests += b.requests.Load()
			errors += b.errors.Load()
		}
	}
	span := now - time.Duration(turn-rateBuckets+1)*rateWidth
	if first := r.first.Load(); first != 0 {
		span = min(span, now-time.Duration(first-1))
	}
	s := max(span, time.Second).Seconds()
	return float64(requests) / s, float64(errors) / s
}
