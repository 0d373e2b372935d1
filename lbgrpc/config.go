package lbgrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/serviceconfig"
)

// Config is one nanolb balancer's entry in a gRPC service config: the JSON
// object under the balancer's name in "loadBalancingConfig". Every field is
// optional and a missing, null or zero one means lb.Config's default; the
// limits are lb.Config's. Durations are strings in Go's time.ParseDuration
// syntax, which includes the protobuf JSON form ("1.5s"). An unknown field,
// a value of the wrong type or a value lb.New rejects is an error wrapping
// lb.ErrConfig that names the field (see ParseConfig).
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
	// average's time constant, at most 24h (0: 10s). It also sets how long
	// one failed RPC keeps an endpoint avoided (see the package
	// documentation).
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
	// AdaptiveConcurrency is lb.Config.AdaptiveConcurrency: each
	// endpoint's limit follows its latency, up to maxConcurrency (0:
	// 1,000). An RPC refused by it fails with codes.Unavailable, as above.
	AdaptiveConcurrency bool `json:"adaptiveConcurrency,omitempty"`
	// MinConcurrency is lb.Config.MinConcurrency: the adaptive limit's
	// floor, 1..maxConcurrency (0: 3), only with adaptiveConcurrency.
	MinConcurrency int `json:"minConcurrency,omitempty"`
	// TimeoutGrace is lb.Config.TimeoutGrace: a streak ending in
	// DeadlineExceeded ejects only an endpoint that also went this long
	// without a success, 1µs..24h (0: 1s).
	TimeoutGrace Duration `json:"timeoutGrace,omitempty"`
}

// Duration is a time.Duration that reads from and writes to JSON as a string
// such as "1.5s" or "250ms". A negative duration is an error wrapping
// lb.ErrConfig when the config is checked.
type Duration time.Duration

// UnmarshalJSON reads a duration string; null leaves d as it is, as for
// any other field. A number or any other value is an error wrapping
// lb.ErrConfig.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if err := d.parse(b); err != nil {
		return fmt.Errorf("%w: %v", lb.ErrConfig, err)
	}
	return nil
}

// parse is UnmarshalJSON with an error of its own, for ParseConfig to name
// the field in.
func (d *Duration) parse(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s is not a string such as \"1.5s\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
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
		Policy:              policy,
		EjectAfter:          c.EjectAfter,
		EjectFor:            time.Duration(c.EjectFor),
		MaxEjectFor:         time.Duration(c.MaxEjectFor),
		MaxEjectedPercent:   c.MaxEjectedPercent,
		ProbeTimeout:        time.Duration(c.ProbeTimeout),
		EWMADecay:           time.Duration(c.EWMADecay),
		HashLoadFactor:      c.HashLoadFactor,
		HashReplicas:        c.HashReplicas,
		NoJitter:            c.NoJitter,
		MaxConcurrency:      c.MaxConcurrency,
		AdaptiveConcurrency: c.AdaptiveConcurrency,
		MinConcurrency:      c.MinConcurrency,
		TimeoutGrace:        time.Duration(c.TimeoutGrace),
	}
}

// fieldNames are Config's JSON field names, and fieldIndex each one's
// index in Config.
var fieldNames, fieldIndex = func() ([]string, map[string]int) {
	var names []string
	index := make(map[string]int)
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "-" && name != "" {
			names = append(names, name)
			index[name] = i
		}
	}
	return names, index
}()

// ParseConfig reads one balancer's JSON config for policy and checks it as
// lb.New would. Empty input, null, or null for a field means the default.
// An unknown field, trailing data, a wrongly typed value or a value out of
// range is an error wrapping lb.ErrConfig that names the field: as the
// JSON spells it, or for a value out of range as lb.Config does.
func ParseConfig(policy lb.Policy, js []byte) (*Config, error) {
	c := new(Config)
	if len(bytes.TrimSpace(js)) > 0 {
		if err := c.read(js); err != nil {
			return nil, err
		}
	}
	if _, err := lb.New(c.LB(policy)); err != nil {
		return nil, err
	}
	return c, nil
}

// read sets c's fields from js, a JSON object or null, one field at a time
// (in name order, so the first error is always the same one) so that each
// error names its field. A field's name must match exactly: encoding/json
// matches names regardless of case, and a config with "ejectafter" is more
// likely a typo than a wish.
func (c *Config) read(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return fmt.Errorf("%w: the config is not a JSON object: %v", lb.ErrConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the config object", lb.ErrConfig)
	}
	v := reflect.ValueOf(c).Elem()
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		i, ok := fieldIndex[name]
		if !ok {
			return fmt.Errorf("%w: unknown field %q (known: %s)", lb.ErrConfig, name, strings.Join(fieldNames, ", "))
		}
		var err error
		switch f := v.Field(i).Addr().Interface().(type) {
		case *Duration:
			err = f.parse(fields[name])
		default:
			err = json.Unmarshal(fields[name], f)
		}
		if err != nil {
			return fmt.Errorf("%w: field %q: %v", lb.ErrConfig, name, err)
		}
	}
	return nil
}
