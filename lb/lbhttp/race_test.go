//go:build race

package lbhttp

// raceEnabled is true under the race detector, which makes each HTTP round
// trip several times slower: the load scenario then runs its short shape.
const raceEnabled = true
