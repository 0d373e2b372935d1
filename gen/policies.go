package main

import . "github.com/dave/jennifer/jen"

// policy is one row of the generator's table: everything that differs
// between two policies' tables. Adding a policy is adding a row here, writing
// its pick body, and running `make generate`.
type policy struct {
	Name  string   // exported constant in lb, e.g. "P2C"
	Ident string   // lower-camel stem of the generated types, e.g. "p2c"
	Label string   // what Policy.String returns
	Doc   []string // doc comment of the constant, one line per element

	SlotExtras  []field // hot per-endpoint fields after the core
	TableFields []field // per-table fields after the slots

	// Timed leases record their start on the latency clock; Counted leases
	// are added to the pool's total in-flight count.
	Timed, Counted bool

	// Init, if set, writes statements that set TableFields on the new table
	// t; p is the pool, prev the table it replaces (possibly nil), n the
	// endpoint count.
	Init func(g *Group)
	// Pick writes the body of (t *<ident>Table) pick() *core: choose an
	// endpoint that is up, or return nil. It may use the package's helpers
	// (rand63, randn, pair, fastmod), the table's view (t.view: choose,
	// upPair, p2c, scanFrom, in the same order as t.slots) and the slot's
	// core fields (inflight, pickable).
	Pick func(g *Group)
	// KeyPick, if set, writes the body of (t *<ident>Table) pickKey(h uint64)
	// *core, the choice for a hashed key.
	KeyPick func(g *Group)
}

// field is a struct field; Own puts it on its own cache line (a pad before
// and after), for fields every Pick writes.
type field struct {
	Name, Doc string
	Type      Code
	Own       bool
}

var policies = []policy{
	{
		Name: "P2C", Ident: "p2c", Label: "p2c",
		Doc: []string{
			"P2C (power of two choices) samples two distinct pickable endpoints",
			"uniformly and leases the one with fewer leases in flight; a single",
			"pickable endpoint is simply returned. It is the zero Policy.",
		},
		Pick: p2cPick,
	},
	{
		Name: "RoundRobin", Ident: "roundRobin", Label: "round_robin",
		Doc: []string{
			"RoundRobin hands out tickets from one shared counter and maps each",
			"to an endpoint in turn; a ticket that lands on an endpoint that is",
			"not up is skipped, so pickable endpoints share picks evenly.",
		},
		TableFields: []field{
			{Name: "magic", Doc: "fastmod multiplier for len(slots)", Type: Uint64()},
			{Name: "next", Doc: "the next ticket", Type: Qual("sync/atomic", "Uint64"), Own: true},
		},
		Init: func(g *Group) {
			g.If(Id("n").Op(">").Lit(0)).Block(
				Id("t").Dot("magic").Op("=").Op("^").Uint64().Call(Lit(0)).Op("/").Uint64().Call(Id("n")).Op("+").Lit(1),
			)
			carryCursor(g)
		},
		Pick: roundRobinPick,
	},
	{
		Name: "LeastLoaded", Ident: "leastLoaded", Label: "least_loaded",
		Doc: []string{
			"LeastLoaded leases the endpoint with the fewest leases in flight",
			"over the whole table, the lowest index on ties: exact, at the cost",
			"of a scan of every endpoint per pick.",
		},
		Pick: leastLoadedPick,
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
			{Name: "cumulative", Doc: "cumulative[i] = weights of slots[:i+1]", Type: Index().Uint64()},
			{Name: "next", Doc: "the next ticket", Type: Qual("sync/atomic", "Uint64"), Own: true},
		},
		Init: func(g *Group) {
			g.Id("t").Dot("cumulative").Op("=").Id("cumulativeWeights").Call(Id("members"))
			carryCursor(g)
		},
		Pick: weightedPick,
	},
	{
		Name: "PeakEWMA", Ident: "peakEWMA", Label: "peak_ewma",
		Doc: []string{
			"PeakEWMA is P2C whose cost is a peak-sensitive moving average of the",
			"endpoint's latency times its leases in flight plus one, as linkerd",
			"and Finagle balance: a latency above the average replaces it at",
			"once, lower ones decay it with time constant Config.EWMADecay. Its",
			"leases time their requests on a monotonic clock.",
		},
		SlotExtras: []field{
			{Name: "cost", Doc: "the latency average in ns, float64 bits", Type: Qual("sync/atomic", "Uint64")},
			{Name: "stamp", Doc: "latency clock at the last update", Type: Qual("sync/atomic", "Int64")},
		},
		TableFields: []field{
			{Name: "clock", Doc: "the pool's latency clock", Type: Func().Params().Int64()},
			{Name: "tau", Doc: "decay time constant in ns", Type: Float64()},
		},
		Timed: true,
		Init: func(g *Group) {
			g.Id("t").Dot("clock").Op(",").Id("t").Dot("tau").Op("=").Id("p").Dot("nanos").Op(",").Id("p").Dot("cfg").Dot("ewmaDecay")
			g.Id("_").Op("=").Id("prev")
		},
		Pick: peakEWMAPick,
	},
	{
		Name: "Random", Ident: "random", Label: "random",
		Doc: []string{
			"Random leases an endpoint drawn uniformly among those that are up.",
		},
		Pick: randomPick,
	},
	{
		Name: "ConsistentHash", Ident: "consistentHash", Label: "consistent_hash",
		Doc: []string{
			"ConsistentHash routes each key of Pool.PickKey to the same endpoint",
			"while membership is unchanged, with bounded loads (Mirrokni, Thorup",
			"and Zadimoghaddam, 2018): an endpoint at Config.HashLoadFactor times",
			"the mean in-flight count, or not up, passes the key on along the",
			"ring. Adding one endpoint to n moves about 1/(n+1) of the keys.",
			"Pick without a key uses a random one.",
		},
		TableFields: []field{
			{Name: "ring", Doc: "hash points, ascending", Type: Index().Uint64()},
			{Name: "owner", Doc: "owner[i] is the slot index of ring[i]", Type: Index().Uint32()},
			{Name: "pool", Doc: "for the total in-flight count and the budget", Type: Op("*").Id("Pool")},
		},
		Counted: true,
		Init: func(g *Group) {
			g.List(Id("t").Dot("ring"), Id("t").Dot("owner")).Op("=").Id("buildRing").Call(Id("members"), Id("p").Dot("cfg").Dot("hashReplicas"))
			g.Id("t").Dot("pool").Op("=").Id("p")
			g.Id("_").Op("=").Id("prev")
		},
		Pick: func(g *Group) {
			g.Return(Id("t").Dot("pickKey").Call(Id("rand63").Call().Op("<<").Lit(1).Op("^").Id("rand63").Call()))
		},
		KeyPick: consistentHashPickKey,
	},
}

// carryCursor keeps a ticket counter across tables, so membership churn
// does not favour the first endpoints.
func carryCursor(g *Group) {
	g.If(Id("prev").Op("!=").Nil()).Block(
		Comment("Carry the cursor over, so membership churn does not favour the first endpoints."),
		Id("t").Dot("next").Dot("Store").Call(Id("prev").Dot("next").Dot("Load").Call()),
	)
}

// atMostOne writes the n < 2 cases shared by the two-choice policies.
func atMostOne(g *Group) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("<").Lit(2)).Block(
		If(Len(Id("slots")).Op("==").Lit(1).Op("&&").Id("slots").Index(Lit(0)).Dot("pickable").Call()).Block(
			Return(Op("&").Id("slots").Index(Lit(0)).Dot("core")),
		),
		Return(Nil()),
	)
}

// twoCandidates draws a and b. A pair with a candidate that is not up is
// drawn again once, inline (with a share f of endpoints out, about 2f of
// pairs fail, and 4f² twice), before the out-of-line slow path completes
// the second pair. Rejecting whole pairs keeps the draw uniform over pairs
// that are up, and so does the slow path on a pair that failed.
func twoCandidates(g *Group, slow Code) {
	g.List(Id("i"), Id("j")).Op(":=").Id("pair").Call(Id("rand63").Call(), Uint32().Call(Len(Id("slots"))))
	g.List(Id("a"), Id("b")).Op(":=").Id("slots").Index(Id("i")).Op(",").Id("slots").Index(Id("j"))
	g.If(Op("!").Id("bothUp").Call(Op("&").Id("a").Dot("core"), Op("&").Id("b").Dot("core"))).Block(
		List(Id("i"), Id("j")).Op("=").Id("pair").Call(Id("rand63").Call(), Uint32().Call(Len(Id("slots")))),
		List(Id("a"), Id("b")).Op("=").Id("slots").Index(Id("i")).Op(",").Id("slots").Index(Id("j")),
		If(Op("!").Id("bothUp").Call(Op("&").Id("a").Dot("core"), Op("&").Id("b").Dot("core"))).Block(Return(slow)),
	)
}

// p2cPick: two candidates from one random word; the slow path handles
// candidates that are not up.
func p2cPick(g *Group) {
	atMostOne(g)
	twoCandidates(g, Id("t").Dot("view").Dot("p2c").Call(Id("i"), Id("j")))
	g.Comment("A select the compiler can turn into a conditional move: loads are random.")
	g.Id("w").Op(":=").Id("a")
	g.If(Id("b").Dot("inflight").Dot("Load").Call().Op("<").Id("a").Dot("inflight").Dot("Load").Call()).Block(
		Id("w").Op("=").Id("b"),
	)
	g.Return(Op("&").Id("w").Dot("core"))
}

// ticketLoop writes the ticket loop shared by the round robins: up to
// roundRobinTickets tickets, then a scan from the cursor's position.
func ticketLoop(g *Group, index func(ticket Code) Code) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("==").Lit(0)).Block(Return(Nil()))
	g.For(Range().Id("roundRobinTickets")).Block(
		Id("s").Op(":=").Id("slots").Index(index(Id("t").Dot("next").Dot("Add").Call(Lit(1)).Op("-").Lit(1))),
		If(Id("s").Dot("pickable").Call()).Block(Return(Op("&").Id("s").Dot("core"))),
	)
	g.Comment("Every ticket missed: walk on from the cursor, and spend the tickets")
	g.Comment("walked over with the one used, so the next Pick does not repeat it.")
	g.Id("start").Op(":=").Id("t").Dot("next").Dot("Load").Call()
	g.For(Id("k").Op(":=").Range().Uint64().Call(Len(Id("slots")))).Block(
		If(Id("s").Op(":=").Id("slots").Index(index(Id("start").Op("+").Id("k"))), Id("s").Dot("pickable").Call()).Block(
			Id("t").Dot("next").Dot("CompareAndSwap").Call(Id("start"), Id("start").Op("+").Id("k").Op("+").Lit(1)),
			Return(Op("&").Id("s").Dot("core")),
		),
	)
	g.Comment("Tickets need not reach every slot (weighted): any endpoint that is up.")
	g.Return(Id("t").Dot("view").Dot("scanFrom").Call(Int().Call(index(Id("start")))))
}

func roundRobinPick(g *Group) {
	ticketLoop(g, func(ticket Code) Code {
		return Id("fastmod").Call(Uint32().Call(ticket), Id("t").Dot("magic"), Uint32().Call(Len(Id("slots"))))
	})
}

func weightedPick(g *Group) {
	ticketLoop(g, func(ticket Code) Code {
		return Id("weightedIndex").Call(Id("t").Dot("cumulative"), ticket)
	})
}

// leastLoadedPick: one pass over every slot.
func leastLoadedPick(g *Group) {
	g.Var().Id("best").Op("*").Id("leastLoadedSlot")
	g.Id("low").Op(":=").Int64().Call(Qual("math", "MaxInt64"))
	g.For(List(Id("_"), Id("s")).Op(":=").Range().Id("t").Dot("slots")).Block(
		If(Id("n").Op(":=").Id("s").Dot("inflight").Dot("Load").Call(), Id("n").Op("<").Id("low").Op("&&").Id("s").Dot("pickable").Call()).Block(
			List(Id("best"), Id("low")).Op("=").List(Id("s"), Id("n")),
		),
	)
	g.If(Id("best").Op("==").Nil()).Block(Return(Nil()))
	g.Return(Op("&").Id("best").Dot("core"))
}

// peakEWMAPick: P2C on cost, read with decay to now.
func peakEWMAPick(g *Group) {
	atMostOne(g)
	twoCandidates(g, Id("peakEWMASlow").Call(Id("t").Dot("view"), Id("slots"), Id("i"), Id("j"), Id("t").Dot("clock").Call(), Id("t").Dot("tau")))
	g.Id("now").Op(":=").Id("t").Dot("clock").Call()
	g.Id("w").Op(":=").Id("a")
	g.If(Id("b").Dot("load").Call(Id("now"), Id("t").Dot("tau")).Op("<").Id("a").Dot("load").Call(Id("now"), Id("t").Dot("tau"))).Block(
		Id("w").Op("=").Id("b"),
	)
	g.Return(Op("&").Id("w").Dot("core"))
}

func randomPick(g *Group) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("==").Lit(0)).Block(Return(Nil()))
	g.If(Id("s").Op(":=").Id("slots").Index(Id("randn").Call(Len(Id("slots")))), Id("s").Dot("pickable").Call()).Block(
		Return(Op("&").Id("s").Dot("core")),
	)
	g.If(Id("i").Op(":=").Id("t").Dot("view").Dot("choose").Call(Lit(-1)), Id("i").Op(">=").Lit(0)).Block(
		Return(Op("&").Id("slots").Index(Id("i")).Dot("core")),
	)
	g.Return(Nil())
}

// consistentHashPickKey: the first ring point at or after h, then onwards
// to the first owner that is up and under the load bound. If every owner
// that is up is at the bound (possible only while leases are lost or
// racing), the first one that is up takes the key: the bound steers load,
// it never refuses a pick.
func consistentHashPickKey(g *Group) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("==").Lit(0)).Block(Return(Nil()))
	g.Id("bound").Op(":=").Id("t").Dot("pool").Dot("loadBound").Call(Len(Id("slots")))
	g.Id("start").Op(":=").Id("ringSearch").Call(Id("t").Dot("ring"), Id("h"))
	g.Var().Id("first").Op("*").Id("consistentHashSlot")
	g.For(Id("k").Op(":=").Range().Id("t").Dot("ring")).Block(
		Id("s").Op(":=").Id("slots").Index(Id("t").Dot("owner").Index(Parens(Id("start").Op("+").Id("k")).Op("%").Len(Id("t").Dot("ring")))),
		If(Op("!").Id("s").Dot("pickable").Call()).Block(Continue()),
		If(Id("s").Dot("inflight").Dot("Load").Call().Op("<").Id("bound")).Block(
			Return(Op("&").Id("s").Dot("core")),
		),
		If(Id("first").Op("==").Nil()).Block(Id("first").Op("=").Id("s")),
	)
	g.If(Id("first").Op("==").Nil()).Block(Return(Nil()))
	g.Return(Op("&").Id("first").Dot("core"))
}
