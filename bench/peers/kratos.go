package peers

import (
	"context"
	"errors"

	"github.com/go-kratos/kratos/v2/selector"
	"github.com/go-kratos/kratos/v2/selector/p2c"
	"github.com/go-kratos/kratos/v2/selector/random"
	"github.com/go-kratos/kratos/v2/selector/wrr"

	"github.com/nanolb/nanolb/bench/harness"
)

// NewKratosP2C builds kratos' p2c selector (EWMA-weighted nodes) over addrs.
func NewKratosP2C(addrs []string) (harness.Cycler, error) { return newKratos(p2c.New(), addrs) }

// NewKratosWRR builds kratos' weighted round robin selector over addrs.
func NewKratosWRR(addrs []string) (harness.Cycler, error) { return newKratos(wrr.New(), addrs) }

// NewKratosRandom builds kratos' random selector over addrs.
func NewKratosRandom(addrs []string) (harness.Cycler, error) { return newKratos(random.New(), addrs) }

// kratosSelector is the cycle over a kratos selector.
type kratosSelector struct {
	sel selector.Selector
	ctx context.Context
}

func newKratos(sel selector.Selector, addrs []string) (harness.Cycler, error) {
	if len(addrs) == 0 {
		return nil, errors.New("peers: kratos selector needs addresses")
	}
	nodes := make([]selector.Node, len(addrs))
	for i, a := range addrs {
		nodes[i] = selector.NewNode("grpc", a, nil)
	}
	sel.Apply(nodes)
	return &kratosSelector{sel: sel, ctx: context.Background()}, nil
}

// Cycle selects a node and reports the call finished successfully.
func (k *kratosSelector) Cycle() string {
	node, done, err := k.sel.Select(k.ctx)
	if err != nil {
		panic("peers: kratos select failed: " + err.Error())
	}
	done(k.ctx, selector.DoneInfo{})
	return node.Address()
}
