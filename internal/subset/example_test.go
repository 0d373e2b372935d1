package subset_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/subset"
)

// Three clients' subsets of 2 of 6 backends by each rule. Deterministic
// deals clients 0 to 2 disjoint subsets: one round of one shuffle.
func Example() {
	backends := []string{"a:80", "b:80", "c:80", "d:80", "e:80", "f:80"}
	ring := subset.NewRing(backends)
	for c := range uint64(3) {
		fmt.Println(c, subset.Deterministic(c, backends, 2), subset.Rendezvous(c, backends, 2), ring.Subset(c, 2))
	}
	// Output:
	// 0 [a:80 c:80] [b:80 c:80] [b:80 d:80]
	// 1 [b:80 f:80] [d:80 f:80] [a:80 d:80]
	// 2 [d:80 e:80] [c:80 f:80] [c:80 e:80]
}
