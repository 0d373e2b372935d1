package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nanolb/nanolb/lb"
)

// Union is a Resolver whose answer is its Resolvers' answers together, in
// their order: one DNS per zone, each with its DNSConfig.Zone, makes one
// zone-aware set. It asks them all at once and fails, with their errors,
// if any of them fails, or if two of them name one address: a Union never
// answers with part of a set. An empty answer from one adds nothing. A
// Union is not a Watcher, even of Watchers: a Runner polls it. An empty
// Union answers with no endpoints.
type Union []Resolver

// Resolve calls every Resolver of u concurrently and joins their answers.
func (u Union) Resolve(ctx context.Context) ([]lb.Endpoint, error) {
	answers := make([][]lb.Endpoint, len(u))
	errs := make([]error, len(u))
	var wg sync.WaitGroup
	for i, r := range u {
		wg.Go(func() {
			answers[i], errs[i] = r.Resolve(ctx)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("resolver %d of the union: %w", i, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if !errors.Is(err, ErrResolve) {
			err = fmt.Errorf("%w: %w", ErrResolve, err)
		}
		return nil, err
	}
	var out []lb.Endpoint
	from := make(map[string]int)
	for i, eps := range answers {
		for _, e := range eps {
			if j, dup := from[e.Addr]; dup && j == i {
				return nil, fmt.Errorf("%w: resolver %d of the union names %q twice", ErrResolve, i, e.Addr)
			} else if dup {
				return nil, fmt.Errorf("%w: resolvers %d and %d of the union both name %q", ErrResolve, j, i, e.Addr)
			}
			from[e.Addr] = i
			out = append(out, e)
		}
	}
	if out == nil {
		out = []lb.Endpoint{}
	}
	return out, nil
}
