package nanolb_test

import (
	"fmt"

	"github.com/nanolb/nanolb"
)

func ExampleSelect() {
	// Endpoints 1, 3 and 64 are healthy: bit i of word w is endpoint 64*w+i.
	healthy := []uint64{1<<1 | 1<<3, 1 << 0}
	for k := 0; k < 4; k++ {
		fmt.Println(k, nanolb.Select(healthy, k))
	}
	// Output:
	// 0 1
	// 1 3
	// 2 64
	// 3 -1
}

func ExamplePopCount() {
	healthy := []uint64{1<<1 | 1<<3, 1 << 0}
	fmt.Println(nanolb.PopCount(healthy))
	// Output: 3
}

func ExampleMinIndex() {
	inflight := []int64{4, 2, 7, 2}
	fmt.Println(nanolb.MinIndex(inflight)) // the first of the two 2s
	fmt.Println(nanolb.MinIndex(nil))
	// Output:
	// 1
	// -1
}

func ExampleFirstDue() {
	// Unix-nanosecond times at which ejected endpoints may be probed again.
	probeAt := []int64{1700, 1200, 900}
	fmt.Println(nanolb.FirstDue(probeAt, 1000))
	fmt.Println(nanolb.FirstDue(probeAt, 800))
	// Output:
	// 2
	// -1
}
