package discovery

import (
	"context"
	"slices"

	"github.com/nanolb/nanolb/lb"
)

// Static is a Resolver whose answer never changes: a fixed list of
// endpoints, for tests, for configuration that is read once, or as a
// fallback.
type Static []lb.Endpoint

// Resolve returns a copy of s.
func (s Static) Resolve(context.Context) ([]lb.Endpoint, error) {
	return slices.Clone(s), nil
}
