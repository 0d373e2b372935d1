// Package testkit holds the test helpers that nanolb's packages and its
// nested modules share: polling for a condition that real servers and
// goroutines bring about, and checking that a test leaves no goroutine
// behind. It imports only the standard library, so any module's tests may
// use it.
package testkit

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// pollEvery is how often Eventually and NoGoroutinesLeft look again.
const pollEvery = time.Millisecond

// Eventually polls cond until it holds, and fails t with what if it does
// not within limit. It orders a test's steps on the real clock; it asserts
// no timing.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(pollEvery)
	}
}

// NoGoroutinesLeft fails t if goroutines started during it are still
// running limit after it ends, printing their stacks. Call it first in a
// test, so that its check runs after every cleanup registered later
// (servers stopped, connections closed).
func NoGoroutinesLeft(t testing.TB, limit time.Duration) {
	t.Helper()
	before := Stacks()
	t.Cleanup(func() {
		var extra []string
		for deadline := time.Now().Add(limit); ; time.Sleep(pollEvery) {
			extra = extra[:0]
			for id, stack := range Stacks() {
				if _, ok := before[id]; !ok {
					extra = append(extra, stack)
				}
			}
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(extra) > 0 {
			t.Errorf("%d goroutines left behind:\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
	})
}

// Stacks returns every goroutine's stack but the caller's, by goroutine id.
func Stacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	m := make(map[string]string)
	for i, g := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the caller
		}
		header, _, _ := bytes.Cut(g, []byte("\n"))
		if fields := strings.Fields(string(header)); len(fields) >= 2 { // goroutine 12 [running]:
			m[fields[1]] = string(g)
		}
	}
	return m
}

// CountStacks returns how many goroutines, the caller's aside, have a
// stack that mentions s.
func CountStacks(s string) int {
	n := 0
	for _, stack := range Stacks() {
		if strings.Contains(stack, s) {
			n++
		}
	}
	return n
}

// ThrottledAsSpecified fails t unless a client throttle with factor k
// (internal/throttle) sent about k times what the servers accepted (within
// a quarter plus 40: a round's accepts come before its rejections, so the
// sent run somewhat above) and shed nothing the servers could take: at
// least 80% of full, their capacity over the run.
func ThrottledAsSpecified(t testing.TB, k float64, sent, accepted, full int) {
	t.Helper()
	if want := k * float64(accepted); math.Abs(float64(sent)-want) > 0.25*want+40 {
		t.Errorf("%d sent for %d accepted, want about K × accepts = %.0f", sent, accepted, want)
	}
	if float64(accepted) < 0.8*float64(full) {
		t.Errorf("%d accepted of the servers' %d: the throttle shed what they could take", accepted, full)
	}
}
