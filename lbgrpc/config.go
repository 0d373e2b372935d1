package lbgrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/serviceconfig"
)

// Config is one nanolb balancer's entry in a gRPC service config: the JSON
// object under the balancer's name in "loadBalancingConfig". Every field is
// optional and a missing or zero one means lb.Config's default; the limits
// are lb.Config's. Durations are strings in Go's time.ParseDuration syntax,
// which includes the protobuf JSON form ("1.5s"). An unknown field, a value
// of the wrong type or a value lb.New rejects is an error wrapping
// lb.ErrConfig.
//
//	{"loadBalancingConfig": [{"nanolb_p2c": {"ejectAfter": 3, "ejectFor": "2s"}}]}
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// EjectAfter is lb.Config.EjectAfter: consecutive failures that eject an
	// endpoint, 1..255 (0: 5).
	EjectAfter int `json:"ejectAfter,omitempty"`
	// EjectFor is lb.Config.EjectFor: the first ejection's cooldown, at most
	// 24h (0: 1s).
	EjectFor Duration `json:"ejectFor,omitempty"`
	// MaxEjectFor is lb.Config.MaxEjectFor: the cooldown's cap, at least
	// EjectFor and at most 24h (0: 1m, or EjectFor if longer).
	MaxEjectFor Duration `json:"maxEjectFor,omitempty"`
	// MaxEjectedPercent is lb.Config.MaxEjectedPercent: the share of
	// endpoints ejected at once, 1..100 (0: 50).
	MaxEjectedPercent int `json:"maxEjectedPercent,omitempty"`
	// ProbeTimeout is lb.Config.ProbeTimeout: how long a probe owns an
	// ejected endpoint, at most 24h (0: 5s).
	ProbeTimeout Duration `json:"probeTimeout,omitempty"`
	// EWMADecay is lb.Config.EWMADecay, for nanolb_peak_ewma: the latency
	// average's time constant, at most 24h (0: 10s).
	EWMADecay Duration `json:"ewmaDecay,omitempty"`
	// HashLoadFactor is lb.Config.HashLoadFactor, for
	// nanolb_consistent_hash: the load bound, 1..1e6 (0: 1.25).
	HashLoadFactor float64 `json:"hashLoadFactor,omitempty"`
	// HashReplicas is lb.Config.HashReplicas, for nanolb_consistent_hash:
	// ring points per endpoint, 1..10,000 (0: 100).
	HashReplicas int `json:"hashReplicas,omitempty"`
	// NoJitter is lb.Config.NoJitter: cooldowns without jitter.
	NoJitter bool `json:"noJitter,omitempty"`
	// MaxConcurrency is lb.Config.MaxConcurrency: RPCs in flight on each
	// endpoint, a stream counting for its whole life, 1..1<<30 (0:
	// unlimited). An RPC that finds every endpoint at it fails at once with
	// codes.Unavailable, wait-for-ready or not (see the package
	// documentation). lb's maxWaiters and maxWait have no field: a gRPC
	// picker must not block, so no RPC waits in the pool.
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
}

// Duration is a time.Duration that reads from and writes to JSON as a string
// such as "1.5s" or "250ms". A negative duration is an error wrapping
// lb.ErrConfig when the config is checked.
type Duration time.Duration

// UnmarshalJSON reads a duration string; a number or any other value is an
// error wrapping lb.ErrConfig.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: duration %s is not a string such as \"1.5s\"", lb.ErrConfig, b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%w: duration %q: %v", lb.ErrConfig, s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string in time.Duration's syntax.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// LB returns the lb.Config for policy with c's fields.
func (c *Config) LB(policy lb.Policy) lb.Config {
	return lb.Config{
		Policy:            policy,
		EjectAfter:        c.EjectAfter,
		EjectFor:          time.Duration(c.EjectFor),
		MaxEjectFor:       time.Duration(c.MaxEjectFor),
		MaxEjectedPercent: c.MaxEjectedPercent,
		ProbeTimeout:      time.Duration(c.ProbeTimeout),
		EWMADecay:         time.Duration(c.EWMADecay),
		HashLoadFactor:    c.HashLoadFactor,
		HashReplicas:      c.HashReplicas,
		NoJitter:          c.NoJitter,
		MaxConcurrency:    c.MaxConcurrency,
	}
}

// knownFieldsOnly rejects a field whose name is not exactly one of
// Config's: encoding/json matches names regardless of case, and a config
// with "ejectafter" is more likely a typo than a wish.
func knownFieldsOnly(js []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return fmt.Errorf("%w: %v", lb.ErrConfig, err)
	}
	for name := range fields {
		if !slices.Contains(fieldNames, name) {
			return fmt.Errorf("%w: unknown field %q (known: %s)", lb.ErrConfig, name, strings.Join(fieldNames, ", "))
		}
	}
	return nil
}

// fieldNames are Config's JSON field names.
var fieldNames = func() []string {
	var names []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "-" && name != "" {
			names = append(names, name)
		}
	}
	return names
}()

// ParseConfig reads one balancer's JSON config for policy and checks it as
// lb.New would. Empty input or null means every default. An unknown field,
// trailing data, a wrongly typed value or a value out of range is an error
// wrapping lb.ErrConfig that names the field.
func ParseConfig(policy lb.Policy, js []byte) (*Config, error) {
	c := new(Config)
	if len(bytes.TrimSpace(js)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			if errors.Is(err, lb.ErrConfig) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", lb.ErrConfig, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the config object", lb.ErrConfig)
		}
		if err := knownFieldsOnly(js); err != nil {
			return nil, err
		}
	}
	if _, err := lb.New(c.LB(policy)); err != nil {
		return nil, err
	}
	return c, nil
}
