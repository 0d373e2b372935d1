package lb

// Random: an endpoint drawn uniformly among those that are up. The cheapest
// policy that writes nothing shared but the lease.

// pick draws one endpoint uniformly among those that are up, or returns nil
// when none is.
func (t *randomTable) pick() *core { return t.view.anyUp() }
