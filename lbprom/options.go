package lbprom

import (
	"fmt"

	"github.com/nanolb/nanolb/lb"
)

// Option configures a Collector.
type Option func(*settings) error

type settings struct {
	sub   lb.SubscribeOptions
	pools []string
}

// WithSubscribeOptions paces the collector's event subscription (see
// lb.SubscribeOptions; the zero value means lb's defaults: a batch every
// 100 ms). A shorter Interval makes the event counters trail the pool less.
// Options lb rejects make the constructor fail with an error wrapping
// ErrOption and lb.ErrConfig.
func WithSubscribeOptions(o lb.SubscribeOptions) Option {
	return func(s *settings) error {
		s.sub = o
		return nil
	}
}

// WithPools names registry pools the collector reports. A registry
// collector reports every pool its registry holds at each scrape, named or
// not, so the names only document which pools are expected. An empty name
// is an error wrapping ErrOption, and so is WithPools given to
// NewPoolCollector.
func WithPools(names ...string) Option {
	return func(s *settings) error {
		for _, n := range names {
			if n == "" {
				return fmt.Errorf("%w: WithPools: empty pool name", ErrOption)
			}
		}
		s.pools = append(s.pools, names...)
		return nil
	}
}
