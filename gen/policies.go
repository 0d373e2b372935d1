package main

// policy is one row of the generator's table: plain data naming what is
// mechanical about a policy. Its algorithm is hand-written Go in
// lb/<file>.go as methods on the generated table type:
//
//	pick() *core                          every policy
//	pickWith(r uint64) *core              if Draws: pick from a random word the caller drew
//	setup(prev *<ident>Table, env tableEnv) if Setup: per-table state
//	pickKey(h uint64) *core               if Keyed
//	begin(c *core) int64                  if Leases: per-lease state at Pick...
//	end(c *core, mark int64, err error)   ...and at Done, with begin's mark
//
// A policy with Totals has its leases counted in the pool's total in
// flight (counters.total), which the pool keeps at Pick and Done itself.
type policy struct {
	Name  string   // exported constant in lb, e.g. "P2C"
	Ident string   // lower-camel stem of the generated types, e.g. "p2c"
	Label string   // the policy's text name (String, MarshalText, ParsePolicy)
	Doc   []string // doc comment of the constant, one line per element

	// SlotFields are hot per-endpoint fields after the shared core. A
	// policy with none uses the shared slot type.
	SlotFields []field
	// TableFields are per-table fields after the slots and the view.
	TableFields []field

	Setup  bool // the table has a setup method
	Keyed  bool // the table has pickKey: PickKey routes by key
	Draws  bool // the table has pickWith: pick draws one random word, which a caller may supply
	Leases bool // the table has begin and end: its leases carry state
	Totals bool // the pool counts its leases in counters.total
}

// field is a struct field. Type is Go source: a predeclared type, a type
// of lb, or one of imports' packages, optionally behind [] or *. Own puts
// the field on its own cache line, for fields every Pick writes.
type field struct {
	Name, Type, Doc string
	Own             bool
}

// imports maps the package names a field's Type may use to their paths.
var imports = map[string]string{"atomic": "sync/atomic", "perproc": "github.com/nanolb/nanolb/internal/perproc"}

var policies = []policy{
	{
		Name: "P2C", Ident: "p2c", Label: "p2c",
		Doc: []string{
			"P2C (power of two choices) samples two distinct endpoints that are up",
			"uniformly and leases the one with fewer leases in flight; a single",
			"endpoint that is up is simply returned. It is the zero Policy.",
		},
		Draws: true,
	},
	{
		Name: "RoundRobin", Ident: "roundRobin", Label: "round_robin",
		Doc: []string{
			"RoundRobin hands out tickets and maps each to an endpoint in turn:",
			"from one shared counter, so in exact cycles, while picks do not",
			"collide, and from a counter per processor while they do. A ticket",
			"that lands on an endpoint that is not up is drawn again, so",
			"endpoints that are up share picks evenly.",
		},
		TableFields: []field{
			{Name: "magic", Type: "uint64", Doc: "fastmod multiplier for len(slots)"},
			{Name: "stripes", Type: "[]perproc.Stripe", Doc: "a ticket counter per processor, for contended picks"},
			{Name: "next", Type: "atomic.Uint64", Doc: "the next ticket", Own: true},
			{Name: "striped", Type: "atomic.Bool", Doc: "picks collided: tickets come from stripes", Own: true},
		},
		Setup: true,
	},
	{
		Name: "LeastLoaded", Ident: "leastLoaded", Label: "least_loaded",
		Doc: []string{
			"LeastLoaded leases the endpoint with the lowest load over the whole",
			"table: exact, at the cost of a scan of every endpoint per pick. A",
			"random idle endpoint wins its ties, so idle endpoints share picks.",
		},
	},
	{
		Name: "WeightedRoundRobin", Ident: "weightedRoundRobin", Label: "weighted_round_robin",
		Doc: []string{
			"WeightedRoundRobin gives each endpoint a share of picks proportional",
			"to its Endpoint.Weight, smoothly: ticket t goes to the endpoint whose",
			"share of the cumulative weight holds the bit-reversed t, so",
			"consecutive tickets spread over the weight line instead of bursting",
			"on one endpoint. One atomic add and a binary search per pick.",
		},
		TableFields: []field{
			{Name: "cumulative", Type: "[]uint64", Doc: "cumulative[i] = weights of slots[:i+1]"},
			{Name: "next", Type: "atomic.Uint64", Doc: "the next ticket", Own: true},
		},
		Setup: true,
	},
	{
		Name: "PeakEWMA", Ident: "peakEWMA", Label: "peak_ewma",
		Doc: []string{
			"PeakEWMA is P2C on a cost, as linkerd and Finagle balance: a",
			"peak-sensitive moving average of the endpoint's latency (decaying",
			"with Config.EWMADecay) times its leases in flight plus one. It times",
			"one lease in 8 at random, and every lease of an endpoint with no",
			"latency yet; a failure weighs at least 1 s until the next success, a cancellation nothing.",
		},
		SlotFields: []field{
			{Name: "cost", Type: "atomic.Uint64", Doc: "the latency average in ns, float64 bits"},
			{Name: "stamp", Type: "atomic.Int64", Doc: "latency clock at the last update"},
		},
		TableFields: []field{
			{Name: "tau", Type: "float64", Doc: "decay time constant in ns"},
			{Name: "invTau", Type: "float64", Doc: "1/tau"},
		},
		Setup: true, Leases: true, Draws: true,
	},
	{
		Name: "Random", Ident: "random", Label: "random",
		Doc: []string{
			"Random leases an endpoint drawn uniformly among those that are up.",
		},
	},
	{
		Name: "ConsistentHash", Ident: "consistentHash", Label: "consistent_hash",
		Doc: []string{
			"ConsistentHash routes each key of Pool.PickKey to the same endpoint",
			"while membership is unchanged, over a Maglev table weighted by",
			"Endpoint.Weight, with bounded loads (Mirrokni et al., 2018): an",
			"endpoint at Config.HashLoadFactor times the mean in flight, or not",
			"up, passes the key on in an order seeded by the key. Large tables",
			"are rebuilt in the background (docs/policies.md).",
		},
		TableFields: []field{
			{Name: "lookup", Type: "maglevLookup", Doc: "the Maglev table; while a rebuild runs, the previous membership's"},
			{Name: "counts", Type: "*counters", Doc: "the pool's total in flight and ejected count"},
			{Name: "loadFactor", Type: "float64", Doc: "Config.HashLoadFactor"},
			{Name: "builds", Type: "*maglevBuilds", Doc: "the pool's background rebuilds of the Maglev table"},
		},
		Setup: true, Keyed: true, Totals: true,
	},
	{
		Name: "Shard", Ident: "shard", Label: "shard",
		Doc: []string{
			"Shard routes each key of Pool.PickKey strictly to its shard, the",
			"jump consistent hash of the key over the shard count, with no",
			"failover: ErrShardDown while the shard is out, and the key's own",
			"PickKey probes it once due. Shard i is Config.Shards's i-th address,",
			"or the pool's i-th in address order. Pick without a key draws",
			"uniformly among the endpoints that are up.",
		},
		TableFields: []field{
			{Name: "shards", Type: "[]int32", Doc: "view positions in shard order (by address length, then bytes); -1 is an empty shard"},
		},
		Setup: true, Keyed: true,
	},
}
