package peers_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/bench/harness"
	"github.com/nanolb/nanolb/bench/peers"
)

// sizes are the endpoint counts benchmarked; 8 is the headline.
var sizes = []int{8, 64, 1024}

// impls is every implementation in one run: nanolb, the peers, the references.
func impls() []harness.Impl {
	all := append(harness.Nanolb(), peers.Impls()...)
	return append(all, harness.References()...)
}

// built caches balancers across the repeated calls a benchmark function gets
// (calibration, -count), so grpc's O(n²) READY walk at n=1024 runs once.
var built sync.Map // "impl/n" -> harness.Cycler

func build(tb testing.TB, impl harness.Impl, n int) harness.Cycler {
	tb.Helper()
	key := fmt.Sprintf("%s/%d", impl.Name, n)
	if c, ok := built.Load(key); ok {
		return c.(harness.Cycler)
	}
	c, err := impl.Build(harness.Addrs(n))
	if err != nil {
		tb.Fatalf("building %s over %d endpoints: %v", impl.Name, n, err)
	}
	built.Store(key, c)
	return c
}

func BenchmarkPickDone(b *testing.B) {
	for _, impl := range impls() {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("impl=%s/n=%d", impl.Name, n), func(b *testing.B) {
				harness.Serial(b, build(b, impl, n))
			})
		}
	}
}

func BenchmarkPickDoneParallel(b *testing.B) {
	for _, impl := range impls() {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("impl=%s/n=%d", impl.Name, n), func(b *testing.B) {
				harness.Parallel(b, build(b, impl, n))
			})
		}
	}
}

// TestEveryEndpointIsReached proves each driver really drives its balancer:
// over many cycles every endpoint is picked, and nothing else is.
func TestEveryEndpointIsReached(t *testing.T) {
	for _, impl := range impls() {
		if impl.Floor {
			continue
		}
		for _, n := range []int{1, 8, 64} {
			t.Run(fmt.Sprintf("%s spreads picks over %d endpoints", impl.Name, n), func(t *testing.T) {
				addrs := harness.Addrs(n)
				c, err := impl.Build(addrs)
				if err != nil {
					t.Fatal(err)
				}
				seen := make(map[string]int, n)
				for i := 0; i < 400*n; i++ {
					seen[c.Cycle()]++
				}
				for _, a := range addrs {
					if seen[a] == 0 {
						t.Errorf("endpoint %s never picked in %d cycles", a, 400*n)
					}
					delete(seen, a)
				}
				for a, k := range seen {
					t.Errorf("picked %q (%d times), which is not one of the endpoints", a, k)
				}
			})
		}
	}
}

// TestCyclesAreSafeConcurrently runs every driver from several goroutines,
// so that `go test -race` checks the drivers and the shared harness.
func TestCyclesAreSafeConcurrently(t *testing.T) {
	for _, impl := range impls() {
		t.Run(impl.Name+" survives concurrent cycles", func(t *testing.T) {
			c, err := impl.Build(harness.Addrs(8))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 2000; i++ {
						if c.Cycle() == "" {
							t.Error("empty address")
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
