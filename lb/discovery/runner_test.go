package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// script is a fake Resolver for synctest bubbles: answer decides call n's
// outcome (n counts from 1), and every call's start time is recorded.
type script struct {
	mu     sync.Mutex
	starts []time.Time
	answer func(ctx context.Context, n int) ([]lb.Endpoint, error)
}

func (s *script) Resolve(ctx context.Context) ([]lb.Endpoint, error) {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	n := len(s.starts)
	s.mu.Unlock()
	return s.answer(ctx, n)
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.starts)
}

// gaps returns the delays between consecutive calls.
func (s *script) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.starts); i++ {
		out = append(out, s.starts[i].Sub(s.starts[i-1]))
	}
	return out
}

func eps(addrs ...string) []lb.Endpoint {
	out := make([]lb.Endpoint, len(addrs))
	for i, a := range addrs {
		out[i] = lb.Endpoint{Addr: a, Weight: 1}
	}
	return out
}

func addrsOf(p *lb.Pool) []string {
	var out []string
	for _, e := range p.Endpoints() {
		out = append(out, e.Addr)
	}
	slices.Sort(out)
	return out
}

func newPool(t *testing.T, addrs ...string) *lb.Pool {
	t.Helper()
	p, err := lb.New(lb.Config{}, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustStart(t *testing.T, target Target, res Resolver, cfg Config) *Runner {
	t.Helper()
	r, err := Start(target, res, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func always(e ...lb.Endpoint) func(context.Context, int) ([]lb.Endpoint, error) {
	return func(context.Context, int) ([]lb.Endpoint, error) { return e, nil }
}

func TestConfigRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"a negative start-up length", Config{StartupFor: -1}},
		{"a negative start-up interval", Config{StartupEvery: -time.Second}},
		{"a negative interval", Config{Every: -time.Second}},
		{"a negative retry delay", Config{RetryAfter: -1}},
		{"a negative retry cap", Config{MaxRetryAfter: -1}},
		{"a negative timeout", Config{Timeout: -1}},
		{"a negative jitter", Config{Jitter: -0.1}},
		{"a jitter of 1", Config{Jitter: 1}},
		{"a start-up interval over the interval", Config{StartupEvery: time.Minute, Every: time.Second}},
		{"a retry delay over its cap", Config{RetryAfter: time.Minute, MaxRetryAfter: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Start(newPool(t), Static(eps("a:1")), tc.cfg)
			if !errors.Is(err, ErrConfig) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("Start(%+v) = %v, want an error wrapping ErrConfig", tc.cfg, err)
			}
			t.Log(err)
		})
	}
	if _, err := Start(nil, Static(nil), Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("Start with a nil target = %v, want ErrConfig", err)
	}
	if _, err := Start(newPool(t), nil, Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("Start with a nil resolver = %v, want ErrConfig", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		startup  time.Duration
		every    time.Duration
		retry    time.Duration
		maxRetry time.Duration
	}{
		{"zero means every default", Config{}, 5 * time.Second, 30 * time.Second, time.Second, time.Minute},
		{"a short interval shortens the default start-up interval", Config{Every: time.Second}, time.Second, time.Second, time.Second, time.Minute},
		{"a long start-up interval lengthens the default interval", Config{StartupEvery: time.Minute}, time.Minute, time.Minute, time.Second, time.Minute},
		{"a short cap shortens the default retry delay", Config{MaxRetryAfter: 100 * time.Millisecond}, 5 * time.Second, 30 * time.Second, 100 * time.Millisecond, 100 * time.Millisecond},
		{"a long retry delay lengthens the default cap", Config{RetryAfter: 2 * time.Minute}, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if got.StartupEvery != tc.startup || got.Every != tc.every || got.RetryAfter != tc.retry || got.MaxRetryAfter != tc.maxRetry {
				t.Errorf("got startup %v every %v retry %v..%v, want %v %v %v..%v",
					got.StartupEvery, got.Every, got.RetryAfter, got.MaxRetryAfter, tc.startup, tc.every, tc.retry, tc.maxRetry)
			}
			if got.StartupFor != DefaultStartupFor || got.Timeout != DefaultTimeout || got.Jitter != DefaultJitter {
				t.Errorf("got StartupFor %v Timeout %v Jitter %v, want the defaults", got.StartupFor, got.Timeout, got.Jitter)
			}
		})
	}
}

func TestJitterStaysWithinItsShare(t *testing.T) {
	cfg, _ := Config{Jitter: 0.2}.withDefaults()
	const d = 10 * time.Second
	lo, hi := d, time.Duration(0)
	for range 10000 {
		j := cfg.jitter(d)
		if j < 8*time.Second || j > d {
			t.Fatalf("jitter(%v) = %v, outside [8s, 10s]", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	// Uniform over [8s, 10s]: 10,000 draws reach both ends' outer tenths.
	if lo > 8200*time.Millisecond || hi < 9800*time.Millisecond {
		t.Errorf("10,000 draws spread over [%v, %v] only, want most of [8s, 10s]", lo, hi)
	}
	cfg, _ = Config{NoJitter: true}.withDefaults()
	if got := cfg.jitter(d); got != d {
		t.Errorf("NoJitter: jitter(%v) = %v", d, got)
	}
}

func TestPhases(t *testing.T) {
	t.Run("start-up interval, then the regular one, exactly without jitter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: always(eps("a:1")...)}
			r := mustStart(t, newPool(t), res, Config{StartupFor: time.Minute, StartupEvery: 5 * time.Second, Every: 30 * time.Second, NoJitter: true})
			time.Sleep(30 * time.Second)
			if st := r.Status(); st.Phase != PhaseStartup {
				t.Errorf("at 30s, phase %v, want startup", st.Phase)
			}
			time.Sleep(150 * time.Second) // to 3 minutes
			if st := r.Status(); st.Phase != PhaseRegular {
				t.Errorf("at 3m, phase %v, want regular", st.Phase)
			}
			r.Close()
			// Attempts at 0, 5, ..., 55 (12 in the first minute), then 60
			// (the last scheduled in the start-up phase), 90, ..., 180.
			var want []time.Duration
			for range 12 {
				want = append(want, 5*time.Second)
			}
			for range 4 {
				want = append(want, 30*time.Second)
			}
			if got := res.gaps(); !slices.Equal(got, want) {
				t.Errorf("gaps %v\nwant %v", got, want)
			}
			if st := r.Status(); st.Phase != PhaseClosed || !st.NextAttempt.IsZero() {
				t.Errorf("after Close: %+v", st)
			}
		})
	})
	t.Run("jitter takes up to its share off each interval, and varies", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: always(eps("a:1")...)}
			cfg := Config{StartupFor: time.Minute, StartupEvery: 5 * time.Second, Every: 30 * time.Second, Jitter: 0.2}
			r := mustStart(t, newPool(t), res, cfg)
			time.Sleep(10 * time.Minute)
			r.Close()
			gaps := res.gaps()
			start := time.Duration(0)
			seen := map[time.Duration]bool{}
			for i, g := range gaps {
				nominal := cfg.Every
				if start < cfg.StartupFor {
					nominal = cfg.StartupEvery
				}
				if g > nominal || g < nominal*8/10 {
					t.Errorf("gap %d (at %v) is %v, outside [0.8, 1]×%v", i, start, g, nominal)
				}
				seen[g] = true
				start += g
			}
			if len(seen) < len(gaps)/2 {
				t.Errorf("only %d distinct gaps among %d: jitter is not drawn per delay", len(seen), len(gaps))
			}
		})
	})
}

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("backend down")
		res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
			if n >= 2 && n <= 9 {
				return nil, boom
			}
			return eps("a:1"), nil
		}}
		pool := newPool(t)
		cfg := Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Second, MaxRetryAfter: 10 * time.Second, NoJitter: true}
		r := mustStart(t, pool, res, cfg)
		synctest.Wait()
		r.ResolveNow() // call 2: the first failure
		time.Sleep(time.Second + 2*time.Second + 4*time.Second + 8*time.Second + 10*time.Second + 1)
		st := r.Status()
		if st.Failures != 6 || !errors.Is(st.LastError, ErrResolve) || !errors.Is(st.LastError, boom) {
			t.Errorf("after 6 failures: Failures %d, LastError %v", st.Failures, st.LastError)
		}
		if got := addrsOf(pool); !slices.Equal(got, []string{"a:1"}) {
			t.Errorf("pool %v during failures, want the last good set", got)
		}
		time.Sleep(3*10*time.Second + time.Hour)
		r.Close()
		want := []time.Duration{0, 1, 2, 4, 8, 10, 10, 10, 10, 3600}
		for i := range want {
			want[i] *= time.Second
		}
		if got := res.gaps(); !slices.Equal(got, want) {
			t.Errorf("gaps %v\nwant %v", got, want)
		}
		if st := r.Status(); st.Failures != 0 || st.LastError != nil || st.LastSuccess.IsZero() {
			t.Errorf("after a success: %+v", st)
		}
	})
	t.Run("with jitter, each retry within [0.8, 1]× its nominal delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: func(context.Context, int) ([]lb.Endpoint, error) { return nil, errors.New("down") }}
			cfg := Config{RetryAfter: time.Second, MaxRetryAfter: 30 * time.Second}
			r := mustStart(t, newPool(t), res, cfg)
			time.Sleep(5 * time.Minute)
			r.Close()
			nominal := time.Second
			for i, g := range res.gaps() {
				if g > nominal || g < nominal*8/10 {
					t.Errorf("retry %d after %v, outside [0.8, 1]×%v", i+1, g, nominal)
				}
				nominal = min(2*nominal, 30*time.Second)
			}
		})
	})
}

func TestResolveNowCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
			if n == 2 {
				<-release
			}
			return eps(fmt.Sprintf("a:%d", n)), nil
		}}
		pool := newPool(t)
		r := mustStart(t, pool, res, Config{Every: time.Hour, StartupEvery: time.Hour})
		synctest.Wait()
		if n := res.calls(); n != 1 {
			t.Fatalf("%d calls after start, want 1", n)
		}
		r.ResolveNow() // idle: starts call 2 at once, which blocks
		synctest.Wait()
		if n := res.calls(); n != 2 {
			t.Fatalf("%d calls after ResolveNow while idle, want 2", n)
		}
		if !r.Status().Resolving {
			t.Error("Status().Resolving is false during a resolve")
		}
		for range 5 {
			r.ResolveNow()
		}
		close(release)
		synctest.Wait()
		if n := res.calls(); n != 3 {
			t.Fatalf("%d calls after 5 ResolveNow during a resolve, want exactly 3 (one rerun)", n)
		}
		if got := addrsOf(pool); !slices.Equal(got, []string{"a:3"}) {
			t.Errorf("pool %v, want the rerun's answer [a:3]", got)
		}
		time.Sleep(30 * time.Minute)
		if n := res.calls(); n != 3 {
			t.Errorf("%d calls 30 minutes later, want still 3", n)
		}
	})
}

func TestHangingBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := &script{answer: func(ctx context.Context, n int) ([]lb.Endpoint, error) {
			if n == 1 {
				return eps("a:1", "b:1"), nil
			}
			<-ctx.Done() // a backend that never answers
			return nil, ctx.Err()
		}}
		pool := newPool(t)
		r := mustStart(t, pool, res, Config{Timeout: 2 * time.Second, Every: time.Hour, StartupEvery: time.Hour, NoJitter: true})
		synctest.Wait()
		r.ResolveNow()
		synctest.Wait()
		began := time.Now()
		// The resolve hangs; Pick and Status do not wait for it.
		for range 10 {
			l, err := pool.Pick()
			if err != nil {
				t.Fatalf("Pick during a hanging resolve: %v", err)
			}
			l.Done(nil)
		}
		if st := r.Status(); !st.Resolving {
			t.Errorf("Status during the hang: %+v", st)
		}
		synctest.Wait()
		st := r.Status()
		if time.Since(began) != 0 || st.Failures != 0 {
			t.Fatal("the hang ended early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		st = r.Status()
		if st.Resolving || st.Failures != 1 || !errors.Is(st.LastError, ErrResolve) || !errors.Is(st.LastError, context.DeadlineExceeded) {
			t.Errorf("after the timeout: %+v", st)
		}
		if got := addrsOf(pool); !slices.Equal(got, []string{"a:1", "b:1"}) {
			t.Errorf("pool %v after the timeout, want the last good set", got)
		}
		if want := time.Now().Add(time.Second); !st.NextAttempt.Equal(want) {
			t.Errorf("NextAttempt %v, want %v (RetryAfter)", st.NextAttempt, want)
		}
		// Close cancels a hanging resolve and waits for it.
		time.Sleep(time.Second)
		synctest.Wait()
		r.Close()
		if st := r.Status(); st.Failures != 1 {
			t.Errorf("a resolve cancelled by Close counted as a failure: %+v", st)
		}
	})
}

func TestKeepsTheLastGoodSet(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		answer  []lb.Endpoint
		err     error
		allow   bool
		want    []string
		sentinl error
	}{
		{"on an error", nil, boom, false, []string{"a:1", "b:1"}, boom},
		{"on an empty answer by default", nil, nil, false, []string{"a:1", "b:1"}, ErrResolve},
		{"on a duplicate address the pool rejects", eps("c:1", "c:1"), nil, false, []string{"a:1", "b:1"}, lb.ErrAddress},
		{"on an empty address", eps("c:1", ""), nil, false, []string{"a:1", "b:1"}, lb.ErrAddress},
		{"on a weight over lb.MaxWeight", []lb.Endpoint{{Addr: "c:1", Weight: lb.MaxWeight + 1}}, nil, false, []string{"a:1", "b:1"}, lb.ErrAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
					if n == 1 {
						return eps("a:1", "b:1"), nil
					}
					return tc.answer, tc.err
				}}
				pool := newPool(t)
				r := mustStart(t, pool, res, Config{AllowEmpty: tc.allow})
				synctest.Wait()
				r.ResolveNow()
				synctest.Wait()
				st := r.Status()
				if !errors.Is(st.LastError, ErrResolve) || !errors.Is(st.LastError, tc.sentinl) || st.Failures != 1 || st.Endpoints != 2 {
					t.Errorf("status %+v, want LastError wrapping ErrResolve and %v", st, tc.sentinl)
				}
				t.Log(st.LastError)
				if got := addrsOf(pool); !slices.Equal(got, tc.want) {
					t.Errorf("pool %v, want %v", got, tc.want)
				}
			})
		})
	}
	t.Run("an empty answer with AllowEmpty empties the pool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
				if n == 1 {
					return eps("a:1"), nil
				}
				return nil, nil
			}}
			pool := newPool(t)
			r := mustStart(t, pool, res, Config{AllowEmpty: true})
			synctest.Wait()
			r.ResolveNow()
			synctest.Wait()
			if st := r.Status(); st.LastError != nil || st.Endpoints != 0 || pool.Len() != 0 {
				t.Errorf("status %+v, pool %v; want an empty, healthy set", st, addrsOf(pool))
			}
			if _, err := pool.Pick(); !errors.Is(err, lb.ErrNoEndpoint) {
				t.Errorf("Pick on the emptied pool: %v", err)
			}
		})
	})
}

func TestWaitForReady(t *testing.T) {
	t.Run("returns after the first non-empty success", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
				switch n {
				case 1:
					return nil, errors.New("down")
				case 2:
					return nil, nil
				}
				return eps("a:1"), nil
			}}
			pool := newPool(t)
			start := time.Now()
			r := mustStart(t, pool, res, Config{AllowEmpty: true, NoJitter: true, StartupEvery: 5 * time.Second})
			if err := r.WaitForReady(t.Context()); err != nil {
				t.Fatal(err)
			}
			// 1 s retry after the error, then 5 s after the empty success.
			if got := time.Since(start); got != 6*time.Second {
				t.Errorf("ready after %v, want 6s", got)
			}
			if pool.Len() != 1 {
				t.Errorf("ready with %d endpoints", pool.Len())
			}
			if err := r.WaitForReady(t.Context()); err != nil {
				t.Errorf("second WaitForReady: %v", err)
			}
			r.Close()
			if err := r.WaitForReady(t.Context()); err != nil {
				t.Errorf("WaitForReady after Close of a ready runner: %v", err)
			}
		})
	})
	t.Run("returns ctx's error when ctx ends first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: func(context.Context, int) ([]lb.Endpoint, error) { return nil, errors.New("down") }}
			r := mustStart(t, newPool(t), res, Config{})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := r.WaitForReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitForReady = %v, want DeadlineExceeded", err)
			}
		})
	})
	t.Run("returns ErrClosed when closed first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res := &script{answer: func(context.Context, int) ([]lb.Endpoint, error) { return nil, errors.New("down") }}
			r := mustStart(t, newPool(t), res, Config{})
			errc := make(chan error)
			go func() { errc <- r.WaitForReady(context.Background()) }()
			time.Sleep(time.Minute)
			r.Close()
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("WaitForReady = %v, want ErrClosed", err)
			}
		})
	})
}

// fakeWatcher is a Watcher whose Watch fails fails times at once, then
// hands changed to the test and blocks.
type fakeWatcher struct {
	*script
	mu      sync.Mutex
	fails   int
	watches []time.Time
	changed chan func()
}

func (w *fakeWatcher) Watch(ctx context.Context, changed func()) error {
	w.mu.Lock()
	w.watches = append(w.watches, time.Now())
	n := len(w.watches)
	w.mu.Unlock()
	if n <= w.fails {
		return fmt.Errorf("watch %d lost", n)
	}
	w.changed <- changed
	<-ctx.Done()
	return ctx.Err()
}

func TestWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &fakeWatcher{
			script:  &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) { return eps(fmt.Sprintf("a:%d", n)), nil }},
			fails:   3,
			changed: make(chan func()),
		}
		pool := newPool(t)
		start := time.Now()
		r := mustStart(t, pool, w, Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Second, NoJitter: true})
		changed := <-w.changed
		// Three failed watches restarted after 1, 2 and 4 s; each restart
		// resolves once, as changes may have been missed meanwhile.
		w.mu.Lock()
		var gaps []time.Duration
		for _, at := range w.watches {
			gaps = append(gaps, at.Sub(start))
			start = at
		}
		w.mu.Unlock()
		if want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(gaps, want) {
			t.Errorf("watch starts after %v, want %v", gaps, want)
		}
		synctest.Wait()
		if n := w.calls(); n != 4 {
			t.Errorf("%d resolves, want 4 (the first and one per restart)", n)
		}
		if err := r.Status().WatchError; err == nil {
			t.Error("Status().WatchError is nil after failed watches")
		}
		changed()
		synctest.Wait()
		if n := w.calls(); n != 5 {
			t.Errorf("%d resolves after a change, want 5", n)
		}
		if got := addrsOf(pool); !slices.Equal(got, []string{"a:5"}) {
			t.Errorf("pool %v, want [a:5]", got)
		}
		r.Close()
		changed() // after Close: does nothing, never blocks
		if n := w.calls(); n != 5 {
			t.Errorf("%d resolves after Close, want 5", n)
		}
	})
}

func TestStaticAnswersACopy(t *testing.T) {
	s := Static(eps("a:1", "b:1"))
	got, err := s.Resolve(t.Context())
	if err != nil || !slices.Equal(got, eps("a:1", "b:1")) {
		t.Fatalf("Resolve = %v, %v", got, err)
	}
	got[0].Addr = "changed:1"
	if again, _ := s.Resolve(t.Context()); again[0].Addr != "a:1" {
		t.Errorf("changing one answer changed the next: %v", again)
	}
}

func TestCloseDuringAResolveLeavesTheSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := &script{answer: func(ctx context.Context, n int) ([]lb.Endpoint, error) {
			if n == 1 {
				return eps("a:1"), nil
			}
			<-ctx.Done()
			return eps("late:1"), nil // a backend that answers after cancellation
		}}
		pool := newPool(t)
		r := mustStart(t, pool, res, Config{})
		synctest.Wait()
		r.ResolveNow()
		synctest.Wait()
		r.Close()
		if got := addrsOf(pool); !slices.Equal(got, []string{"a:1"}) {
			t.Errorf("pool %v after Close during a resolve, want [a:1]", got)
		}
		st := r.Status()
		if st.Phase != PhaseClosed || st.Failures != 0 || st.Resolving {
			t.Errorf("status after Close: %+v", st)
		}
		r.Close() // idempotent
		r.ResolveNow()
		if n := res.calls(); n != 2 {
			t.Errorf("%d resolves after Close, want 2", n)
		}
	})
}
