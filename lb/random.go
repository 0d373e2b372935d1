package lb

// Random: an endpoint drawn uniformly among those that are up. The cheapest
// policy that writes nothing shared but the lease.

// pick draws one endpoint uniformly among those that are up, or returns nil
// when none is.
func (t *randomTable) pick() *core {
	slots := t.slots
	if len(slots) == 0 {
		return nil
	}
	if s := slots[randn(len(slots))]; s.pickable() {
		return &s.core
	}
	if i := t.view.choose(-1); i >= 0 {
		return &slots[i].core
	}
	return nil
}
