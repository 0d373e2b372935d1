// Command zonesim simulates zone-aware routing over a fleet: N clients,
// each with its own lb.Pool (Config.Zones, with and without
// Config.Subset), over M backends spread evenly over zones a, b and c, the
// clients spread 20/40/40. No network and no picks: each client's
// expected traffic split is read from its pool (Pool.ZoneStatus().Shares,
// spread evenly over its members in each zone; zone-blind, evenly over all
// its members), every client sending the same traffic, and the members
// from Pool.Endpoints().
//
// Usage:
//
//	go run ./cmd/zonesim [-clients 1000] [-backends 300] [-k 30] [-restarts 6]
//
// It prints three Markdown tables:
//
//   - zone routing: for subsets of k and no subset, with the fleet's
//     shares (lb.NewClientShares) and without (Clients nil): the share of
//     the fleet's traffic that leaves its client's zone beside Envoy's
//     formula, the sum over zones of max(0, clients' share - backends'
//     share); expected requests per backend over the mean; each zone's
//     backends' mean load over the mean.
//   - the same after zone b loses half its backends, removed from every
//     pool by Set.
//   - membership changes with Subset and Zones (fleet shares): backends
//     M → M+M/10 → M, and a rolling restart (a backend removed by Set,
//     then the full list Set again) of -restarts backends spread evenly
//     over the list (0: all M). Entries changed are the backends a
//     client's members gain, summed over clients; the minimum is what the
//     change forces: N·k·added/(M+added) entries onto joining backends,
//     and the entries held on leaving ones. Worst balances are over every
//     state the change passes through.
//
// Clients are numbered 0 to N-1 (Subset.Client), client i in zone a when
// i mod 5 is 0, b when it is 1 or 2, c otherwise; backend j is in zone a,
// b or c as j mod 3 is 0, 1 or 2.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/nanolb/nanolb/lb"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is one simulation's sizes.
type config struct {
	clients, backends, k, restarts int
}

// zones are the simulated zones; clientShare is the fleet's clients in each.
var (
	zones       = []string{"a", "b", "c"}
	clientShare = map[string]float64{"a": 0.2, "b": 0.4, "c": 0.4}
)

// run parses args, simulates and prints the tables to out.
func run(args []string, out, errw io.Writer) int {
	fs := flag.NewFlagSet("zonesim", flag.ContinueOnError)
	fs.SetOutput(errw)
	var c config
	fs.IntVar(&c.clients, "clients", 1000, "number of clients N")
	fs.IntVar(&c.backends, "backends", 300, "number of backends M")
	fs.IntVar(&c.k, "k", 30, "subset size k")
	fs.IntVar(&c.restarts, "restarts", 6, "backends restarted in turn in the rolling restart, spread evenly (0: all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.clients < 5 || c.backends < 30 || c.k < 6 || c.k >= c.backends || c.restarts < 0 || c.restarts > c.backends {
		fmt.Fprintln(errw, "zonesim: need clients >= 5, backends >= 30, 6 <= k < backends and 0 <= restarts <= backends")
		return 2
	}
	if c.restarts == 0 {
		c.restarts = c.backends
	}
	r, err := simulate(c)
	if err != nil {
		fmt.Fprintln(errw, "zonesim:", err)
		return 1
	}
	r.print(out, c)
	return 0
}

// backend is backend j's endpoint.
func backend(j int) lb.Endpoint {
	return lb.Endpoint{Addr: fmt.Sprintf("10.0.%d.%d:8080", j/256, j%256), Zone: zones[j%3]}
}

// clientZone is client i's zone: 20/40/40.
func clientZone(i int) string {
	return [...]string{"a", "b", "b", "c", "c"}[i%5]
}

// fleet is one pool per client, all of one config.
type fleet struct {
	name  string
	k     int  // subset size; 0 is none
	fleet bool // Zones.Clients is the fleet's shares; else nil
	pools []*lb.Pool
}

// parallel runs f(i) for i in 0..n-1 on every CPU.
func parallel(n int, f func(i int) error) error {
	w := runtime.GOMAXPROCS(0)
	errs := make([]error, w)
	var wg sync.WaitGroup
	for g := range w {
		wg.Go(func() {
			for i := g; i < n; i += w {
				if err := f(i); err != nil && errs[g] == nil {
					errs[g] = err
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// newFleet builds n pools over eps.
func newFleet(name string, n, k int, shares *lb.ClientShares, eps []lb.Endpoint) (*fleet, error) {
	f := &fleet{name: name, k: k, fleet: shares != nil, pools: make([]*lb.Pool, n)}
	err := parallel(n, func(i int) error {
		cfg := lb.Config{Zones: lb.Zones{Local: clientZone(i), Clients: shares}}
		if k > 0 {
			cfg.Subset = lb.Subset{Size: k, Client: uint64(i)}
		}
		p, err := lb.NewWeighted(cfg, eps...)
		f.pools[i] = p
		return err
	})
	return f, err
}

func (f *fleet) set(eps []lb.Endpoint) error {
	return parallel(len(f.pools), func(i int) error { return f.pools[i].Set(eps...) })
}

func (f *fleet) close() {
	for _, p := range f.pools {
		if p != nil {
			p.Close()
		}
	}
}

// client is one pool's state: its members' addresses, sorted, and the
// share of the client's traffic each receives.
type client struct {
	members []string
	load    map[string]float64
	away    float64 // share of the traffic leaving the client's zone
	active  bool
}

// snapshot reads every pool of f.
func (f *fleet) snapshot() []client {
	out := make([]client, len(f.pools))
	_ = parallel(len(f.pools), func(i int) error {
		p := f.pools[i]
		eps := p.Endpoints()
		st := p.ZoneStatus()
		inZone := map[string]int{}
		for _, e := range eps {
			inZone[e.Zone]++
		}
		c := client{load: make(map[string]float64, len(eps)), active: st.Active}
		for _, e := range eps {
			c.members = append(c.members, e.Addr)
			if st.Active {
				c.load[e.Addr] = st.Shares[e.Zone] / float64(inZone[e.Zone])
			} else {
				c.load[e.Addr] = 1 / float64(len(eps))
			}
			if e.Zone != clientZone(i) {
				c.away += c.load[e.Addr]
			}
		}
		slices.Sort(c.members)
		out[i] = c
		return nil
	})
	return out
}

// balance is a fleet state's traffic and connections over backends.
type balance struct {
	active, clients int     // clients routing by zone, of all
	cross, formula  float64 // share of the traffic leaving its zone; Envoy's prediction
	max, min        float64 // expected requests per backend over the mean
	zone            map[string]float64
	connMax         float64 // connections per backend over the mean
	cnt             int     // backends
	zoneMin, zoneMx float64 // lowest and highest zone mean load
}

// measure aggregates clients over backends eps.
func measure(clients []client, eps []lb.Endpoint) balance {
	load := make(map[string]float64, len(eps))
	conns := make(map[string]int, len(eps))
	perZone := map[string]int{}
	for _, e := range eps {
		load[e.Addr], conns[e.Addr] = 0, 0
		perZone[e.Zone]++
	}
	var b balance
	for _, c := range clients {
		if c.active {
			b.active++
		}
		b.cross += c.away
		for a, l := range c.load {
			load[a] += l
			conns[a]++
		}
	}
	n := float64(len(clients))
	b.cross /= n
	b.clients = len(clients)
	for _, z := range zones {
		b.formula += max(0, clientShare[z]-float64(perZone[z])/float64(len(eps)))
	}
	mean := n / float64(len(eps))
	connMean := 0.0
	for _, k := range conns {
		connMean += float64(k)
	}
	connMean /= float64(len(eps))
	b.min, b.zone, b.cnt = math.Inf(1), map[string]float64{}, len(eps)
	for _, e := range eps {
		l := load[e.Addr] / mean
		b.max, b.min = max(b.max, l), min(b.min, l)
		b.zone[e.Zone] += l / float64(perZone[e.Zone])
		b.connMax = max(b.connMax, float64(conns[e.Addr])/connMean)
	}
	b.zoneMin = math.Inf(1)
	for _, z := range zones {
		b.zoneMin, b.zoneMx = min(b.zoneMin, b.zone[z]), max(b.zoneMx, b.zone[z])
	}
	return b
}

// changed returns the entries the clients' members in to have that their
// members in from did not, summed over clients, and the entries in from
// on backends that are not in eps (which must move).
func changed(from, to []client, eps []lb.Endpoint) (gained, forced int) {
	in := make(map[string]bool, len(eps))
	for _, e := range eps {
		in[e.Addr] = true
	}
	for i := range from {
		for _, a := range to[i].members {
			if _, ok := slices.BinarySearch(from[i].members, a); !ok {
				gained++
			}
		}
		for _, a := range from[i].members {
			if !in[a] {
				forced++
			}
		}
	}
	return gained, forced
}

// churn is one membership change's results.
type churn struct {
	name             string
	gained           int
	minimum          float64
	connMax, loadMax float64 // worst over the states passed through
	crossMax         float64
	zoneSpread       float64 // worst (highest zone mean)/(lowest zone mean)
}

func (c *churn) see(b balance) {
	c.connMax, c.loadMax = max(c.connMax, b.connMax), max(c.loadMax, b.max)
	c.crossMax = max(c.crossMax, b.cross)
	c.zoneSpread = max(c.zoneSpread, b.zoneMx/b.zoneMin)
}

// results is everything the tables show.
type results struct {
	routing, loss []row
	churns        []churn
}

// row is one fleet's balance.
type row struct {
	name string
	b    balance
}

// simulate runs every scenario of c.
func simulate(c config) (*results, error) {
	grown := c.backends + c.backends/10
	all := make([]lb.Endpoint, grown)
	for j := range all {
		all[j] = backend(j)
	}
	base := all[:c.backends]
	// Zone b loses half its backends: the first half of them by index.
	var halfB []lb.Endpoint
	lost := 0
	for _, e := range base {
		if e.Zone == "b" && lost < c.backends/3/2 {
			lost++
			continue
		}
		halfB = append(halfB, e)
	}
	shares, err := lb.NewClientShares(clientShare)
	if err != nil {
		return nil, err
	}
	var r results
	var keep *fleet // subset and fleet shares: the membership changes
	for _, spec := range []struct {
		k      int
		shares *lb.ClientShares
	}{{c.k, shares}, {c.k, nil}, {0, shares}, {0, nil}} {
		name := fmt.Sprintf("subset %d, ", spec.k)
		if spec.k == 0 {
			name = "no subset, "
		}
		if spec.shares != nil {
			name += "fleet shares"
		} else {
			name += "Clients nil"
		}
		f, err := newFleet(name, c.clients, spec.k, spec.shares, base)
		if err != nil {
			return nil, err
		}
		r.routing = append(r.routing, row{name, measure(f.snapshot(), base)})
		if err := f.set(halfB); err != nil {
			return nil, err
		}
		r.loss = append(r.loss, row{name, measure(f.snapshot(), halfB)})
		if keep == nil {
			keep = f
			continue
		}
		f.close()
	}
	defer keep.close()
	if err := keep.set(base); err != nil {
		return nil, err
	}
	start := keep.snapshot()

	// Resize: base → all → base.
	if err := keep.set(all); err != nil {
		return nil, err
	}
	big := keep.snapshot()
	g, _ := changed(start, big, all)
	up := churn{name: fmt.Sprintf("resize %d → %d", c.backends, grown), gained: g,
		minimum: float64(c.clients*c.k) * float64(grown-c.backends) / float64(grown)}
	up.see(measure(big, all))
	if err := keep.set(base); err != nil {
		return nil, err
	}
	back := keep.snapshot()
	g, forced := changed(big, back, base)
	down := churn{name: fmt.Sprintf("resize %d → %d", grown, c.backends), gained: g, minimum: float64(forced)}
	down.see(measure(back, base))

	// Rolling restart of c.restarts backends spread over base.
	roll := churn{name: fmt.Sprintf("rolling restart, %d of %d backends", c.restarts, c.backends)}
	if c.restarts == c.backends {
		roll.name = fmt.Sprintf("rolling restart, all %d backends", c.backends)
	}
	prev := back
	for s := range c.restarts {
		j := s * c.backends / c.restarts
		without := slices.Delete(slices.Clone(base), j, j+1)
		if err := keep.set(without); err != nil {
			return nil, err
		}
		out := keep.snapshot()
		g, forced := changed(prev, out, without)
		roll.gained += g
		roll.minimum += 2 * float64(forced) // its holders leave, and as many must come back
		roll.see(measure(out, without))
		if err := keep.set(base); err != nil {
			return nil, err
		}
		prev = keep.snapshot()
		g, _ = changed(out, prev, base)
		roll.gained += g
		roll.see(measure(prev, base))
	}
	r.churns = []churn{up, down, roll}
	return &r, nil
}

// print writes the tables.
func (r *results) print(w io.Writer, c config) {
	fmt.Fprintf(w, "N=%d clients (zones a/b/c: 20/40/40), M=%d backends (33/33/33), k=%d, policy P2C\n\n", c.clients, c.backends, c.k)
	fmt.Fprintln(w, "Zone routing, every backend up:")
	fmt.Fprintln(w)
	printBalances(w, r.routing)
	fmt.Fprintf(w, "\nZone b loses half its backends (%d of %d, removed from every pool by Set):\n\n", c.backends/3/2, c.backends/3)
	printBalances(w, r.loss)
	fmt.Fprintf(w, "\nMembership changes, subset %d and fleet shares:\n\n", c.k)
	fmt.Fprintln(w, "| change | entries changed (× min) | worst connections max/mean | worst requests max/mean | worst zone means max/min | worst cross-zone |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, ch := range r.churns {
		fmt.Fprintf(w, "| %s | %d (%.2f×) | %.3f | %.3f | %.3f | %.1f%% |\n",
			ch.name, ch.gained, float64(ch.gained)/ch.minimum, ch.connMax, ch.loadMax, ch.zoneSpread, 100*ch.crossMax)
	}
}

func printBalances(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| pools | clients routing by zone | cross-zone | Envoy's formula | requests max/mean | min/mean | zone a | zone b | zone c |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		b := r.b
		fmt.Fprintf(w, "| %s | %d of %d | %.1f%% | %.1f%% | %.3f | %.3f | %.3f | %.3f | %.3f |\n",
			r.name, b.active, b.clients, 100*b.cross, 100*b.formula, b.max, b.min, b.zone["a"], b.zone["b"], b.zone["c"])
	}
}
