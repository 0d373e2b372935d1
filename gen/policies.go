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

	// Init, if set, writes statements that set TableFields on the new table
	// t; prev is the table it replaces (possibly nil), n the endpoint count.
	Init func(g *Group)
	// Pick writes the body of (t *<ident>Table) pick() *core. It may use the
	// package's helpers: rand63, pair, fastmod, and the slot's pickable and
	// inflight through its embedded core.
	Pick func(g *Group)
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
		Name:  "P2C",
		Ident: "p2c",
		Label: "p2c",
		Doc: []string{
			"P2C (power of two choices) samples two distinct pickable endpoints",
			"uniformly and leases the one with fewer leases in flight; a single",
			"pickable endpoint is simply returned. It is the zero Policy.",
		},
		Pick: p2cPick,
	},
	{
		Name:  "RoundRobin",
		Ident: "roundRobin",
		Label: "round_robin",
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
			g.If(Id("prev").Op("!=").Nil()).Block(
				Comment("Carry the cursor over, so membership churn does not favour the first endpoints."),
				Id("t").Dot("next").Dot("Store").Call(Id("prev").Dot("next").Dot("Load").Call()),
			)
		},
		Pick: roundRobinPick,
	},
}

// p2cPick: two candidates from one random word; the slow path handles
// candidates that are not up.
func p2cPick(g *Group) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("<").Lit(2)).Block(
		If(Len(Id("slots")).Op("==").Lit(1).Op("&&").Id("slots").Index(Lit(0)).Dot("pickable").Call()).Block(
			Return(Op("&").Id("slots").Index(Lit(0)).Dot("core")),
		),
		Return(Nil()),
	)
	g.List(Id("i"), Id("j")).Op(":=").Id("pair").Call(Id("rand63").Call(), Uint32().Call(Len(Id("slots"))))
	g.List(Id("a"), Id("b")).Op(":=").Id("slots").Index(Id("i")).Op(",").Id("slots").Index(Id("j"))
	g.If(Op("!").Id("a").Dot("pickable").Call().Op("||").Op("!").Id("b").Dot("pickable").Call()).Block(
		Return(Id("p2cSlow").Call(Id("slots"))),
	)
	g.Comment("A select the compiler can turn into a conditional move: loads are random.")
	g.Id("w").Op(":=").Id("a")
	g.If(Id("b").Dot("inflight").Dot("Load").Call().Op("<").Id("a").Dot("inflight").Dot("Load").Call()).Block(
		Id("w").Op("=").Id("b"),
	)
	g.Return(Op("&").Id("w").Dot("core"))
}

// roundRobinPick: a few tickets, then a scan from the cursor.
func roundRobinPick(g *Group) {
	g.Id("slots").Op(":=").Id("t").Dot("slots")
	g.If(Len(Id("slots")).Op("==").Lit(0)).Block(Return(Nil()))
	g.For(Range().Id("roundRobinTickets")).Block(
		Id("s").Op(":=").Id("slots").Index(
			Id("fastmod").Call(Uint32().Call(Id("t").Dot("next").Dot("Add").Call(Lit(1)).Op("-").Lit(1)), Id("t").Dot("magic"), Uint32().Call(Len(Id("slots")))),
		),
		If(Id("s").Dot("pickable").Call()).Block(Return(Op("&").Id("s").Dot("core"))),
	)
	g.Return(Id("scanFrom").Call(Id("slots"), Int().Call(Id("fastmod").Call(
		Uint32().Call(Id("t").Dot("next").Dot("Load").Call()), Id("t").Dot("magic"), Uint32().Call(Len(Id("slots")))))))
}
