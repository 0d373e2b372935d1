package race_test

import (
	"fmt"
	"testing"

	"github.com/nanolb/nanolb/internal/race"
)

// raceBuild is set by the race_on_test.go file that only a -race build
// compiles, so Enabled is checked against the build, not against itself.
var raceBuild bool

func TestEnabledMatchesTheBuild(t *testing.T) {
	if race.Enabled != raceBuild {
		t.Fatalf("Enabled = %v in a build with the race detector %v", race.Enabled, raceBuild)
	}
}

// Code that the detector cannot follow takes a Go path under it.
func ExampleEnabled() {
	sum := func(xs []int) (n int) { // stands for an assembly kernel
		for _, x := range xs {
			n += x
		}
		return n
	}
	if race.Enabled {
		sum = func(xs []int) (n int) { // the Go path the detector can check
			for i := range xs {
				n += xs[i]
			}
			return n
		}
	}
	fmt.Println(sum([]int{1, 2, 3}))
	// Output: 6
}
