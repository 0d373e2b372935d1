package waitq_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/waitq"
)

// Three workers wait for tickets; the caller grants them as they free,
// and the oldest waiter is served first.
func Example() {
	var q waitq.Queue[string]
	var waiters []*waitq.Waiter[string]
	for range 3 {
		w, err := q.Push(10, 0)
		if err != nil {
			panic(err)
		}
		waiters = append(waiters, w)
	}
	done := make(chan string)
	for i, w := range waiters {
		go func() {
			ticket := <-w.C()
			err := w.Finish()
			done <- fmt.Sprintf("waiter %d: %q %v", i, ticket, err)
		}()
	}
	for _, ticket := range []string{"A", "B"} {
		q.Grant(ticket)
		fmt.Println(<-done)
	}
	q.Close() // the last waiter is failed
	fmt.Println(<-done)
	fmt.Println(q.Len(), q.Granted())
	// Output:
	// waiter 0: "A" <nil>
	// waiter 1: "B" <nil>
	// waiter 2: "" waitq: closed
	// 0 2
}
