package fuzz

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// The lb targets (lb_probe_test.go, lb_p2c_test.go, lb_ops_test.go) read
// their fuzzed bytes as a script through a tape, run it inside a
// testing/synctest bubble, and compare the pool's snapshots after every
// step with what the exported contract says they must be. In the bubble the
// clock moves only when the script sleeps, always by whole microseconds
// (the health clock's unit), so deadlines and cooldowns are exact and a
// failing input replays step for step. The one thing a test cannot seed is
// the runtime generator behind P2C's draws: a script whose outcome depends
// on which of two equal candidates P2C took may need a few replays.

// traceFlag makes the lb targets log every step of their scripts, to read
// a failing input: go test -v -run 'FuzzOps/<file>' ./fuzz -steps.
var traceFlag = flag.Bool("steps", false, "log every step of the lb fuzz scripts")

func tracef(t *testing.T, format string, args ...any) {
	t.Helper()
	if *traceFlag {
		t.Logf(format, args...)
	}
}

// tape hands out the fuzzer's bytes one at a time, then zeros.
type tape struct{ b []byte }

func (t *tape) empty() bool { return len(t.b) == 0 }

func (t *tape) byte() byte {
	if len(t.b) == 0 {
		return 0
	}
	c := t.b[0]
	t.b = t.b[1:]
	return c
}

// intn returns a byte's value modulo n, n > 0.
func (t *tape) intn(n int) int { return int(t.byte()) % n }

// u16 reads two bytes, little endian.
func (t *tape) u16() int { return int(t.byte()) | int(t.byte())<<8 }

var errBackend = errors.New("backend failed")

// The outcomes a script can report: success, failure (plain, and a
// deadline, which is the endpoint's fault), and cancellation (plain and
// wrapped, which is neither).
var outcomes = []error{
	nil,
	errBackend,
	context.Canceled,
	fmt.Errorf("rpc: %w", context.Canceled),
	context.DeadlineExceeded,
}

// kind classifies an outcome as Done documents it.
type kind int

const (
	success kind = iota
	failure
	cancelled
)

func kindOf(err error) kind {
	switch {
	case err == nil:
		return success
	case errors.Is(err, context.Canceled):
		return cancelled
	}
	return failure
}

// micros is d in the health clock's unit.
func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

// sleep moves the bubble's clock by us microseconds and lets the pools'
// wake timers run.
func sleep(us int64) {
	if us > 0 {
		time.Sleep(time.Duration(us) * time.Microsecond)
	}
	synctest.Wait()
}

// since is the time from born to now in microseconds: a pool's health
// clock, when born is the instant it was created.
func since(born time.Time) int64 { return micros(time.Since(born)) }

// find returns addr's snapshot in es.
func find(es []lb.EndpointStatus, addr string) (lb.EndpointStatus, bool) {
	for _, e := range es {
		if e.Addr == addr {
			return e, true
		}
	}
	return lb.EndpointStatus{}, false
}

// deadline is e's Until on the health clock of a pool born at born.
func deadline(e lb.EndpointStatus, born time.Time) int64 { return micros(e.Until.Sub(born)) }

// firstDue returns the first endpoint in pool order that is out (ejected or
// probing) with its deadline passed: the one the next Pick must probe.
func firstDue(es []lb.EndpointStatus, born time.Time, now int64) (lb.EndpointStatus, bool) {
	for _, e := range es {
		if e.State != lb.Up && deadline(e, born) <= now {
			return e, true
		}
	}
	return lb.EndpointStatus{}, false
}

// leaseOn picks until it is handed addr, holding the other leases meanwhile
// (so load-aware policies turn to addr) and ending them as cancelled, which
// changes no health. It reports false if addr never comes.
func leaseOn(p *lb.Pool, addr string) (lb.Lease, bool) {
	var others []lb.Lease
	defer func() {
		for i := range others {
			others[i].Done(context.Canceled)
		}
	}()
	for range 20000 {
		l, err := p.Pick()
		if err != nil {
			return lb.Lease{}, false
		}
		if l.Endpoint() == addr {
			return l, true
		}
		others = append(others, l)
	}
	return lb.Lease{}, false
}

// maxEjected is how many of n endpoints Config.MaxEjectedPercent lets be
// ejected at once, as Config documents it: pct of n rounded up, but below
// 100 at least one and never all.
func maxEjected(pct, n int) int {
	if pct >= 100 {
		return n
	}
	return min(max((n*pct+99)/100, 1), n-1)
}

// penalty is the nominal cooldown of the k-th ejection in a row: ejectFor
// doubled k-1 times, capped at maxEjectFor.
func penalty(ejectFor, maxEjectFor int64, k int) int64 {
	d := ejectFor
	for range k - 1 {
		if d >= maxEjectFor {
			break
		}
		d *= 2
	}
	return min(d, maxEjectFor)
}

// numPolicies counts the policies lb defines, so that new ones are fuzzed
// as soon as they exist.
func numPolicies() int { return len(lb.Policies()) }

// mustNew is lb.New that fails the test on an error.
func mustNew(t *testing.T, cfg lb.Config, addrs ...string) *lb.Pool {
	t.Helper()
	p, err := lb.New(cfg, addrs...)
	if err != nil {
		t.Fatalf("New(%+v, %q): %v", cfg, addrs, err)
	}
	return p
}
