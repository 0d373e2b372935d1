package retrybudget

import (
	"testing"
	"testing/synctest"
	"time"
)

// drain withdraws until the budget refuses, returning how many it granted
// (at most limit).
func drain(b *Budget, limit int) int {
	for n := range limit {
		if !b.Withdraw() {
			return n
		}
	}
	return limit
}

// The budget grants ten seconds of its rate at first, the ratio of each
// request, the rate over time, and never more than the cap.
func TestBudgetGrantsTheRatioTheRateAndNoMoreThanTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Budget
		b.Init(0.2, 10)
		if n := drain(&b, 1000); n != 100 {
			t.Fatalf("a fresh bucket granted %d attempts, want 100 (ten seconds of 10/s)", n)
		}
		for range 50 {
			b.Deposit()
		}
		if n := drain(&b, 1000); n != 10 {
			t.Fatalf("50 requests at 20%% earned %d attempts, want 10", n)
		}
		time.Sleep(time.Second)
		if n := drain(&b, 1000); n != 10 {
			t.Fatalf("one quiet second earned %d attempts, want 10", n)
		}
		time.Sleep(500 * time.Millisecond)
		for range 25 {
			b.Deposit()
		}
		if n := drain(&b, 1000); n != 10 {
			t.Fatalf("half a second and 25 requests earned %d attempts, want 5 + 5", n)
		}
		time.Sleep(time.Hour)
		for range 100_000 {
			b.Deposit()
		}
		if n := drain(&b, 100_000); n != 100 {
			t.Fatalf("an hour and 100,000 requests earned %d attempts, want the cap, 100", n)
		}
	})
}

// A rate under a tenth of an attempt a second still leaves room for one.
func TestBudgetHoldsOneAttemptAtLeast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Budget
		b.Init(0.001, 0.01)
		if n := drain(&b, 10); n != 1 {
			t.Fatalf("a fresh bucket at 0.01/s granted %d attempts, want 1", n)
		}
	})
}

// A refunded token is there for the next attempt.
func TestRefundGivesTheTokenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Budget
		b.Init(0.2, 0.1) // one attempt's room
		if !b.Withdraw() || b.Withdraw() {
			t.Fatal("want exactly one attempt in a fresh bucket of one")
		}
		b.Refund()
		if !b.Withdraw() {
			t.Fatal("the refunded token was not there")
		}
	})
}
