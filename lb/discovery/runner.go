package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// Target is what a Runner keeps in step with its Resolver: *lb.Pool
// satisfies it. Set declares the whole membership; endpoints it leaves out
// drain (no new picks, leases in flight end normally).
type Target interface {
	Set(endpoints ...lb.Endpoint) error
}

// Runner keeps a Target in step with a Resolver on a schedule (Config),
// from a goroutine of its own: a slow or hanging backend delays only the
// Runner, never the Target's Pick. Create one with Start and stop it with
// Close. Its methods are safe for concurrent use.
type Runner struct {
	target Target
	res    Resolver
	cfg    Config
	start  time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // holds at most one pending ResolveNow
	ready  chan struct{} // closed on the first non-empty success
	events chan Event    // Events; closed by Close

	closeOnce sync.Once

	mu      sync.Mutex // guards the fields below
	st      Status
	dropped int // events lost since the last one delivered
}

// Start validates cfg, then starts a Runner that resolves at once and then
// on cfg's schedule, applying each good answer to target with one Set. If
// res is also a Watcher, the Runner runs its Watch too and resolves at once
// on each change. Start returns without waiting for the first resolve: see
// WaitForReady. A nil target or resolver, or a bad cfg, is an error
// wrapping ErrConfig.
func Start(target Target, res Resolver, cfg Config) (*Runner, error) {
	if target == nil || res == nil {
		return nil, fmt.Errorf("%w: nil target or resolver", ErrConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		target: target,
		res:    res,
		cfg:    cfg,
		start:  time.Now(),
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
		ready:  make(chan struct{}),
		events: make(chan Event, EventBuffer),
	}
	r.st.Phase = PhaseStartup
	r.wg.Add(1)
	go r.loop()
	if w, ok := res.(Watcher); ok {
		r.wg.Add(1)
		go r.watch(w)
	}
	return r, nil
}

// ResolveNow asks for a resolve as soon as possible, whatever the schedule.
// It never blocks and is never dropped: requests made while a resolve runs
// cause exactly one more resolve after it; one made while idle starts a
// resolve at once (see the package documentation on rate). After Close it
// does nothing.
func (r *Runner) ResolveNow() {
	select {
	case r.kick <- struct{}{}:
	default: // one is pending already; it will see the newest answer
	}
}

// WaitForReady blocks until the first resolve whose answer was non-empty
// and applied, and then returns nil (at once on every later call). It
// returns ctx's error if ctx ends first, and an error wrapping ErrClosed if
// the Runner is closed first.
func (r *Runner) WaitForReady(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	default:
	}
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.ctx.Done():
		select {
		case <-r.ready:
			return nil
		default:
			return fmt.Errorf("%w before its first good resolve", ErrClosed)
		}
	}
}

// Status reports the Runner's state. It never waits for a resolve.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if st.Phase == PhaseStartup && time.Since(r.start) >= r.cfg.StartupFor {
		st.Phase = PhaseRegular
	}
	return st
}

// Close stops the Runner: it cancels a resolve or Watch in flight, waits
// for the Runner's goroutines to return, leaves the target with the last
// set applied, and closes Events. Close is idempotent. A Resolver must return soon after
// its context is done, or Close waits for it.
func (r *Runner) Close() {
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.mu.Lock()
		r.st.Phase = PhaseClosed
		r.st.NextAttempt = time.Time{}
		r.mu.Unlock()
		close(r.events) // nothing emits once the goroutines have returned
	})
}

// startup reports whether now falls in the start-up phase.
func (r *Runner) startup(now time.Time) bool {
	return now.Sub(r.start) < r.cfg.StartupFor
}

// loop resolves at once, then whenever its timer fires or ResolveNow asks,
// until Close.
func (r *Runner) loop() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		failures := r.attempt()
		now := time.Now()
		delay := r.cfg.jitter(r.cfg.interval(r.startup(now), failures))
		r.mu.Lock()
		r.st.NextAttempt = now.Add(delay)
		r.mu.Unlock()
		timer.Reset(delay)
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		case <-r.kick:
			timer.Stop() // since Go 1.23 no stale tick is left in timer.C
		}
	}
}

// attempt runs one resolve and applies its answer, and returns the number
// of failures in a row after it.
func (r *Runner) attempt() int {
	// A request made before this resolve starts is answered by it; one made
	// from here on stays in kick and causes one rerun.
	select {
	case <-r.kick:
	default:
	}
	now := time.Now()
	r.mu.Lock()
	r.st.Resolving = true
	r.st.LastAttempt = now
	r.st.NextAttempt = time.Time{}
	if r.st.Phase != PhaseClosed {
		r.st.Phase = PhaseRegular
		if r.startup(now) {
			r.st.Phase = PhaseStartup
		}
	}
	r.mu.Unlock()

	eps, err := r.resolve()
	if err == nil && len(eps) == 0 && !r.cfg.AllowEmpty {
		err = fmt.Errorf("%w: the answer was empty; keeping the last good set (Config.AllowEmpty applies it)", ErrResolve)
	}
	if err == nil && r.ctx.Err() != nil {
		err = r.ctx.Err() // closed meanwhile: Close leaves the set as it was
	}
	if err == nil {
		if serr := r.target.Set(eps...); serr != nil {
			err = fmt.Errorf("%w: the target rejected the set: %w", ErrResolve, serr)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Resolving = false
	if err != nil {
		if r.ctx.Err() != nil {
			// Close cancelled it: not the backend's failure.
			return r.st.Failures
		}
		r.st.LastError = err
		r.st.Failures++
		r.emitLocked(Event{Kind: EventResolveFailed, Err: err, Failures: r.st.Failures})
		return r.st.Failures
	}
	// Membership changes are the target's to report: an lb.Pool emits
	// EventAdded and EventRemoved for the Set above.
	if r.st.Failures > 0 {
		r.emitLocked(Event{Kind: EventRecovered, Failures: r.st.Failures, Endpoints: len(eps)})
	}
	r.st.LastSuccess = time.Now()
	r.st.LastError = nil
	r.st.Failures = 0
	r.st.Endpoints = len(eps)
	if len(eps) > 0 {
		select {
		case <-r.ready:
		default:
			close(r.ready)
		}
	}
	return 0
}

// resolve calls the Resolver with the timeout, and wraps its error in
// ErrResolve.
func (r *Runner) resolve() ([]lb.Endpoint, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	eps, err := r.res.Resolve(ctx)
	if err == nil { // an answer that came after the deadline is still good
		return eps, nil
	}
	if !errors.Is(err, ErrResolve) {
		err = fmt.Errorf("%w: %w", ErrResolve, err)
	}
	if errors.Is(err, context.DeadlineExceeded) && r.ctx.Err() == nil {
		err = fmt.Errorf("%w (no answer within Config.Timeout, %v)", err, r.cfg.Timeout)
	}
	return nil, err
}

// watch runs w.Watch until Close, treating each change as ResolveNow, and
// restarts a failed Watch after the retry backoff. A Watch that lasted at
// least MaxRetryAfter counts as healthy: the backoff starts over.
func (r *Runner) watch(w Watcher) {
	defer r.wg.Done()
	failures := 0
	for {
		began := time.Now()
		err := w.Watch(r.ctx, r.ResolveNow)
		if r.ctx.Err() != nil {
			return
		}
		if time.Since(began) >= r.cfg.MaxRetryAfter {
			failures = 0
		}
		failures++
		if err == nil {
			err = errors.New("Watch returned before its context ended")
		}
		r.mu.Lock()
		r.st.WatchError = fmt.Errorf("%w: watch failed: %w", ErrResolve, err)
		r.emitLocked(Event{Kind: EventWatchFailed, Err: r.st.WatchError})
		r.mu.Unlock()
		t := time.NewTimer(r.cfg.jitter(r.cfg.interval(false, failures)))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Changes made while no Watch ran were missed: resolve once.
		r.ResolveNow()
	}
}
