package retrybudget_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/retrybudget"
)

// A budget of 20% of requests and 1 a second: a fresh bucket holds ten
// seconds' worth, then requests earn a fifth of an attempt each.
func Example() {
	var b retrybudget.Budget
	b.Init(0.2, 1)
	granted := 0
	for b.Withdraw() {
		granted++
	}
	fmt.Println("fresh bucket:", granted)
	for range 10 {
		b.Deposit()
	}
	granted = 0
	for b.Withdraw() {
		granted++
	}
	fmt.Println("after 10 requests:", granted)
	// Output:
	// fresh bucket: 10
	// after 10 requests: 2
}
