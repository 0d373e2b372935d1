package lbhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/retrybudget"
	"github.com/nanolb/nanolb/internal/throttle"
	"github.com/nanolb/nanolb/lb"
)

// Defaults and limits of Transport's fields.
const (
	// DefaultMaxAttempts is MaxAttempts when zero: a request and two retries.
	DefaultMaxAttempts = 3
	// MaxAttemptsLimit is the largest MaxAttempts accepted.
	MaxAttemptsLimit = 10
	// DefaultRetryRatio is RetryRatio when zero: retries add at most 20% to
	// the requests, as Envoy's and Finagle's budgets allow.
	DefaultRetryRatio = 0.2
	// DefaultRetryMinPerSecond is RetryMinPerSecond when zero, as Finagle's.
	DefaultRetryMinPerSecond = 10
	// MaxRetryMinPerSecond is the largest RetryMinPerSecond accepted.
	MaxRetryMinPerSecond = 1e6
	// DefaultMaxIdleConnsPerEndpoint is MaxIdleConnsPerEndpoint when zero.
	DefaultMaxIdleConnsPerEndpoint = 100
	// DefaultThrottleK is ThrottleK when zero, the SRE book's K: endpoints
	// may reject half of the attempts before the client sheds any.
	DefaultThrottleK = throttle.DefaultK
	// MaxThrottleK is the largest ThrottleK accepted; the smallest is 1.
	MaxThrottleK = 10
)

// ErrRequest wraps the error RoundTrip returns for a request it cannot
// send: one without a URL.
var ErrRequest = errors.New("lbhttp: invalid request")

// ErrThrottled wraps the error RoundTrip returns for a request the
// Transport's throttle rejected (Transport.Throttle): nothing was sent.
var ErrThrottled = errors.New("lbhttp: throttled")

// drainLimit and drainTime bound how much of a retried HTTP/1 response's
// body is read, and for how long, before it is closed, so its connection
// can be reused. Past either, closing costs the connection, which is
// cheaper than holding the retry back: drainTime is short next to a
// request's deadline and long enough for a body already on its way.
const (
	drainLimit = 64 << 10
	drainTime  = 10 * time.Millisecond
)

// Transport is an http.RoundTripper that balances requests over a pool: it
// leases an endpoint per attempt, rewrites the URL's host to it, reports
// each attempt's outcome, and retries failures on endpoints not yet tried.
// See the package documentation for when leases end and what is retried.
//
// The Host header stays what the caller addressed: Request.Host if set,
// else the host of the request's URL before rewriting (for
// "http://users/list", "users"). TLS verifies the endpoint's address,
// unless Base's TLS config names a ServerName.
//
// Set the fields before the first request and do not change them after;
// a Transport is safe for concurrent use. A field out of range makes every
// RoundTrip fail with an error wrapping lb.ErrConfig.
type Transport struct {
	// Pool is where requests go. Required unless Pick is set.
	Pool *lb.Pool

	// Base sends each attempt. Nil means a clone of http.DefaultTransport
	// keeping MaxIdleConnsPerEndpoint idle connections to each endpoint. A
	// Base of one's own should keep about as many idle per host as requests
	// run at once per endpoint, or connections churn, and its bodies must
	// end a pending Read when closed, as net/http's do: a retry closes a
	// failed body that way.
	Base http.RoundTripper

	// MaxIdleConnsPerEndpoint is how many idle connections the default
	// Base keeps open to each endpoint for reuse: its MaxIdleConnsPerHost,
	// with no limit on the total (MaxIdleConns 0), which the peak of
	// requests in flight bounds anyway. Idle ones close after 90 s. Zero
	// means DefaultMaxIdleConnsPerEndpoint (100); a negative value, or any
	// with Base set, is an error wrapping lb.ErrConfig.
	MaxIdleConnsPerEndpoint int

	// Pick leases the endpoint for one attempt of req, the place to route
	// by key (ExampleTransport_pick); tried holds the endpoints this
	// request already failed on, oldest first. Nil means
	// Pool.PickExcept(tried...), or Pool.PickWait for Wait's first attempt.
	// Its error ends the request: wrapped on the first attempt, and on a
	// retry as the attempt before, as if no retry had been allowed.
	Pick func(req *http.Request, tried []string) (lb.Lease, error)

	// Wait queues a request's first attempt in the pool (Pool.PickWait with
	// the request's context) when no endpoint can take it, instead of
	// failing at once with an error wrapping lb.ErrSaturated (false, the
	// default). Retries never wait. See "Waiting for capacity" and
	// "Errors" in the package documentation. Wait with Pick is an error
	// wrapping lb.ErrConfig: Pick decides how to lease.
	Wait bool

	// Classify decides an attempt's outcome from its response (err nil) or
	// its transport error (resp nil): nil is a success, an error wrapping
	// context.Canceled is neutral, any other error a retryable failure. It
	// must not read or close the body. Nil means DefaultClassify. A
	// transport error after the request's context ended is judged by the
	// context, not Classify (see Outcomes in the package documentation).
	Classify func(resp *http.Response, err error) error

	// MaxAttempts bounds the attempts per request, the first included:
	// 1 turns retries off. Zero means DefaultMaxAttempts (3); the maximum is
	// MaxAttemptsLimit (10).
	MaxAttempts int

	// RetryNonIdempotent also retries methods other than GET, HEAD,
	// OPTIONS and TRACE that carry no Idempotency-Key header. Only set it
	// when the server tolerates a request applied twice: a failure seen by
	// the client (a timeout, a 5xx) may follow a change on the server.
	RetryNonIdempotent bool

	// RetryRatio is how many retries each request earns for the retry
	// budget: at most RetryRatio × requests + RetryMinPerSecond × seconds
	// retries are sent, plus what the bucket held at first. Zero means
	// DefaultRetryRatio (0.2, Envoy's and Finagle's 20%); it must not be
	// above 1.
	RetryRatio float64

	// RetryMinPerSecond is the rate at which the retry budget refills
	// regardless of traffic, so that a client sending few requests can
	// still retry. The bucket holds at most ten seconds of it. Zero means
	// DefaultRetryMinPerSecond (10, Finagle's default); the maximum is
	// MaxRetryMinPerSecond.
	RetryMinPerSecond float64

	// Throttle sheds attempts locally while endpoints reject them as
	// overloaded, by the SRE book's client-side adaptive throttling: each
	// attempt is refused with probability max(0, (attempts − ThrottleK ×
	// accepts) ÷ (attempts + 1)) over the last two minutes, failing with an
	// error wrapping ErrThrottled. False, the default, turns it off. See
	// "Throttling" in the package documentation for what counts;
	// ThrottleStats reads the counts.
	Throttle bool

	// ThrottleK is the throttle's K: attempts on the wire fall to about K
	// times those accepted. Zero means DefaultThrottleK (2); it must be
	// from 1 (shed hardest) to MaxThrottleK (10). Without Throttle, a
	// non-zero ThrottleK is an error wrapping lb.ErrConfig.
	ThrottleK float64

	// HedgeAfter sends a hedge, a copy of a request that may be retried,
	// to an endpoint not yet tried when the attempts in flight have not
	// answered within it; with HedgeExtraLoad, until that percentile is
	// known. Zero (the default) sends none, unless HedgeExtraLoad is set;
	// otherwise 1µs..1h. See "Hedging" in the package documentation.
	HedgeAfter time.Duration

	// HedgeExtraLoad hedges at the latency percentile that costs about
	// this share of extra requests, as Finagle's backup requests: 0.01
	// hedges requests slower than the 99th percentile of the Transport's
	// recent first attempts. Zero (the default) uses HedgeAfter alone;
	// otherwise 0.001..0.5.
	HedgeExtraLoad float64

	// MaxHedges bounds a request's attempts in flight at once, the first
	// included. Zero means 2; otherwise 2..MaxAttempts. Every hedge also
	// counts against MaxAttempts and takes a token from the retry budget.
	MaxHedges int

	once    sync.Once
	initErr error
	// hedge is nil unless hedging is on.
	hedge  *hedging
	base   http.RoundTripper
	budget retrybudget.Budget
	max    int
	// throttle is nil unless Throttle is set, so an attempt without it
	// costs a nil check.
	throttle *throttle.Throttle
	// badLoads counts load reports that could not be read (loadreport.go).
	badLoads atomic.Uint64
}

// NewClient returns an http.Client whose Transport balances every request
// over pool with the Transport's defaults, among them a Base that keeps up
// to DefaultMaxIdleConnsPerEndpoint idle connections to each endpoint.
// Requests name the service, not
// an endpoint: client.Get("http://users/list") goes to one of pool's
// endpoints, with "users" as its Host header.
func NewClient(pool *lb.Pool) *http.Client {
	return &http.Client{Transport: &Transport{Pool: pool}}
}

// init applies the defaults and checks the fields, once.
func (t *Transport) init() {
	t.initErr = t.resolve()
}

func (t *Transport) resolve() error {
	if t.Pool == nil && t.Pick == nil {
		return fmt.Errorf("lbhttp: Transport needs a Pool or a Pick: %w", lb.ErrConfig)
	}
	if t.Wait && t.Pick != nil {
		return fmt.Errorf("lbhttp: Transport.Wait applies to Pool, not to a Pick hook (which may call PickWait itself): %w", lb.ErrConfig)
	}
	t.max = t.MaxAttempts
	switch {
	case t.max == 0:
		t.max = DefaultMaxAttempts
	case t.max < 0 || t.max > MaxAttemptsLimit:
		return fmt.Errorf("lbhttp: MaxAttempts %d out of range [0, %d]: %w", t.MaxAttempts, MaxAttemptsLimit, lb.ErrConfig)
	}
	ratio := t.RetryRatio
	switch {
	case ratio == 0:
		ratio = DefaultRetryRatio
	case !(ratio > 0 && ratio <= 1): // also rejects NaN
		return fmt.Errorf("lbhttp: RetryRatio %v out of range [0, 1]: %w", t.RetryRatio, lb.ErrConfig)
	}
	perSecond := t.RetryMinPerSecond
	switch {
	case perSecond == 0:
		perSecond = DefaultRetryMinPerSecond
	case !(perSecond > 0 && perSecond <= MaxRetryMinPerSecond):
		return fmt.Errorf("lbhttp: RetryMinPerSecond %v out of range [0, %g]: %w", t.RetryMinPerSecond, float64(MaxRetryMinPerSecond), lb.ErrConfig)
	}
	idle := t.MaxIdleConnsPerEndpoint
	switch {
	case idle < 0:
		return fmt.Errorf("lbhttp: MaxIdleConnsPerEndpoint %d is negative: %w", idle, lb.ErrConfig)
	case idle > 0 && t.Base != nil:
		return fmt.Errorf("lbhttp: MaxIdleConnsPerEndpoint applies to the default Base, not to one's own: %w", lb.ErrConfig)
	case idle == 0:
		idle = DefaultMaxIdleConnsPerEndpoint
	}
	if t.ThrottleK != 0 && !t.Throttle {
		return fmt.Errorf("lbhttp: ThrottleK is set but Throttle is off: %w", lb.ErrConfig)
	}
	if t.Throttle {
		k := t.ThrottleK
		switch {
		case k == 0:
			k = DefaultThrottleK
		case !(k >= 1 && k <= MaxThrottleK):
			return fmt.Errorf("lbhttp: ThrottleK %v out of range [1, %d]: %w", t.ThrottleK, MaxThrottleK, lb.ErrConfig)
		}
		t.throttle = throttle.New(k)
	}
	if err := t.resolveHedging(); err != nil {
		return err
	}
	t.budget.Init(ratio, perSecond)
	t.base = t.Base
	if t.base == nil {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			base := dt.Clone()
			base.MaxIdleConns, base.MaxIdleConnsPerHost = 0, idle
			t.base = base
		} else {
			t.base = http.DefaultTransport
		}
	}
	return nil
}

// CloseIdleConnections closes the idle connections of Base, if it has
// such a method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.init)
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req to an endpoint of the pool, retrying as the package
// documentation describes, and returns the last attempt's response or
// error. The response's body must be closed (or read to EOF) to end the
// lease on its endpoint. The response's Request is the attempt's request,
// whose URL names the endpoint that answered.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.init)
	if t.initErr != nil {
		closeBody(req)
		return nil, t.initErr
	}
	if req.URL == nil {
		closeBody(req)
		return nil, fmt.Errorf("lbhttp: request has no URL: %w", ErrRequest)
	}
	if t.throttle != nil && !t.throttle.Allow() {
		closeBody(req)
		return nil, fmt.Errorf("lbhttp: endpoints are rejecting requests as overloaded; shed locally: %w", ErrThrottled)
	}
	ctx := req.Context()
	retry := false
	if t.max > 1 {
		t.budget.Deposit() // every request earns retries, as in Finagle
		retry = t.retryable(req)
	}
	var tried []string // allocated by the first retry only
	lease, err := t.pick(req, nil)
	if err != nil {
		t.unthrottle()
		closeBody(req)
		return nil, pickError(err)
	}
	if t.hedge != nil && retry {
		return t.roundTripHedged(req, lease)
	}
	body := req.Body
	var prev error // the outcome of the attempt before, for a retry
	for attempt := 1; ; attempt++ {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// Not sent: the endpoint had no part in it.
			return nil, t.unsent(lease, body, attempt, prev, ctxErr)
		}
		a := newAttempt(req, lease.Endpoint(), body)
		resp, rtErr := t.base.RoundTrip(&a.req)
		t.reportLoad(lease, resp)
		if t.throttle != nil {
			t.record(ctx, resp, rtErr)
		}
		outcome := t.classify(ctx, resp, rtErr)
		if !retry || outcome == nil || attempt == t.max || ctx.Err() != nil ||
			errors.Is(outcome, context.Canceled) {
			return t.finish(req, a, lease, resp, rtErr, outcome)
		}
		// Everything that can refuse the retry comes before the failed
		// attempt is discarded, so a refused retry returns it unchanged.
		if tried == nil {
			tried = make([]string, 0, t.max-1)
		}
		tried = append(tried, lease.Endpoint())
		nextLease, next, ok, _ := t.another(req, tried)
		if !ok {
			return t.finish(req, a, lease, resp, rtErr, outcome)
		}
		if resp != nil {
			discard(resp)
		}
		lease.Done(outcome)
		lease, body, prev = nextLease, next, outcome
	}
}

// another is what an attempt after the first needs: a body replayed
// through GetBody (for a request that has one), a token from the retry
// budget, the throttle's leave, and a lease on an endpoint not in tried.
// With ok false nothing is to be sent, and whatever was taken is given
// back; broke says the budget was why.
func (t *Transport) another(req *http.Request, tried []string) (l lb.Lease, body io.ReadCloser, ok, broke bool) {
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = req.GetBody(); err != nil {
			return lb.Lease{}, nil, false, false
		}
	}
	if !t.budget.Withdraw() {
		closeReader(body)
		return lb.Lease{}, nil, false, true
	}
	if t.throttle != nil && !t.throttle.Allow() {
		t.budget.Refund()
		closeReader(body)
		return lb.Lease{}, nil, false, false
	}
	l, err := t.pick(req, tried)
	if err != nil {
		t.budget.Refund()
		t.unthrottle()
		closeReader(body)
		return lb.Lease{}, nil, false, false
	}
	return l, body, true, false
}

// unsent ends a request whose context ended before its attempt was sent:
// the attempt's lease ends neutrally, its body is closed, a retry's token
// goes back to the budget, and the error wraps ctxErr.
func (t *Transport) unsent(lease lb.Lease, body io.ReadCloser, attempt int, prev, ctxErr error) error {
	lease.Done(context.Canceled)
	closeReader(body)
	t.unthrottle()
	if attempt == 1 {
		return fmt.Errorf("lbhttp: the request's context ended before it was sent: %w", ctxErr)
	}
	t.budget.Refund()
	return fmt.Errorf("lbhttp: the request's context ended before attempt %d was sent (attempt %d: %v): %w",
		attempt, attempt-1, prev, ctxErr)
}

// record tells the throttle how an attempt it allowed ended: a 429 or 503
// response, or a transport error, is a rejection, any other response an
// accept; a transport error after the request's context ended is taken
// back, as the caller, not the endpoint, ended it.
func (t *Transport) record(ctx context.Context, resp *http.Response, err error) {
	switch {
	case err != nil && ctx.Err() != nil:
		t.throttle.Cancel()
	case err != nil || resp == nil:
		t.throttle.Record(false)
	default:
		t.throttle.Record(resp.StatusCode != http.StatusTooManyRequests &&
			resp.StatusCode != http.StatusServiceUnavailable)
	}
}

// unthrottle takes back from the throttle an attempt it allowed that was
// not sent.
func (t *Transport) unthrottle() {
	if t.throttle != nil {
		t.throttle.Cancel()
	}
}

// retryable reports whether req may be sent more than once: its method is
// idempotent (or the Transport retries every method) and its body, if any,
// can be replayed.
func (t *Transport) retryable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if t.RetryNonIdempotent {
		return true
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	return ok
}

func (t *Transport) pick(req *http.Request, tried []string) (lb.Lease, error) {
	switch {
	case t.Pick != nil:
		return t.Pick(req, tried)
	case t.Wait && len(tried) == 0:
		return t.Pool.PickWait(req.Context())
	}
	return t.Pool.PickExcept(tried...)
}

// pickError is the error RoundTrip returns when the first attempt gets no
// lease: it says why in the Transport's terms and wraps err, so the lb
// sentinel (and a context's error) still match with errors.Is.
func pickError(err error) error {
	var why string
	switch {
	case errors.Is(err, lb.ErrSaturated):
		why = "every endpoint is at its concurrency limit (Transport.Wait would queue)"
	case errors.Is(err, lb.ErrQueueFull):
		why = "too many requests already wait for an endpoint"
	case errors.Is(err, lb.ErrShed):
		why = "the request waited past its target in a standing queue (shed)"
	case errors.Is(err, lb.ErrClosed):
		why = "the pool is closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		why = "the request's context ended while it waited for an endpoint"
	case errors.Is(err, lb.ErrNoEndpoint):
		why = "the pool has no endpoint to lease"
	default:
		why = "pick"
	}
	return fmt.Errorf("lbhttp: %s: %w", why, err)
}

// attempt is one attempt's request, its URL and its response body's
// wrapper, in one allocation: the request and the body live as long as
// the response does anyway (Response.Request points to the request).
type attempt struct {
	req  http.Request
	url  url.URL
	body body
}

// newAttempt is req aimed at endpoint with body: a shallow copy sharing the
// header, as a RoundTripper must not change the caller's request.
func newAttempt(req *http.Request, endpoint string, body io.ReadCloser) *attempt {
	a := new(attempt)
	a.req = *req
	a.url = *req.URL
	a.url.Host = endpoint
	a.req.URL = &a.url
	if a.req.Host == "" {
		a.req.Host = req.URL.Host
	}
	a.req.Body = body
	return a
}

// classify is the Transport's Classify, except that a transport error
// after the request's context ended is the context's verdict: neutral when
// cancelled, a failure when its deadline passed. A response is judged by
// Classify, even if the context ended since it came.
func (t *Transport) classify(ctx context.Context, resp *http.Response, err error) error {
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
	}
	if t.Classify != nil {
		return t.Classify(resp, err)
	}
	return DefaultClassify(resp, err)
}

// finish ends the request with this attempt: on a transport error (or no
// response) it ends the lease now; otherwise the response body ends it.
func (t *Transport) finish(req *http.Request, a *attempt, lease lb.Lease, resp *http.Response, err, outcome error) (*http.Response, error) {
	if err != nil || resp == nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		lease.Done(outcome)
		if err == nil {
			err = errors.New("lbhttp: base round tripper returned no response and no error")
		}
		return nil, err // unwrapped: callers test it as net/http's own
	}
	if req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified {
		lease.Done(outcome) // no body by definition, whatever Body is
		return resp, nil
	}
	resp.Body = a.wrapBody(resp.Body, lease, outcome, req.Context())
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func closeReader(r io.ReadCloser) {
	if r != nil {
		r.Close()
	}
}

// discard closes a failed response the caller will not see. An HTTP/1
// body is read first, up to drainLimit and for at most drainTime, so that
// its connection can be reused; one announced longer, one that takes
// longer and any other protocol's (whose Close costs no connection) are
// closed without waiting. Base's bodies must end a pending Read on Close,
// as net/http's do.
func discard(resp *http.Response) {
	body := resp.Body
	if body == nil || body == http.NoBody {
		return
	}
	if resp.ProtoMajor != 1 || resp.ContentLength > drainLimit {
		body.Close()
		return
	}
	var once sync.Once
	closeOnce := func() { once.Do(func() { body.Close() }) }
	timer := time.AfterFunc(drainTime, closeOnce)
	io.CopyN(io.Discard, body, drainLimit)
	timer.Stop()
	closeOnce()
}
