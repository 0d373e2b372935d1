package perproc_test

import (
	"fmt"
	"sync"

	"github.com/nanolb/nanolb/internal/perproc"
)

// A count of work in flight, raised and lowered from many goroutines
// without a shared cache line; Load sums the stripes.
func ExampleSum() {
	inflight := perproc.NewSum()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				inflight.Add(1)
			}
			for range 40 {
				inflight.AddOn(perproc.Pin(), -1) // as a hot path does: pinned around AddOn
				perproc.Unpin()
			}
		})
	}
	wg.Wait()
	fmt.Println(inflight.Load())
	// Output: 240
}
