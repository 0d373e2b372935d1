package lb

import (
	"fmt"
	"time"
)

// Config describes a pool. The zero value is a valid config: every zero field
// means its documented default. Negative, out-of-range and contradictory
// values are rejected with an error wrapping ErrConfig.
type Config struct {
	// Policy chooses how Pick selects among pickable endpoints. The zero
	// value is P2C.
	Policy Policy

	// EjectAfter is the number of consecutive failures that ejects an
	// endpoint. Zero means 5, as Envoy's and Finagle's outlier detectors;
	// 1..255 (the health word's streak field).
	EjectAfter int

	// EjectFor is the cooldown of a first ejection. Each further ejection
	// without a success in between doubles it, up to MaxEjectFor. Zero means
	// one second (linkerd's minimum backoff); otherwise 1µs..24h, rounded up
	// to the health clock's microsecond.
	EjectFor time.Duration

	// MaxEjectFor caps the cooldown. Zero means one minute (linkerd's maximum
	// backoff), or EjectFor if that is longer. Otherwise 1µs..24h, rounded up
	// to the microsecond, and not shorter than EjectFor.
	MaxEjectFor time.Duration

	// ProbeTimeout is how long a probe lease owns an ejected endpoint. If the
	// probe does not report by then, the endpoint is leased to a new probe,
	// so a lost lease never keeps an endpoint out. Zero means 5 seconds;
	// otherwise 1µs..24h, rounded up to the microsecond.
	ProbeTimeout time.Duration

	// MaxEjectedPercent caps the share of endpoints ejected at once, at
	// ceil(n × MaxEjectedPercent / 100) of n and below 100 never all: past
	// it an endpoint keeps serving with its streak. Zero means 50, as
	// Envoy's and Finagle's panic thresholds; 1..100. Below 100 a Pick on a
	// non-empty pool never fails: with nothing up it leases the endpoint
	// whose cooldown ends first (panic mode).
	MaxEjectedPercent int

	// EWMADecay is PeakEWMA's time constant: a latency sample's weight in
	// the average falls by a factor e every EWMADecay. Zero means 10 seconds
	// (linkerd's and Finagle's default); otherwise 1µs..24h.
	EWMADecay time.Duration

	// HashLoadFactor is ConsistentHash's load bound c: no endpoint takes a
	// key while it has c times the mean in-flight count or more. Zero means
	// 1.25 (as Google's consistent hashing with bounded loads); otherwise
	// 1..1e6 (NaN is rejected).
	HashLoadFactor float64

	// HashReplicas is the least number of entries per endpoint in
	// ConsistentHash's lookup table, whose size is the first of a fixed list
	// of primes from 65,537 to 4,194,319 (the cap) that holds them: more
	// entries move fewer keys on a change in small pools, at the cost of
	// memory and rebuild time. Zero means 100 per endpoint in at most
	// 131,101 entries (256 KB); otherwise 1..10,000. docs/design-hashing.md
	// has the sizes and measurements.
	HashReplicas int

	// TimeoutGrace keeps timeouts under load from ejecting: a failure
	// streak whose last failure is a timeout (an error wrapping
	// context.DeadlineExceeded) ejects only once the endpoint has also gone
	// TimeoutGrace without a success since the streak's first timeout. A
	// busy endpoint times some requests out while it still answers others,
	// which is load, not failure; one that answers nothing is ejected.
	// Zero means 1 second; otherwise 1µs..24h.
	TimeoutGrace time.Duration

	// MaxConcurrency caps the leases in flight on each endpoint: Pick never
	// leases an endpoint at its limit, probes included, and returns
	// ErrSaturated when every endpoint that is up is at it. Zero means
	// unlimited (and costs nothing), or with AdaptiveConcurrency 1,000;
	// otherwise 1..1<<30.
	MaxConcurrency int

	// AdaptiveConcurrency makes each endpoint's concurrency limit follow
	// its latency, between MinConcurrency and MaxConcurrency, instead of
	// staying at MaxConcurrency: it rises while the endpoint answers within
	// 25% of its unloaded latency, falls as latency grows past that, and by
	// a tenth in an interval with a timeout. A sample of leases is then
	// timed (a clock read at Pick and at Done). docs/design-overload.md has
	// the rule.
	AdaptiveConcurrency bool

	// MinConcurrency is the lowest an adaptive limit goes, and the limit at
	// which an endpoint's unloaded latency is measured, when it joins and
	// about every minute after. Zero means 3 (Envoy's adaptive concurrency
	// minimum); otherwise 1..MaxConcurrency, and only with
	// AdaptiveConcurrency.
	MinConcurrency int

	// MaxWaiters bounds the queue of PickWait callers; past it PickWait
	// fails at once with ErrQueueFull. Zero means 10,000 (linkerd's
	// per-pool queue); otherwise 1..1<<20.
	MaxWaiters int

	// MaxWait bounds a PickWait whose context has no deadline: it then fails
	// with an error wrapping context.DeadlineExceeded. A context with a
	// deadline is bounded by it alone. Zero means 3 seconds (linkerd's
	// failfast timeout); otherwise 1µs..24h, rounded up to the microsecond.
	MaxWait time.Duration

	// WaitTarget sheds PickWait's queue while it stands (WaitInterval): a
	// freed slot goes to the newest caller, which has the most time left,
	// and callers that have waited longer than WaitTarget fail with ErrShed
	// then instead of at their deadline. Zero means 5 ms ("Fail at Scale"'s
	// controlled-delay target); otherwise 1µs..24h, not over WaitInterval.
	WaitTarget time.Duration

	// WaitInterval is how long PickWait's queue must go without emptying to
	// stand: only then does it shed (WaitTarget) and serve newest first; a
	// queue that empties within it is served first in first out and sheds
	// nobody. Zero means 100 ms (the controlled-delay interval), or
	// WaitTarget if that is longer; otherwise 1µs..24h.
	WaitInterval time.Duration

	// NoShed turns shedding off: PickWait's queue is then first in first
	// out whatever its standing, each wait bounded by its context or
	// MaxWait alone. Setting WaitTarget or WaitInterval with it is an error.
	NoShed bool

	// Shards is a Shard pool's explicit layout (NewShardLayout): shard i is
	// its i-th address whatever the membership; an address not in the pool
	// is an empty shard whose keys get ErrShardDown, and an endpoint outside
	// the layout owns no keys. Nil or empty numbers the pool's endpoints in
	// address order. On another policy it is an error.
	Shards *ShardLayout

	// SlowStart ramps the share of an endpoint that joins the pool after
	// New, or is reinstated after an ejection, over a window; off unless
	// SlowStart.Window is set (see SlowStart).
	SlowStart SlowStart

	// Outlier ejects endpoints by success rate and failure percentage,
	// beside EjectAfter's consecutive failures; on by default (see Outlier).
	Outlier Outlier

	// Subset keeps only a stable subset of the endpoints the pool is
	// given, so that each client of a large fleet connects to a few
	// backends; off unless Subset.Size is set (see Subset).
	Subset Subset

	// Zones routes to the pool's local zone first, as Envoy's zone-aware
	// routing; off unless Zones.Local is set (see Zones).
	Zones Zones

	// LoadWeights makes a WeightedRoundRobin pool weigh its endpoints by
	// the load they report (Lease.ReportLoad), by gRFC A58's rule; off
	// unless LoadWeights.Enabled is set (see LoadWeights).
	LoadWeights LoadWeights

	// NoJitter turns off cooldown jitter. With jitter (the default) each
	// cooldown is drawn uniformly from [90%, 100%] of its nominal length, so
	// clients that ejected an endpoint together do not probe it in
	// lockstep, and MaxEjectFor stays a hard cap.
	NoJitter bool
}

// Defaults applied to zero Config fields.
const (
	DefaultEjectAfter        = 5
	DefaultEjectFor          = time.Second
	DefaultMaxEjectFor       = time.Minute
	DefaultProbeTimeout      = 5 * time.Second
	DefaultMaxEjectedPercent = 50
	DefaultEWMADecay         = 10 * time.Second
	DefaultHashLoadFactor    = 1.25
	DefaultHashReplicas      = 100
	DefaultMaxWaiters        = 10000
	DefaultMaxWait           = 3 * time.Second
	DefaultWaitTarget        = 5 * time.Millisecond
	DefaultWaitInterval      = 100 * time.Millisecond
	DefaultTimeoutGrace      = time.Second
	DefaultMaxAdaptive       = 1000
	DefaultMinConcurrency    = 3
)

const (
	maxEjectAfter = 255            // the streak field of the health word is 8 bits
	maxDuration   = 24 * time.Hour // longest cooldown or probe window accepted
	maxReplicas   = 10000
	maxLimit      = 1 << 30
	maxWaiters    = 1 << 20
)

// settings is a Config with defaults applied and durations in the health
// word's unit (microseconds).
type settings struct {
	policy       Policy
	ejectAfter   uint64
	ejectFor     int64
	maxEjectFor  int64
	probeTimeout int64
	maxPercent   int
	jitter       bool
	ewmaDecay    float64 // ns
	loadFactor   float64
	hashReplicas int   // Config.HashReplicas; 0 for the default (maglevSize)
	limit        int64 // MaxConcurrency; 0: none. With an adaptive limit, its cap
	adaptive     bool
	minLimit     int
	timeoutGrace int64 // µs
	maxWaiters   int32
	maxWait      time.Duration
	waitTarget   time.Duration // 0: no shedding
	waitInterval time.Duration
	shards       *ShardLayout // Config.Shards if it has addresses, else nil
	outlier      outliers
	slowStart    slowStart
	subset       Subset // Config.Subset, checked; Size 0 is off
	zones        zoning
	loadWeights  loadWeighting
}

func (c Config) resolve() (settings, error) {
	s := settings{
		policy:     c.Policy,
		ejectAfter: DefaultEjectAfter,
		maxPercent: DefaultMaxEjectedPercent,
		jitter:     !c.NoJitter,
		loadFactor: DefaultHashLoadFactor,
	}
	if !c.Policy.valid() {
		return s, fmt.Errorf("%w: unknown policy %d", ErrConfig, int(c.Policy))
	}
	switch {
	case c.EjectAfter < 0 || c.EjectAfter > maxEjectAfter:
		return s, fmt.Errorf("%w: EjectAfter %d is outside 1..%d (0 means %d)", ErrConfig, c.EjectAfter, maxEjectAfter, DefaultEjectAfter)
	case c.EjectAfter > 0:
		s.ejectAfter = uint64(c.EjectAfter)
	}
	switch {
	case c.MaxEjectedPercent < 0 || c.MaxEjectedPercent > 100:
		return s, fmt.Errorf("%w: MaxEjectedPercent %d is outside 1..100 (0 means %d)", ErrConfig, c.MaxEjectedPercent, DefaultMaxEjectedPercent)
	case c.MaxEjectedPercent > 0:
		s.maxPercent = c.MaxEjectedPercent
	}
	ejectFor, err := duration("EjectFor", c.EjectFor, DefaultEjectFor)
	if err != nil {
		return s, err
	}
	maxEjectFor, err := duration("MaxEjectFor", c.MaxEjectFor, max(DefaultMaxEjectFor, ejectFor))
	if err != nil {
		return s, err
	}
	if maxEjectFor < ejectFor {
		return s, fmt.Errorf("%w: MaxEjectFor %v is shorter than EjectFor %v", ErrConfig, maxEjectFor, ejectFor)
	}
	probe, err := duration("ProbeTimeout", c.ProbeTimeout, DefaultProbeTimeout)
	if err != nil {
		return s, err
	}
	decay, err := duration("EWMADecay", c.EWMADecay, DefaultEWMADecay)
	if err != nil {
		return s, err
	}
	s.ewmaDecay = float64(decay)
	switch {
	case c.HashLoadFactor != c.HashLoadFactor || c.HashLoadFactor < 0 || (c.HashLoadFactor > 0 && c.HashLoadFactor < 1) || c.HashLoadFactor > 1e6:
		return s, fmt.Errorf("%w: HashLoadFactor %v is outside 1..1e6 (0 means %v)", ErrConfig, c.HashLoadFactor, DefaultHashLoadFactor)
	case c.HashLoadFactor > 0:
		s.loadFactor = c.HashLoadFactor
	}
	switch {
	case c.HashReplicas < 0 || c.HashReplicas > maxReplicas:
		return s, fmt.Errorf("%w: HashReplicas %d is outside 1..%d (0 means %d)", ErrConfig, c.HashReplicas, maxReplicas, DefaultHashReplicas)
	case c.HashReplicas > 0:
		s.hashReplicas = c.HashReplicas
	}
	switch {
	case c.MaxConcurrency < 0 || c.MaxConcurrency > maxLimit:
		return s, fmt.Errorf("%w: MaxConcurrency %d is outside 1..%d (0 means unlimited)", ErrConfig, c.MaxConcurrency, maxLimit)
	case c.MaxWaiters < 0 || c.MaxWaiters > maxWaiters:
		return s, fmt.Errorf("%w: MaxWaiters %d is outside 1..%d (0 means %d)", ErrConfig, c.MaxWaiters, maxWaiters, DefaultMaxWaiters)
	}
	s.limit, s.maxWaiters = int64(c.MaxConcurrency), DefaultMaxWaiters
	if err := s.adapting(c); err != nil {
		return s, err
	}
	grace, err := duration("TimeoutGrace", c.TimeoutGrace, DefaultTimeoutGrace)
	if err != nil {
		return s, err
	}
	s.timeoutGrace = micros(grace)
	if c.MaxWaiters > 0 {
		s.maxWaiters = int32(c.MaxWaiters)
	}
	if s.maxWait, err = duration("MaxWait", c.MaxWait, DefaultMaxWait); err != nil {
		return s, err
	}
	s.maxWait = time.Duration(micros(s.maxWait)) * time.Microsecond
	if err := s.shedding(c); err != nil {
		return s, err
	}
	if s.shards, err = shardLayout(c.Policy, c.Shards); err != nil {
		return s, err
	}
	if s.outlier, err = c.Outlier.resolve(); err != nil {
		return s, err
	}
	if s.slowStart, err = c.SlowStart.resolve(); err != nil {
		return s, err
	}
	if s.subset, err = c.Subset.resolve(); err != nil {
		return s, err
	}
	if s.zones, err = c.Zones.resolve(); err != nil {
		return s, err
	}
	if s.loadWeights, err = c.LoadWeights.resolve(c.Policy); err != nil {
		return s, err
	}
	s.ejectFor, s.maxEjectFor, s.probeTimeout = micros(ejectFor), micros(maxEjectFor), micros(probe)
	return s, nil
}

// adapting validates AdaptiveConcurrency and MinConcurrency into s, after
// MaxConcurrency.
func (s *settings) adapting(c Config) error {
	switch {
	case !c.AdaptiveConcurrency && c.MinConcurrency != 0:
		return fmt.Errorf("%w: MinConcurrency %d without AdaptiveConcurrency", ErrConfig, c.MinConcurrency)
	case !c.AdaptiveConcurrency:
		return nil
	}
	s.adaptive, s.minLimit = true, DefaultMinConcurrency
	if s.limit == 0 {
		s.limit = DefaultMaxAdaptive
	}
	switch {
	case c.MinConcurrency < 0 || c.MinConcurrency > int(s.limit):
		return fmt.Errorf("%w: MinConcurrency %d is outside 1..%d (MaxConcurrency; 0 means %d)", ErrConfig, c.MinConcurrency, s.limit, DefaultMinConcurrency)
	case c.MinConcurrency > 0:
		s.minLimit = c.MinConcurrency
	}
	s.minLimit = min(s.minLimit, int(s.limit))
	return nil
}

// shedding validates WaitTarget, WaitInterval and NoShed into s.
func (s *settings) shedding(c Config) error {
	if c.NoShed {
		if c.WaitTarget != 0 || c.WaitInterval != 0 {
			return fmt.Errorf("%w: NoShed with WaitTarget %v or WaitInterval %v set", ErrConfig, c.WaitTarget, c.WaitInterval)
		}
		return nil
	}
	target, err := duration("WaitTarget", c.WaitTarget, DefaultWaitTarget)
	if err != nil {
		return err
	}
	interval, err := duration("WaitInterval", c.WaitInterval, max(DefaultWaitInterval, target))
	if err != nil {
		return err
	}
	if target > interval {
		return fmt.Errorf("%w: WaitTarget %v is longer than WaitInterval %v", ErrConfig, target, interval)
	}
	s.waitTarget, s.waitInterval = target, interval
	return nil
}

// shardLayout checks that only a Shard pool has a layout, and returns it,
// or nil for none or an empty one.
func shardLayout(policy Policy, layout *ShardLayout) (*ShardLayout, error) {
	switch {
	case layout == nil || len(layout.addrs) == 0:
		return nil, nil
	case policy != Shard:
		return nil, fmt.Errorf("%w: Shards is set but the policy is %v, not %v", ErrConfig, policy, Shard)
	}
	return layout, nil
}

// duration validates one duration field, applying def when it is zero.
func duration(name string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, fmt.Errorf("%w: %s %v is negative", ErrConfig, name, d)
	case d < time.Microsecond:
		return 0, fmt.Errorf("%w: %s %v is below the 1µs resolution", ErrConfig, name, d)
	case d > maxDuration:
		return 0, fmt.Errorf("%w: %s %v is longer than %v", ErrConfig, name, d, maxDuration)
	}
	return d, nil
}

// micros converts d to the health clock's unit, rounding up: a cooldown
// or a window is never shorter than asked.
func micros(d time.Duration) int64 { return int64((d + time.Microsecond - 1) / time.Microsecond) }

// maxEjected is how many of n endpoints may be ejected at once.
func (s *settings) maxEjected(n int) int {
	if s.maxPercent >= 100 {
		return n
	}
	limit := max((n*s.maxPercent+99)/100, 1)
	return min(limit, n-1)
}
