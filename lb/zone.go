package lb

import (
	"fmt"
	"math"
)

// Zones routes a pool's picks by zone (Endpoint.Zone) as Envoy's
// zone-aware routing does, to keep traffic inside the client's zone
// without overloading it: with the share of the fleet's clients in the
// local zone c and the share of the pool's endpoints up in it u, a pick
// stays local when u ≥ c, and otherwise with probability u/c, the rest
// going to the other zones in proportion to the endpoints they have up
// beyond their own clients' share. So each zone's endpoints get their
// share of the fleet's traffic. Routing is zone-blind while fewer than
// MinEndpoints endpoints are up, and in panic mode (more than
// MaxEjectedPercent of the pool ejected). Keyed picks (PickKey on
// ConsistentHash and Shard) ignore zones: a key's endpoint must not move.
type Zones struct {
	// Local is this client's zone. "" turns zone-aware routing off.
	Local string

	// Clients is the share of the fleet's clients in each zone
	// (NewClientShares). Nil assumes the clients are spread as the pool's
	// endpoints are, up or not: traffic then stays local until the local
	// zone has a smaller share of the endpoints up than of all endpoints.
	Clients *ClientShares

	// MinEndpoints is how many endpoints must be up for routing by zone.
	// Zero means 6 (Envoy's min_cluster_size); otherwise 1..1<<20.
	MinEndpoints int

	// ForceLocal keeps every pick in the local zone while at least this
	// many of its endpoints are up, whatever the shares. Zero turns it
	// off; otherwise 1..1<<20.
	ForceLocal int
}

// ClientShares is the share of a fleet's clients in each zone, for
// Zones.Clients. It is immutable.
type ClientShares struct {
	share map[string]float64 // summing to 1
}

// NewClientShares returns the shares of weights, one per zone, of any
// scale: {"a": 20, "b": 40, "c": 40} and {"a": 0.2, "b": 0.4, "c": 0.4}
// are the same. Zones left out have no clients. Weights must be finite
// and not negative, with a positive sum, for at most 1,000 zones; else
// the error wraps ErrConfig.
func NewClientShares(weights map[string]float64) (*ClientShares, error) {
	if len(weights) > maxZones {
		return nil, fmt.Errorf("%w: %d zones of clients, over %d", ErrConfig, len(weights), maxZones)
	}
	var sum float64
	for zone, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: zone %q has a client weight of %v, not a finite number ≥ 0", ErrConfig, zone, w)
		}
		if len(zone) > MaxZoneLen {
			return nil, fmt.Errorf("%w: a zone name of %d bytes, over %d", ErrConfig, len(zone), MaxZoneLen)
		}
		sum += w
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("%w: the zones' client weights sum to %v, not a positive finite number", ErrConfig, sum)
	}
	s := &ClientShares{share: make(map[string]float64, len(weights))}
	for zone, w := range weights {
		s.share[zone] = w / sum
	}
	return s, nil
}

// DefaultZoneMinEndpoints is Zones.MinEndpoints's default.
const DefaultZoneMinEndpoints = 6

// maxZones bounds Zones.ClientShare.
const maxZones = 1000

// zoning is Zones resolved; an empty local zone is off.
type zoning struct {
	on           bool
	local        string
	clients      map[string]float64 // each zone's share of the clients, summing to 1; nil: as the endpoints
	minEndpoints int
	forceLocal   int
}

// resolve checks z's limits and applies its defaults.
func (z Zones) resolve() (zoning, error) {
	if z.Local == "" {
		if z.Clients != nil || z.MinEndpoints != 0 || z.ForceLocal != 0 {
			return zoning{}, fmt.Errorf("%w: Zones.Clients, MinEndpoints or ForceLocal without a Local zone", ErrConfig)
		}
		return zoning{}, nil
	}
	switch {
	case len(z.Local) > MaxZoneLen:
		return zoning{}, fmt.Errorf("%w: Zones.Local is %d bytes, over %d", ErrConfig, len(z.Local), MaxZoneLen)
	case z.MinEndpoints < 0 || z.MinEndpoints > 1<<20:
		return zoning{}, fmt.Errorf("%w: Zones.MinEndpoints %d is outside 1..%d (0 means %d)", ErrConfig, z.MinEndpoints, 1<<20, DefaultZoneMinEndpoints)
	case z.ForceLocal < 0 || z.ForceLocal > 1<<20:
		return zoning{}, fmt.Errorf("%w: Zones.ForceLocal %d is outside 1..%d (0 turns it off)", ErrConfig, z.ForceLocal, 1<<20)
	}
	r := zoning{on: true, local: z.Local, minEndpoints: DefaultZoneMinEndpoints, forceLocal: z.ForceLocal}
	if z.MinEndpoints != 0 {
		r.minEndpoints = z.MinEndpoints
	}
	if z.Clients != nil {
		r.clients = z.Clients.share
	}
	return r, nil
}
