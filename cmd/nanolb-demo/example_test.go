package main

import (
	"fmt"
	"os"
	"time"
)

// The results table: one row per client, the backends' shares as columns,
// a dash where a client exposes no ejections or probes.
func Example() {
	backends := []backendSpec{{Name: "fast"}, {Name: "slow"}}
	writeTable(os.Stdout, backends, []summary{
		{Label: "nanolb p2c", Requests: 10000, Errors: 2, P50: 1500 * time.Microsecond, P99: 21 * time.Millisecond, P999: 140 * time.Millisecond,
			Share: []float64{0.8, 0.2}, Ejections: 3, Probes: 5},
		{Label: "naive", Requests: 8000, Errors: 800, P50: 4 * time.Millisecond, P99: 22 * time.Millisecond, P999: 30 * time.Millisecond,
			Share: []float64{0.5, 0.5}, Ejections: -1, Probes: -1},
	})
	// Output:
	//   client      requests  errors   err %  p50 ms  p99 ms  p99.9 ms  fast %  slow %  ejections  probes
	//   nanolb p2c     10000       2   0.020    1.50    21.0       140    80.0    20.0          3       5
	//   naive           8000     800  10.000    4.00    22.0      30.0    50.0    50.0          –       –
}

// A flapping backend's script: it fails for the first half of each period.
func Example_flapping() {
	for _, w := range flapping(0.2, 1, 4) {
		fmt.Printf("%.1f-%.1f %v\n", w.From, w.To, w.Kind)
	}
	// Output:
	// 0.2-0.3 answers 500
	// 0.4-0.5 answers 500
	// 0.6-0.7 answers 500
	// 0.8-0.9 answers 500
}
