package lb

import "fmt"

// Subset keeps a stable subset of the endpoints a pool is given (New, Add,
// Set, a discovery Runner): the pool's members are Size of them, chosen
// for this client by Rule, so that a fleet of clients spreads its
// connections evenly over the backends while each client holds Size. The
// rest are remembered and join when the subset changes. Health, probes and
// events work within the subset; when more of it is ejected than
// MaxEjectedPercent allows, the pool widens by as many endpoints from
// outside it, and gives them back once the subset recovers.
// docs/subsetting.md compares the rules.
type Subset struct {
	// Size is how many endpoints the pool keeps. Zero turns subsetting
	// off; otherwise 1..65,536. A pool given no more than Size keeps all.
	Size int

	// Client is this client's index in its fleet, 0..N-1 for N clients
	// (a replica ordinal, a shard number): Rule balances the fleet best
	// when the indexes are dense. A hashed identity (ClientID) works, with
	// the balance of subsets drawn at random.
	Client uint64

	// Rule chooses the subset; the zero value is SubsetRing.
	Rule SubsetRule
}

// SubsetRule is how a pool chooses its subset (Subset.Rule).
type SubsetRule uint8

// Subset rules.
const (
	// SubsetRing places the endpoints on a hash ring and gives client i the
	// first Size clockwise from a start point spread by i: near-even
	// connections for dense client indexes, and a membership change moves
	// only the subset entries it must.
	SubsetRing SubsetRule = iota // ring
	// SubsetDeterministic is the SRE book's deterministic subsetting: an
	// exact balance when Size divides the endpoint count, but any
	// membership change reshuffles nearly every client's subset.
	SubsetDeterministic // deterministic
	// SubsetRendezvous is highest-random-weight hashing, as gRPC's A68:
	// minimal movement on a change, and the balance of random subsets.
	SubsetRendezvous // rendezvous
)

// maxSubset is the largest Subset.Size.
const maxSubset = 1 << 16

// subsetting is Subset resolved; size 0 is off.
type subsetting struct {
	size   int
	client uint64
	rule   SubsetRule
}

// resolve checks s's limits.
func (s Subset) resolve() (subsetting, error) {
	switch {
	case s.Size == 0 && (s.Client != 0 || s.Rule != 0):
		return subsetting{}, fmt.Errorf("%w: Subset.Client or Rule without a Size", ErrConfig)
	case s.Size < 0 || s.Size > maxSubset:
		return subsetting{}, fmt.Errorf("%w: Subset.Size %d is outside 1..%d (0 turns subsetting off)", ErrConfig, s.Size, maxSubset)
	case s.Rule > SubsetRendezvous:
		return subsetting{}, fmt.Errorf("%w: unknown Subset.Rule %d", ErrConfig, int(s.Rule))
	}
	return subsetting{size: s.Size, client: s.Client, rule: s.Rule}, nil
}
