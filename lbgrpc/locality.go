package lbgrpc

import (
	"fmt"
	"math/rand/v2"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
)

// WithLocalZone makes zone the local zone of every pool the builder's
// balancers make (lb.Zones.Local): their RPCs route by zone, among the
// zones a resolver sets with WithZone, tuned by the service config's
// "zones" object. "" turns zone-aware routing off, even with
// WithLocalityFromEnv and NANOLB_ZONE set. A zone over lb.MaxZoneLen
// bytes makes NewBuilder fail with an error wrapping lb.ErrConfig.
func WithLocalZone(zone string) Option {
	return func(b *builder) { b.zone, b.hasZone = zone, true }
}

// WithClientIndex makes client the builder's index in its fleet of
// clients (lb.Subset.Client), from which the service config's "subset"
// chooses the endpoints to connect to: 0..N-1 for N clients balances the
// fleet best. Without it (or WithLocalityFromEnv finding one), the index
// is drawn at random once per builder, as gRFC A68 does.
func WithClientIndex(client uint64) Option {
	return func(b *builder) { b.client, b.hasClient = client, true }
}

// WithLocalityFromEnv takes the local zone and the client index from the
// environment, as discovery.LocalityFromEnv reads them (NANOLB_ZONE,
// NANOLB_CLIENT_INDEX, else a StatefulSet host name's ordinal), once, when
// NewBuilder runs. WithLocalZone and WithClientIndex win over it,
// whichever comes first; what the environment leaves unset stays so. A
// malformed variable makes NewBuilder fail with an error wrapping
// lb.ErrConfig and discovery.ErrConfig.
func WithLocalityFromEnv() Option {
	return func(b *builder) { b.fromEnv = true }
}

// WithClientShares gives every pool the builder's balancers make the
// share of the fleet's clients in each zone (lb.Zones.Clients,
// lb.NewClientShares), for zone-aware routing. Without a local zone it is
// unused. Nil assumes the clients are spread as the endpoints are.
func WithClientShares(shares *lb.ClientShares) Option {
	return func(b *builder) { b.shares = shares }
}

// locate settles the builder's zone and client index after its options:
// explicit options first, then the environment if asked, then for the
// client index a random draw.
func (b *builder) locate() error {
	if b.fromEnv {
		loc, err := discovery.LocalityFromEnv()
		if err != nil {
			return fmt.Errorf("%w: %w", lb.ErrConfig, err)
		}
		if !b.hasZone {
			b.zone, b.hasZone = loc.Zone, true
		}
		if !b.hasClient && loc.HasClient {
			b.client, b.hasClient = loc.Client, true
		}
	}
	if len(b.zone) > lb.MaxZoneLen {
		return fmt.Errorf("%w: local zone of %d bytes, over %d", lb.ErrConfig, len(b.zone), lb.MaxZoneLen)
	}
	if !b.hasClient {
		b.client = rand.Uint64()
	}
	return nil
}

// poolConfig is the lb.Config of the pool a balancer makes for cfg: the
// service config's, with the builder's local zone and client shares.
func (b *builder) poolConfig(cfg *Config) lb.Config {
	c := cfg.LB(b.policy)
	c.Zones = cfg.Zones.toLB(b.zone, b.shares)
	return c
}
