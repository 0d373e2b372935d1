package lb

import (
	"context"
	"slices"
)

// exceptTries is how many ordinary picks PickExcept makes before it counts
// the endpoints that are up and not excluded.
const exceptTries = 4

// PickExcept is Pick for a retry: it leases an endpoint that is up and not
// in tried while there is one, so a retry does not land where the request
// failed: the policy's choice if it is not in tried, else a uniform draw
// among those not tried, else the policy's choice among them all. With no
// addresses it is Pick, and plain Pick pays nothing for it.
func (p *Pool) PickExcept(tried ...string) (Lease, error) {
	if len(tried) == 0 {
		return p.Pick()
	}
	for range exceptTries {
		l, err := p.Pick()
		if err != nil || !slices.Contains(tried, l.c.addr) {
			return l, err
		}
		l.Done(context.Canceled) // neutral: only the in-flight count changes
	}
	cores := p.view.Load().cores
	if i := drawWhere(cores, func(_ int, c *core) bool {
		return c.pickable() && !slices.Contains(tried, c.addr)
	}); i >= 0 {
		return p.lease(cores[i])
	}
	return p.Pick()
}
