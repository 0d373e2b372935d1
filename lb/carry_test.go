package lb

// carry is a slot list after ch, built the way views are: old's slots that
// ch keeps, in order, then ch's new slots, all of type *S.
func carry[S any](old []*S, ch change) []*S {
	out := make([]*S, 0, len(old)-ch.gone+len(ch.added))
	for i, s := range old {
		if ch.drop == nil || !ch.drop[i] {
			out = append(out, s)
		}
	}
	for _, m := range ch.added {
		out = append(out, m.slot.(*S))
	}
	return out
}
