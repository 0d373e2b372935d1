package fanout_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/nanolb/nanolb/internal/fanout"
)

// Writers Put values; a sink receives them converted, in batches paced by
// its Options, through a deliver function that never blocks.
func ExampleHub() {
	var h fanout.Hub[int, string]
	h.Init(func(v int) string { return fmt.Sprint("event ", v) })
	go h.Run()
	defer h.Stop()

	batches := make(chan []string, 1)
	h.Add(fanout.Options{Interval: 10 * time.Millisecond, Chunk: 100, Buffer: 1000},
		func(batch []string, dropped int) bool {
			select {
			case batches <- batch: // taken
				return true
			default: // the last batch is still unread: try again next turn
				return false
			}
		})

	for i := range 3 {
		h.Put(i)
	}
	var got []string
	for len(got) < 3 {
		got = append(got, <-batches...)
	}
	fmt.Println(strings.Join(got, ", "))
	// Output: event 0, event 1, event 2
}
