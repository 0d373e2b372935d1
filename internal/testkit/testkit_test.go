package testkit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failed   []string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r) // stands for runtime.Goexit: the caller stops here
}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	testkit.Eventually(r, time.Second, "three calls", func() bool { calls++; return calls == 3 })
	if calls != 3 || len(r.failed) != 0 {
		t.Fatalf("calls %d, failures %q", calls, r.failed)
	}
}

func TestEventuallyFailsWhenTheConditionNeverHolds(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() { recover() }()
		testkit.Eventually(r, 5*time.Millisecond, "never", func() bool { return false })
	}()
	if len(r.failed) != 1 {
		t.Fatalf("failures %q, want one", r.failed)
	}
}

func TestNoGoroutinesLeftCatchesALeakAndNotAFinishedGoroutine(t *testing.T) {
	leak := &recorder{TB: t}
	testkit.NoGoroutinesLeft(leak, 20*time.Millisecond)
	stop := make(chan struct{})
	go func() { <-stop }()
	leak.end()
	close(stop)
	if len(leak.failed) != 1 {
		t.Fatalf("a goroutine left running: failures %q, want one", leak.failed)
	}

	clean := &recorder{TB: t}
	testkit.NoGoroutinesLeft(clean, time.Second)
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	clean.end()
	if len(clean.failed) != 0 {
		t.Fatalf("a goroutine that ended: failures %q, want none", clean.failed)
	}
}

func TestCountStacksCountsTheGoroutinesInAFunction(t *testing.T) {
	stop := make(chan struct{})
	var started sync.WaitGroup
	for range 3 {
		started.Add(1)
		go parkedForTestkit(stop, &started)
	}
	started.Wait()
	testkit.Eventually(t, time.Second, "three parked goroutines", func() bool {
		return testkit.CountStacks("parkedForTestkit") == 3
	})
	close(stop)
	testkit.Eventually(t, time.Second, "none left", func() bool { return testkit.CountStacks("parkedForTestkit") == 0 })
}

func parkedForTestkit(stop chan struct{}, started *sync.WaitGroup) {
	started.Done()
	<-stop
}

// A test polls for what its goroutines bring about.
func ExampleEventually() {
	t := &testing.T{} // in a test, the test's own t
	var mu sync.Mutex
	ready := false
	go func() { mu.Lock(); ready = true; mu.Unlock() }()
	testkit.Eventually(t, time.Second, "the worker ready", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready
	})
	fmt.Println("ready")
	// Output: ready
}

func TestThrottledAsSpecifiedFailsOffTheRule(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		sent, accepted, full int
		want                 int
	}{
		{"about K times the accepts", 410, 200, 220, 0},
		{"far above K times the accepts", 900, 200, 220, 1},
		{"fewer accepts than the servers could take", 200, 100, 220, 1},
	} {
		r := &recorder{TB: t}
		testkit.ThrottledAsSpecified(r, 2, tc.sent, tc.accepted, tc.full)
		if len(r.failed) != tc.want {
			t.Errorf("%s: failures %q, want %d", tc.name, r.failed, tc.want)
		}
	}
}
