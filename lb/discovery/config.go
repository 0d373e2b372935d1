package discovery

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Schedule defaults. The package documentation says why each was chosen.
const (
	// DefaultStartupFor is how long the start-up phase lasts: long enough
	// for a fleet that starts together to find itself.
	DefaultStartupFor = 5 * time.Minute
	// DefaultStartupEvery is the start-up phase's interval.
	DefaultStartupEvery = 5 * time.Second
	// DefaultEvery is the regular interval: the floor grpc-go puts between
	// its own re-resolutions, and a common DNS TTL.
	DefaultEvery = 30 * time.Second
	// DefaultRetryAfter is the first retry's delay after a failed resolve.
	DefaultRetryAfter = time.Second
	// DefaultMaxRetryAfter caps the retry delay, which doubles with each
	// failure in a row.
	DefaultMaxRetryAfter = time.Minute
	// DefaultTimeout bounds each resolve.
	DefaultTimeout = 10 * time.Second
	// DefaultJitter is the share of each delay that jitter may take off.
	DefaultJitter = 0.2
)

// Config is a Runner's schedule and policy. The zero value means every
// default: a start-up phase of 5 minutes at 5 s, then every 30 s; after a
// failure 1 s, doubling to 1 minute; a 10 s timeout per resolve; 20% jitter;
// an empty answer keeps the last good set.
//
// A zero field means its default; a negative field is an error wrapping
// ErrConfig, and so are two fields set explicitly that contradict each
// other (StartupEvery over Every, RetryAfter over MaxRetryAfter). A default
// that would contradict an explicit field yields to it: Every of 1 s makes
// the default StartupEvery 1 s too.
type Config struct {
	// StartupFor is the length of the start-up phase, counted from Start,
	// during which the Runner resolves every StartupEvery. Zero means
	// DefaultStartupFor (5 minutes). To have no start-up phase, set
	// StartupEvery equal to Every.
	StartupFor time.Duration
	// StartupEvery is the interval between resolves during the start-up
	// phase. Zero means DefaultStartupEvery (5 s), or Every if that is
	// shorter. It may not exceed Every.
	StartupEvery time.Duration
	// Every is the interval between resolves after the start-up phase.
	// Zero means DefaultEvery (30 s).
	Every time.Duration

	// RetryAfter is the delay before the first retry after a failed
	// resolve; each further failure in a row doubles it, up to
	// MaxRetryAfter. A success returns to the phase's interval. Zero means
	// DefaultRetryAfter (1 s), or MaxRetryAfter if that is shorter.
	RetryAfter time.Duration
	// MaxRetryAfter caps the retry delay. Zero means DefaultMaxRetryAfter
	// (1 minute), or RetryAfter if that is longer. It may not be below
	// RetryAfter.
	MaxRetryAfter time.Duration

	// Timeout bounds each resolve: its context is cancelled after Timeout,
	// and the attempt fails. Zero means DefaultTimeout (10 s).
	Timeout time.Duration

	// Jitter is the share of each delay taken off at random: a delay d is
	// drawn uniformly from [(1-Jitter)·d, d], so clients started together
	// do not resolve in lockstep and an interval stays an upper bound.
	// Zero means DefaultJitter (0.2); it must be below 1.
	Jitter float64
	// NoJitter makes every delay exact (tests, or a single client); it
	// overrides Jitter.
	NoJitter bool

	// AllowEmpty applies an empty answer, emptying the target. By default
	// an empty answer is treated as a failed resolve and the last good set
	// stays: a DNS name caught mid-update, or a registry that lost its
	// session, should not take every endpoint away (grpc-go and httplb
	// both learned this).
	AllowEmpty bool
}

// withDefaults returns cfg with every zero field resolved, or an error
// wrapping ErrConfig.
func (cfg Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"StartupFor", cfg.StartupFor},
		{"StartupEvery", cfg.StartupEvery},
		{"Every", cfg.Every},
		{"RetryAfter", cfg.RetryAfter},
		{"MaxRetryAfter", cfg.MaxRetryAfter},
		{"Timeout", cfg.Timeout},
	} {
		if f.d < 0 {
			return cfg, fmt.Errorf("%w: %s is negative (%v)", ErrConfig, f.name, f.d)
		}
	}
	if cfg.Jitter < 0 || cfg.Jitter >= 1 || cfg.Jitter != cfg.Jitter {
		return cfg, fmt.Errorf("%w: Jitter %v is outside [0, 1)", ErrConfig, cfg.Jitter)
	}
	if cfg.StartupEvery > 0 && cfg.Every > 0 && cfg.StartupEvery > cfg.Every {
		return cfg, fmt.Errorf("%w: StartupEvery (%v) exceeds Every (%v)", ErrConfig, cfg.StartupEvery, cfg.Every)
	}
	if cfg.RetryAfter > 0 && cfg.MaxRetryAfter > 0 && cfg.RetryAfter > cfg.MaxRetryAfter {
		return cfg, fmt.Errorf("%w: RetryAfter (%v) exceeds MaxRetryAfter (%v)", ErrConfig, cfg.RetryAfter, cfg.MaxRetryAfter)
	}
	if cfg.StartupFor == 0 {
		cfg.StartupFor = DefaultStartupFor
	}
	if cfg.Every == 0 {
		cfg.Every = max(DefaultEvery, cfg.StartupEvery)
	}
	if cfg.StartupEvery == 0 {
		cfg.StartupEvery = min(DefaultStartupEvery, cfg.Every)
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = max(DefaultMaxRetryAfter, cfg.RetryAfter)
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = min(DefaultRetryAfter, cfg.MaxRetryAfter)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = DefaultJitter
	}
	if cfg.NoJitter {
		cfg.Jitter = 0
	}
	return cfg, nil
}

// interval is the nominal delay before the next resolve, before jitter:
// the phase's interval after a success, or the backoff after failures
// consecutive failures.
func (cfg Config) interval(startup bool, failures int) time.Duration {
	if failures > 0 {
		d := cfg.RetryAfter
		for i := 1; i < failures && d < cfg.MaxRetryAfter; i++ {
			d *= 2
		}
		return min(d, cfg.MaxRetryAfter)
	}
	if startup {
		return cfg.StartupEvery
	}
	return cfg.Every
}

// jitter draws a delay uniformly from [(1-Jitter)·d, d].
func (cfg Config) jitter(d time.Duration) time.Duration {
	if cfg.Jitter == 0 || d <= 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*cfg.Jitter*float64(d))
}
