package gradient_test

import (
	"fmt"
	"time"

	"github.com/nanolb/nanolb/internal/gradient"
)

// A server that serves 8 requests at once in 80 ms and queues the rest:
// the limit finds its capacity from latency alone.
func Example() {
	l := gradient.New(gradient.Config{}, nil)
	for range 100 {
		n := l.Current()
		latency := 80 * time.Millisecond * time.Duration(max(n, 8)) / 8
		done := int(time.Duration(n) * 100 * time.Millisecond / latency)
		l.Update(gradient.Window{Length: 100 * time.Millisecond, Completed: done, Latency: latency * time.Duration(done), InFlight: n, Peak: n})
	}
	fmt.Println("minRTT:", l.MinRTT())
	fmt.Println("limit between 8 and 16:", l.Current() >= 8 && l.Current() <= 16)
	// Output:
	// minRTT: 80ms
	// limit between 8 and 16: true
}
