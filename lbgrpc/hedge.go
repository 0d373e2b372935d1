package lbgrpc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/quantile"
	"github.com/nanolb/nanolb/internal/retrybudget"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Defaults and limits of HedgeOptions' fields.
const (
	// DefaultHedgeMaxAttempts is HedgeOptions.MaxAttempts when zero: an
	// RPC and one hedge.
	DefaultHedgeMaxAttempts = 2
	// MaxHedgeAttempts is the largest MaxAttempts accepted, gRFC A6's cap
	// on a hedging policy's maxAttempts.
	MaxHedgeAttempts = 5
	// DefaultRetryRatio is HedgeOptions.RetryRatio when zero: extra
	// attempts add at most 20% to the RPCs, as lbhttp's retry budget and
	// Finagle's allow.
	DefaultRetryRatio = 0.2
	// DefaultRetryMinPerSecond is HedgeOptions.RetryMinPerSecond when
	// zero, as lbhttp's and Finagle's.
	DefaultRetryMinPerSecond = 10
	// MaxRetryMinPerSecond is the largest RetryMinPerSecond accepted.
	MaxRetryMinPerSecond = 1e6
)

// HedgeOptions configure a Hedger (NewHedger). A zero field means its
// default; the zero value is a Hedger that hedges no method.
type HedgeOptions struct {
	// Methods are the RPCs to hedge: full method names
	// ("/pkg.Service/Method") or a service's prefix ending in a slash
	// ("/pkg.Service/"), which hedges every unary method of the service.
	// gRPC has no idempotency flag, so list only methods that the servers
	// may run more than once for one call. Empty hedges nothing. Each
	// entry keeps its own latency percentile for ExtraLoad: list methods
	// of unlike latency apart.
	Methods []string

	// Delay sends a hedge, a copy of the RPC to an endpoint not yet tried,
	// when the attempts in flight have not answered within it, and the
	// next one as long again after (gRFC A6's hedgingDelay); with
	// ExtraLoad, only until that percentile is known. Zero sends none
	// unless ExtraLoad is set; otherwise 1µs..1h. With Methods, Delay or
	// ExtraLoad must be set.
	Delay time.Duration

	// ExtraLoad hedges at the latency percentile that costs about this
	// share of extra RPCs, as Finagle's backup requests: 0.01 hedges RPCs
	// slower than the 99th percentile of the entry's recent first
	// attempts (over 10 s, once 100 are seen). Zero uses Delay alone;
	// otherwise 0.001..0.5.
	ExtraLoad float64

	// MaxAttempts bounds an RPC's attempts, the first included, all of
	// which may be in flight at once. Zero means DefaultHedgeMaxAttempts
	// (2); otherwise 2..MaxHedgeAttempts (5, as gRFC A6).
	MaxAttempts int

	// NonFatalCodes are the status codes that do not answer an RPC (gRFC
	// A6's nonFatalStatusCodes): an attempt that fails with one leaves the
	// others in flight to answer, and sends the next attempt at once if
	// MaxAttempts and the budget allow. Any other code, and success, is
	// final: it answers the RPC and the other attempts are cancelled. Nil
	// means Unavailable alone; an empty, non-nil slice makes every code
	// final. OK and codes past Unauthenticated (16) are errors.
	NonFatalCodes []codes.Code

	// RetryRatio is how many extra attempts each hedged RPC earns for the
	// budget that every attempt past an RPC's first (hedge or not) takes
	// a token from: at most RetryRatio × RPCs + RetryMinPerSecond ×
	// seconds are sent, plus what the bucket held at first. Zero means
	// DefaultRetryRatio (0.2); it must not be above 1.
	RetryRatio float64

	// RetryMinPerSecond is the rate at which the budget refills whatever
	// the traffic, so a client sending few RPCs can still hedge. The
	// bucket holds at most ten seconds of it. Zero means
	// DefaultRetryMinPerSecond (10); the maximum is MaxRetryMinPerSecond.
	RetryMinPerSecond float64
}

// HedgeStats counts a Hedger's hedges since NewHedger. Its fields are
// those of lbhttp.HedgeStats and lbprom.HedgeStats, so each converts to
// the others. The zero value is a Hedger that has hedged nothing.
type HedgeStats struct {
	// Sent is the hedges sent: attempts started because those in flight
	// had not answered within the hedge delay. Attempts sent at once after
	// a non-fatal failure are not hedges.
	Sent uint64
	// Won is the RPCs a hedge answered first, with success.
	Won uint64
	// Refused is the hedges not sent because the budget was empty: each
	// hedge delay that passes with the budget empty counts one.
	Refused uint64
}

// Hedger hedges the unary RPCs of the methods it was given (see Hedging
// in the package documentation): its Interceptor sends a slow RPC again
// to another endpoint and returns the first final answer, and Stats reads
// its counts. NewHedger makes one; the zero value is not usable. It is
// safe for concurrent use.
type Hedger struct {
	methods  map[string]*hedgeGroup // a full method name or a service prefix -> its group
	prefixes bool                   // some key of methods is a service prefix
	after    time.Duration          // the fixed delay, or the one until the percentile is known; 0: none
	quantile float64                // 1 − ExtraLoad; 0 without
	max      int
	nonFatal uint32 // bit c set: code c is non-fatal
	budget   retrybudget.Budget

	sent, won, refused atomic.Uint64
}

// hedgeGroup is one entry of HedgeOptions.Methods: the RPCs that share a
// latency percentile.
type hedgeGroup struct {
	latencies *quantile.Histogram // successful first attempts' latencies; nil without ExtraLoad
}

// NewHedger returns a Hedger with the given options, whose budget starts
// full. A field out of range, a malformed method name, or Methods without
// Delay or ExtraLoad is an error wrapping lb.ErrConfig.
func NewHedger(o HedgeOptions) (*Hedger, error) {
	h := &Hedger{after: o.Delay, max: o.MaxAttempts}
	switch {
	case o.Delay < 0 || o.Delay > time.Hour || (o.Delay > 0 && o.Delay < time.Microsecond):
		return nil, fmt.Errorf("lbgrpc: hedge Delay %v out of range [1µs, 1h] (0: none): %w", o.Delay, lb.ErrConfig)
	case o.ExtraLoad != 0 && !(o.ExtraLoad >= 0.001 && o.ExtraLoad <= 0.5):
		return nil, fmt.Errorf("lbgrpc: hedge ExtraLoad %v out of range [0.001, 0.5] (0: none): %w", o.ExtraLoad, lb.ErrConfig)
	case len(o.Methods) > 0 && o.Delay == 0 && o.ExtraLoad == 0:
		return nil, fmt.Errorf("lbgrpc: hedged methods need a Delay or an ExtraLoad: %w", lb.ErrConfig)
	case h.max == 0:
		h.max = DefaultHedgeMaxAttempts
	case h.max < 2 || h.max > MaxHedgeAttempts:
		return nil, fmt.Errorf("lbgrpc: hedge MaxAttempts %d out of range [2, %d] (0: %d): %w", o.MaxAttempts, MaxHedgeAttempts, DefaultHedgeMaxAttempts, lb.ErrConfig)
	}
	ratio := o.RetryRatio
	switch {
	case ratio == 0:
		ratio = DefaultRetryRatio
	case !(ratio > 0 && ratio <= 1): // also rejects NaN
		return nil, fmt.Errorf("lbgrpc: hedge RetryRatio %v out of range [0, 1]: %w", o.RetryRatio, lb.ErrConfig)
	}
	perSecond := o.RetryMinPerSecond
	switch {
	case perSecond == 0:
		perSecond = DefaultRetryMinPerSecond
	case !(perSecond > 0 && perSecond <= MaxRetryMinPerSecond):
		return nil, fmt.Errorf("lbgrpc: hedge RetryMinPerSecond %v out of range [0, %g]: %w", o.RetryMinPerSecond, float64(MaxRetryMinPerSecond), lb.ErrConfig)
	}
	h.budget.Init(ratio, perSecond)
	if o.NonFatalCodes == nil {
		h.nonFatal = 1 << codes.Unavailable
	}
	for _, c := range o.NonFatalCodes {
		if c == codes.OK || c > codes.Unauthenticated {
			return nil, fmt.Errorf("lbgrpc: hedge NonFatalCodes: %v cannot be a failure: %w", c, lb.ErrConfig)
		}
		h.nonFatal |= 1 << c
	}
	if o.ExtraLoad != 0 {
		h.quantile = 1 - o.ExtraLoad
	}
	h.methods = make(map[string]*hedgeGroup, len(o.Methods))
	for _, m := range o.Methods {
		prefix, err := checkMethod(m)
		if err != nil {
			return nil, err
		}
		h.prefixes = h.prefixes || prefix
		g := new(hedgeGroup)
		if h.quantile > 0 {
			if g.latencies, err = quantile.New(quantile.Options{}); err != nil {
				return nil, fmt.Errorf("lbgrpc: hedging's latency histogram: %w", err)
			}
		}
		h.methods[m] = g
	}
	if len(h.methods) > 0 {
		hedgersMade.Store(true)
	}
	return h, nil
}

// checkMethod checks one entry of HedgeOptions.Methods, reporting whether
// it is a service prefix.
func checkMethod(m string) (prefix bool, err error) {
	service, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !strings.HasPrefix(m, "/") || !ok || service == "" || strings.Contains(method, "/") {
		return false, fmt.Errorf("lbgrpc: hedged method %q is neither \"/pkg.Service/Method\" nor \"/pkg.Service/\": %w", m, lb.ErrConfig)
	}
	return method == "", nil
}

// Interceptor returns the unary client interceptor that hedges the RPCs of
// h's methods and passes the others straight on, as it does an RPC whose
// reply is not a protocol buffers message: give it to a ClientConn with
// grpc.WithUnaryInterceptor, and balance the ClientConn with a nanolb
// balancer, whose picker sends each hedge to an endpoint the RPC has not
// tried. Every interceptor h returns shares h's budget and counts; give
// each ClientConn its own Hedger to keep them apart.
func (h *Hedger) Interceptor() grpc.UnaryClientInterceptor {
	return h.intercept
}

// Stats returns h's counts. It is safe to call while RPCs run, from a
// metrics scrape for one (lbprom.NewHedgeCollector exports them).
func (h *Hedger) Stats() HedgeStats {
	return HedgeStats{Sent: h.sent.Load(), Won: h.won.Load(), Refused: h.refused.Load()}
}

func (h *Hedger) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	g := h.group(method)
	if g == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	m, ok := reply.(proto.Message)
	if !ok { // no way to make a reply of its own for each attempt
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	return h.hedge(ctx, g, method, req, m, cc, invoker, opts)
}

// group returns the group of a hedged method, or nil.
func (h *Hedger) group(method string) *hedgeGroup {
	if g, ok := h.methods[method]; ok {
		return g
	}
	if h.prefixes {
		if i := strings.LastIndexByte(method, '/'); i > 0 {
			return h.methods[method[:i+1]]
		}
	}
	return nil
}

// delay is how long the attempts in flight get before a hedge: the
// percentile of g's recent first attempts once known, else the fixed
// delay; false when there is neither yet.
func (h *Hedger) delay(g *hedgeGroup) (time.Duration, bool) {
	if g.latencies != nil {
		if d, ok := g.latencies.Quantile(h.quantile); ok {
			return d, true
		}
	}
	return h.after, h.after > 0
}

// final reports whether an attempt's error answers the RPC.
func (h *Hedger) final(err error) bool {
	c := status.Code(err)
	return err == nil || c > 31 || h.nonFatal&(1<<c) == 0
}

// attempt is one attempt of a hedged RPC.
type attempt struct {
	route  attemptRoute // the picker reads and fills it through the attempt's context
	ctx    context.Context
	cancel context.CancelFunc
	hedge  bool // started by the hedge timer
	start  time.Time
	reply  proto.Message     // the caller's for the first attempt, else its own
	opts   []grpc.CallOption // as given to the invoker
	err    error             // the invoker's, set before the attempt ends
	ended  bool              // its invoker returned; under the call's mu
	// A hedge's own targets for the caller's Peer, Header and Trailer
	// options, copied to the caller's if it answers.
	peer            peer.Peer
	header, trailer metadata.MD
}

// call is one hedged RPC. Its first attempt runs on the caller's
// goroutine, so an RPC that answers before the hedge delay costs no
// goroutine switch; the others run on goroutines of their own, and the
// hedge timer fires on its own; mu orders them. The first final answer
// decides the RPC: answer is set, the others are cancelled and decided is
// closed; attempts that end later change nothing.
type call struct {
	h       *Hedger
	g       *hedgeGroup
	ctx     context.Context // the caller's
	method  string
	req     any
	reply   proto.Message // the caller's
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption // the caller's
	first   []grpc.CallOption // the first attempt's: opts without OnFinish
	co      callOptions

	mu      sync.Mutex
	all     []*attempt // every attempt started, the first first
	live    int        // attempts whose invoker has not returned
	answer  *attempt   // the attempt that answers; nil until decided
	timer   *time.Timer
	due     time.Time     // when the timer is set to fire: a firing it was reset past is stale
	decided chan struct{} // closed once answer is set
}

// hedge runs a hedged RPC: attempts race as Hedging in the package
// documentation describes.
func (h *Hedger) hedge(ctx context.Context, g *hedgeGroup, method string, req any, reply proto.Message, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	h.budget.Deposit()
	c := &call{h: h, g: g, ctx: ctx, method: method, req: req, reply: reply, cc: cc, invoker: invoker,
		opts: opts, first: opts, co: scanCallOptions(opts), decided: make(chan struct{})}
	if len(c.co.onFinish) > 0 {
		c.first = c.co.rewrite(opts, nil)
	}
	c.all = make([]*attempt, 0, h.max)
	c.mu.Lock()
	a := c.launchLocked(false)
	c.armLocked()
	c.mu.Unlock()
	a.err = invoker(a.ctx, method, req, reply, cc, a.opts...)
	c.ended(a)
	<-c.decided
	return c.deliver()
}

// launchLocked starts an attempt, on a goroutine of its own unless it is
// the first, which the caller runs. c.mu is held.
func (c *call) launchLocked(hedge bool) *attempt {
	a := &attempt{hedge: hedge, start: time.Now(), reply: c.reply, opts: c.first}
	for _, b := range c.all {
		if e := b.route.leased(); e != "" {
			a.route.tried = append(a.route.tried, e)
		}
	}
	a.ctx, a.cancel = context.WithCancel(c.ctx)
	a.ctx = context.WithValue(a.ctx, routeKey{}, &a.route)
	first := len(c.all) == 0
	if !first {
		a.reply = c.reply.ProtoReflect().New().Interface()
		if c.co.any() {
			a.opts = c.co.rewrite(c.opts, a)
		}
	}
	c.all = append(c.all, a)
	c.live++
	if !first {
		go c.run(a)
	}
	return a
}

func (c *call) run(a *attempt) {
	a.err = c.invoker(a.ctx, c.method, c.req, a.reply, c.cc, a.opts...)
	c.ended(a)
}

// armLocked sets the hedge timer for the next hedge, if one may follow.
// c.mu is held.
func (c *call) armLocked() {
	if len(c.all) >= c.h.max {
		return
	}
	d, ok := c.h.delay(c.g)
	if ok {
		c.due = time.Now().Add(d)
	}
	switch {
	case !ok:
	case c.timer == nil:
		c.timer = time.AfterFunc(d, c.fire)
	default:
		c.timer.Reset(d)
	}
}

// fire sends a hedge if the budget has a token, when the hedge timer ends.
func (c *call) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answer != nil || len(c.all) >= c.h.max || time.Now().Before(c.due) {
		return
	}
	if c.h.budget.Withdraw() {
		c.h.sent.Add(1)
		c.launchLocked(true)
	} else {
		c.h.refused.Add(1)
	}
	c.armLocked()
}

// ended takes an attempt whose invoker returned: a success or a final
// failure answers the RPC; a non-fatal failure sends the next attempt at
// once (gRFC A6) if MaxAttempts and the budget allow, else leaves those in
// flight to answer, else answers the RPC itself.
func (c *call) ended(a *attempt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live--
	a.ended = true
	switch {
	case c.answer != nil: // a loser
	case c.h.final(a.err) || c.ctx.Err() != nil:
		c.decideLocked(a)
	case len(c.all) < c.h.max && c.h.budget.Withdraw():
		c.launchLocked(false)
		c.armLocked()
	case c.live == 0:
		c.decideLocked(a)
	}
}

// decideLocked makes w the RPC's answer and cancels the other attempts,
// whose leases the picker ends as neutral. c.mu is held.
func (c *call) decideLocked(w *attempt) {
	c.answer = w
	if c.timer != nil {
		c.timer.Stop()
	}
	for _, a := range c.all {
		if a != w {
			a.cancel()
		}
	}
	if w.hedge && w.err == nil {
		c.h.won.Add(1)
	}
	if first := c.all[0]; c.g.latencies != nil && (w == first && w.err == nil || !first.ended) {
		// The first attempt's latency, or a lower bound of it when it lost.
		c.g.latencies.Record(time.Since(first.start))
	}
	close(c.decided)
}

// deliver returns the answer's error as the RPC's, with its reply and call
// options' results in the caller's. It runs on the caller's goroutine once
// decided, after the first attempt, the one writing into the caller's
// reply and options, has returned.
func (c *call) deliver() error {
	w := c.answer
	if w != c.all[0] {
		if w.err == nil {
			proto.Reset(c.reply)
			proto.Merge(c.reply, w.reply)
		}
		c.co.deliver(w)
	}
	w.cancel()
	for _, f := range c.co.onFinish {
		f(w.err)
	}
	return w.err
}

// callOptions are the options of a hedged RPC that write to the caller's
// variables when an attempt ends, or call back: were every attempt given
// them, the attempts would race to write them, and the callbacks would run
// once per attempt. The first attempt keeps the writes (not the
// callbacks); a hedge gets targets of its own.
type callOptions struct {
	peers             []*peer.Peer
	headers, trailers []*metadata.MD
	onFinish          []func(error)
}

func scanCallOptions(opts []grpc.CallOption) callOptions {
	var co callOptions
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.PeerCallOption:
			co.peers = append(co.peers, o.PeerAddr)
		case grpc.HeaderCallOption:
			co.headers = append(co.headers, o.HeaderAddr)
		case grpc.TrailerCallOption:
			co.trailers = append(co.trailers, o.TrailerAddr)
		case grpc.OnFinishCallOption:
			co.onFinish = append(co.onFinish, o.OnFinish)
		}
	}
	return co
}

func (co *callOptions) any() bool {
	return len(co.peers)+len(co.headers)+len(co.trailers)+len(co.onFinish) > 0
}

// rewrite returns opts without OnFinish, with the writes pointed at a's
// own targets (a nil: kept).
func (co *callOptions) rewrite(opts []grpc.CallOption, a *attempt) []grpc.CallOption {
	out := make([]grpc.CallOption, 0, len(opts))
	for _, o := range opts {
		switch o.(type) {
		case grpc.OnFinishCallOption:
			continue
		case grpc.PeerCallOption:
			if a != nil {
				o = grpc.Peer(&a.peer)
			}
		case grpc.HeaderCallOption:
			if a != nil {
				o = grpc.Header(&a.header)
			}
		case grpc.TrailerCallOption:
			if a != nil {
				o = grpc.Trailer(&a.trailer)
			}
		}
		out = append(out, o)
	}
	return out
}

// deliver copies a hedge's results to the caller's targets.
func (co *callOptions) deliver(a *attempt) {
	for _, p := range co.peers {
		*p = a.peer
	}
	for _, m := range co.headers {
		*m = a.header
	}
	for _, m := range co.trailers {
		*m = a.trailer
	}
}
