package subset

import (
	"fmt"
	"math/big"
	"slices"
	"testing"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// rules are the package's rules under test, by name.
var rules = []struct {
	name string
	f    func(client uint64, backends []string, size int) []string
}{
	{"Deterministic", Deterministic},
	{"Rendezvous", Rendezvous},
	{"Consistent", Consistent},
}

func addrs(n int) []string {
	b := make([]string, n)
	for i := range b {
		b[i] = fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)
	}
	return b
}

func TestEveryRuleGivesASortedSetOfSizeFromTheBackends(t *testing.T) {
	for _, r := range rules {
		for _, n := range []int{1, 2, 7, 30, 100} {
			for _, size := range []int{-1, 0, 1, 3, 10, n, n + 5} {
				t.Run(fmt.Sprintf("%s/n=%d/size=%d", r.name, n, size), func(t *testing.T) {
					b := addrs(n)
					want := min(max(size, 0), n)
					for c := range uint64(50) {
						got := r.f(c, b, size)
						if len(got) != want {
							t.Fatalf("client %d: %d backends, want %d", c, len(got), want)
						}
						if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
							t.Fatalf("client %d: %v not sorted and distinct", c, got)
						}
						for _, a := range got {
							if !slices.Contains(b, a) {
								t.Fatalf("client %d: %q is not a backend", c, a)
							}
						}
					}
				})
			}
		}
	}
}

func TestEveryRuleIgnoresTheOrderAndDuplicatesOfBackends(t *testing.T) {
	b := addrs(40)
	shuffled := slices.Clone(b)
	slices.Reverse(shuffled)
	shuffled = append(shuffled, b[3], b[17])
	for _, r := range rules {
		for c := range uint64(20) {
			if got, want := r.f(c, shuffled, 7), r.f(c, b, 7); !slices.Equal(got, want) {
				t.Fatalf("%s client %d: %v from shuffled backends, %v from sorted", r.name, c, got, want)
			}
		}
	}
}

func TestEveryRuleGivesDifferentClientsDifferentSubsets(t *testing.T) {
	b := addrs(100)
	for _, r := range rules {
		seen := map[string]bool{}
		for c := range uint64(10) {
			seen[fmt.Sprint(r.f(c, b, 10))] = true
		}
		if len(seen) < 9 {
			t.Errorf("%s: 10 clients share %d subsets", r.name, len(seen))
		}
	}
}

// Pinned subsets: a change here changes every deployment's subsets, and
// other languages reproduce these values.
func TestSubsetsArePinned(t *testing.T) {
	b := addrs(12)
	for _, tc := range []struct {
		name string
		got  []string
		want string
	}{
		{"Deterministic client 0", Deterministic(0, b, 3), "[10.0.0.11:80 10.0.0.2:80 10.0.0.4:80]"},
		{"Deterministic client 5", Deterministic(5, b, 3), "[10.0.0.11:80 10.0.0.3:80 10.0.0.5:80]"},
		{"Rendezvous client 0", Rendezvous(0, b, 3), "[10.0.0.0:80 10.0.0.7:80 10.0.0.8:80]"},
		{"Consistent client 0", Consistent(0, b, 3), "[10.0.0.6:80 10.0.0.8:80 10.0.0.9:80]"},
	} {
		if got := fmt.Sprint(tc.got); got != tc.want {
			t.Errorf("%s: %s, pinned %s", tc.name, got, tc.want)
		}
	}
}

func TestDeterministicLoadsEveryBackendEquallyWhenSizeDividesBackends(t *testing.T) {
	for _, tc := range []struct{ n, size, rounds int }{{12, 3, 1}, {12, 3, 5}, {300, 30, 100}, {30, 30, 7}, {64, 8, 3}} {
		t.Run(fmt.Sprintf("n=%d/size=%d/rounds=%d", tc.n, tc.size, tc.rounds), func(t *testing.T) {
			b := addrs(tc.n)
			load := map[string]int{}
			clients := tc.rounds * tc.n / tc.size
			for c := range uint64(clients) {
				for _, a := range Deterministic(c, b, tc.size) {
					load[a]++
				}
			}
			for _, a := range b {
				if load[a] != tc.rounds {
					t.Fatalf("%s holds %d connections, want %d", a, load[a], tc.rounds)
				}
			}
		})
	}
}

// The consistent rules move only what membership forces: adding a backend
// changes only the subsets that gain it, by that one entry, and removing
// one changes only the subsets that held it, by one entry.
func TestConsistentRulesMoveOnlyTheSubsetsThatGainOrLoseTheBackend(t *testing.T) {
	const clients, n, size = 300, 60, 8
	b := addrs(n + 1)
	for _, r := range rules[1:] {
		for _, change := range []struct {
			name           string
			before, after  []string
			backend        string
			addedOrRemoved bool // true: added
		}{
			{"add", b[:n], b, b[n], true},
			{"remove first", b[:n], b[1:n], b[0], false},
			{"remove middle", b[:n], slices.Delete(slices.Clone(b[:n]), n/2, n/2+1), b[n/2], false},
		} {
			t.Run(r.name+"/"+change.name, func(t *testing.T) {
				moved := 0
				for c := range uint64(clients) {
					old, cur := r.f(c, change.before, size), r.f(c, change.after, size)
					gained := diff(cur, old)
					lost := diff(old, cur)
					holder := slices.Contains(cur, change.backend)
					if !change.addedOrRemoved {
						holder = slices.Contains(old, change.backend)
					}
					switch {
					case !holder && (len(gained) > 0 || len(lost) > 0):
						t.Fatalf("client %d changed (+%v -%v) though it neither gains nor loses %s", c, gained, lost, change.backend)
					case holder && (len(gained) != 1 || len(lost) != 1):
						t.Fatalf("client %d changed +%v -%v, want one entry", c, gained, lost)
					case holder:
						moved++
					}
				}
				if moved == 0 {
					t.Fatalf("no client's subset changed")
				}
			})
		}
	}
}

// diff returns the entries of a not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Ring spreads 1,000 densely numbered clients over 300 backends with no
// backend over 1.25 times the mean, where subsets at random reach about 1.3.
func TestRingBalancesDenseClients(t *testing.T) {
	const clients, n, size = 1000, 300, 30
	r := NewRing(addrs(n))
	load := map[string]int{}
	for c := range uint64(clients) {
		for _, a := range r.Subset(c, size) {
			load[a]++
		}
	}
	mean := float64(clients*size) / n
	for a, l := range load {
		if float64(l) > 1.25*mean {
			t.Errorf("%s holds %d connections, %.2f times the mean", a, l, float64(l)/mean)
		}
	}
}

func TestZeroRingHasNoSubsets(t *testing.T) {
	var r Ring
	if got := r.Subset(3, 5); got != nil {
		t.Fatalf("zero Ring gave %v", got)
	}
}

// refDeterministic follows Deterministic's doc step by step, with big
// integers for the 128-bit product: the independent reference.
func refDeterministic(client uint64, sorted []string, size int) []string {
	b := slices.Clone(sorted)
	per := uint64(len(b) / size)
	round, slot := client/per, client%per
	s := new(big.Int).SetUint64(round)
	mod := new(big.Int).Lsh(big.NewInt(1), 64)
	for i := len(b) - 1; i >= 1; i-- {
		s.Add(s, new(big.Int).SetUint64(0x9e3779b97f4a7c15)).Mod(s, mod)
		x := new(big.Int).SetUint64(keyhash.Mix64(s.Uint64()))
		j := x.Mul(x, big.NewInt(int64(i+1))).Rsh(x, 64).Int64()
		b[i], b[j] = b[j], b[i]
	}
	out := b[slot*uint64(size) : (slot+1)*uint64(size)]
	slices.Sort(out)
	return out
}

func TestDeterministicFollowsItsSpecification(t *testing.T) {
	for _, n := range []int{2, 5, 12, 100} {
		b := addrs(n)
		slices.Sort(b)
		for _, size := range []int{1, 2, n / 2, n - 1} {
			for c := range uint64(40) {
				if got, want := Deterministic(c, b, size), refDeterministic(c, b, size); !slices.Equal(got, want) {
					t.Fatalf("n=%d size=%d client %d: %v, the specification gives %v", n, size, c, got, want)
				}
			}
		}
	}
}
