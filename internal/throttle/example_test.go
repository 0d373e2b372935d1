package throttle_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/throttle"
)

// A client whose backends accept everything is never throttled; once they
// reject, the probability of shedding a request locally rises by the rule.
func Example() {
	th := throttle.New(throttle.DefaultK)
	for range 10 {
		if th.Allow() {
			th.Record(true)
		}
	}
	fmt.Println(th.Counts())
	fmt.Printf("%.2f\n", th.Probability())

	for range 20 { // allowed: 30 requests, 10 accepted, K·10 = 20
		if th.Allow() {
			th.Record(false)
		}
	}
	fmt.Printf("%.2f\n", th.Probability()) // (30 − 2·10) / 31
	// Output:
	// 10 10
	// 0.00
	// 0.32
}

// Stats reads the window's counts and the rejections so far, for
// monitoring: the requests include those the throttle rejected.
func ExampleThrottle_Stats() {
	th := throttle.New(throttle.DefaultK)
	for i := range 6 { // 3 accepted, 3 rejected by the backends: nothing shed yet
		if th.Allow() {
			th.Record(i%2 == 0)
		}
	}
	fmt.Printf("%+v\n", th.Stats())
	// Output:
	// {Requests:6 Accepts:3 Rejected:0}
}
