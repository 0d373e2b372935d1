package quantile_test

import (
	"fmt"
	"time"

	"github.com/nanolb/nanolb/internal/quantile"
)

// A hedging client records each successful request's latency and sends a
// backup copy of a request once it has waited the p99: about 1% extra load.
func Example() {
	h, err := quantile.New(quantile.Options{})
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	// The sample of rank 990 is 990ms; the answer is its bucket's upper
	// end, at most 1/16 above it.
	fmt.Println(h.Quantile(0.99))
	fmt.Println(h.Quantile(0.5))
	// Output:
	// 1.00663296s true
	// 503.31648ms true
}

// Until the window holds MinSamples samples there is no answer, and the
// caller uses a fixed delay instead.
func ExampleHistogram_Quantile() {
	h, err := quantile.New(quantile.Options{MinSamples: 100})
	if err != nil {
		panic(err)
	}
	for range 99 {
		h.Record(20 * time.Millisecond)
	}
	delay, ok := h.Quantile(0.99)
	if !ok {
		delay = 50 * time.Millisecond
	}
	fmt.Println(delay, ok)
	// Output:
	// 50ms false
}
