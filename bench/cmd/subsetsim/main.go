// Command subsetsim simulates subsetting: N clients each connect to a
// subset of k of M backends, chosen by each of nanolb's internal/subset
// rules and by a baseline of subsets drawn at random, and it prints one
// Markdown table row per rule. No network: it counts connections.
//
// Usage:
//
//	go run ./cmd/subsetsim [-clients 1000] [-backends 300] [-k 30] [-seed 1]
//
// Columns:
//
//   - max/mean, min/mean, p95/mean: connections per backend over the
//     mean, N·k/M (p95 is the nearest-rank 95th percentile).
//   - add, remove: subset entries changed (entries a client gains, summed
//     over clients) when one backend joins or the middle backend (by
//     address) leaves, and that as a multiple of the minimum: N·k/(M+1)
//     entries must move onto a joining backend for an even load, and
//     N·k/M entries leave a departing one on average.
//   - rolling: every backend removed then re-added, one at a time, from
//     the full membership: the worst max/mean seen with one backend out,
//     and the entries changed in all as a multiple of the minimum 2·N·k.
//
// Clients are numbered 0 to N-1, the identity the deterministic and ring
// rules expect. The random baseline gives client i subset k of a shuffle
// seeded by (seed, i), redrawn at every membership change; -seed also
// varies the backends' addresses.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/nanolb/nanolb/internal/subset"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is one simulation's sizes.
type config struct {
	clients, backends, k int
	seed                 uint64
}

// run parses args, simulates every rule and prints the table to out.
func run(args []string, out, errw io.Writer) int {
	fs := flag.NewFlagSet("subsetsim", flag.ContinueOnError)
	fs.SetOutput(errw)
	var c config
	fs.IntVar(&c.clients, "clients", 1000, "number of clients N")
	fs.IntVar(&c.backends, "backends", 300, "number of backends M")
	fs.IntVar(&c.k, "k", 30, "subset size k")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the random baseline and of the backends' addresses")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.clients < 1 || c.backends < 2 || c.k < 1 || c.k >= c.backends {
		fmt.Fprintln(errw, "subsetsim: need clients >= 1, backends >= 2 and 1 <= k < backends")
		return 2
	}
	fmt.Fprintf(out, "N=%d clients, M=%d backends, k=%d, seed=%d\n\n", c.clients, c.backends, c.k, c.seed)
	fmt.Fprintln(out, "| rule | max/mean | min/mean | p95/mean | add: entries (× min) | remove: entries (× min) | rolling: worst max/mean | rolling: entries (× min) |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	for _, r := range rules(c.seed) {
		s := simulate(c, r)
		fmt.Fprintf(out, "| %s | %.3f | %.3f | %.3f | %d (%.2f×) | %d (%.2f×) | %.3f | %d (%.2f×) |\n",
			r.name, s.max, s.min, s.p95, s.add, s.addX, s.remove, s.removeX, s.rollMax, s.roll, s.rollX)
	}
	return 0
}

// rule is a subsetting rule: prepare is called once per membership and
// returns the function giving each client's subset of it.
type rule struct {
	name    string
	prepare func(backends []string, k int) func(client uint64) []string
}

// rules returns the rules compared, the random baseline first.
func rules(seed uint64) []rule {
	return []rule{
		{"random", func(b []string, k int) func(uint64) []string {
			return func(c uint64) []string {
				s := slices.Clone(b)
				r := rand.New(rand.NewPCG(seed, c))
				r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
				return s[:k]
			}
		}},
		{"deterministic", func(b []string, k int) func(uint64) []string {
			return func(c uint64) []string { return subset.Deterministic(c, b, k) }
		}},
		{"rendezvous", func(b []string, k int) func(uint64) []string {
			return func(c uint64) []string { return subset.Rendezvous(c, b, k) }
		}},
		{"ring", func(b []string, k int) func(uint64) []string {
			r := subset.NewRing(b)
			return func(c uint64) []string { return r.Subset(c, k) }
		}},
	}
}

// stats is one rule's results.
type stats struct {
	max, min, p95        float64
	add, remove, roll    int
	addX, removeX, rollX float64
	rollMax              float64
}

// simulate runs every scenario of c under rule r.
func simulate(c config, r rule) stats {
	all := make([]string, c.backends+1)
	for i := range all {
		all[i] = fmt.Sprintf("10.%d.%d.%d:8080", c.seed%256, i/256, i%256)
	}
	base := all[:c.backends]
	extra := all[c.backends:]
	assign := func(b []string) [][]string {
		f := r.prepare(b, c.k)
		out := make([][]string, c.clients)
		for i := range out {
			out[i] = f(uint64(i))
		}
		return out
	}
	var s stats
	full := assign(base)
	s.max, s.min, s.p95 = balance(full, base, c)

	grown := assign(append(slices.Clone(base), extra...))
	s.add = changed(full, grown)
	s.addX = float64(s.add) / (float64(c.clients*c.k) / float64(c.backends+1))

	without := func(i int) []string { return slices.Delete(slices.Clone(base), i, i+1) }
	mid := c.backends / 2
	s.remove = changed(full, assign(without(mid)))
	s.removeX = float64(s.remove) / (float64(c.clients*c.k) / float64(c.backends))

	for i := range base {
		b := without(i)
		less := assign(b)
		s.roll += changed(full, less) + changed(less, full)
		m, _, _ := balance(less, b, c)
		s.rollMax = max(s.rollMax, m)
	}
	s.rollX = float64(s.roll) / float64(2*c.clients*c.k)
	return s
}

// balance returns the max, min and p95 of connections per backend of
// subsets over backends, each over the mean.
func balance(subsets [][]string, backends []string, c config) (maxR, minR, p95R float64) {
	load := make(map[string]int, len(backends))
	for _, b := range backends {
		load[b] = 0
	}
	for _, s := range subsets {
		for _, b := range s {
			load[b]++
		}
	}
	counts := make([]int, 0, len(load))
	for _, n := range load {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	mean := float64(c.clients*c.k) / float64(len(backends))
	p95 := counts[int(math.Ceil(0.95*float64(len(counts))))-1]
	return float64(counts[len(counts)-1]) / mean, float64(counts[0]) / mean, float64(p95) / mean
}

// changed returns the entries the clients' subsets in to hold that their
// subsets in from did not, summed over clients.
func changed(from, to [][]string) int {
	n := 0
	for i := range from {
		for _, b := range to[i] {
			if !slices.Contains(from[i], b) {
				n++
			}
		}
	}
	return n
}
