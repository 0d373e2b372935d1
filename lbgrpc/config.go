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
// lb.ErrConfig that names the field (see ParseConfig). Outlier detection,
// slow start and weights from reported load are objects of their own, as
// lb.Config has them:
//
//	{"loadBalancingConfig": [{"nanolb_p2c": {"ejectAfter": 3, "ejectFor": "2s",
//		"outlier": {"interval": "10s"}, "slowStart": {"window": "30s"}}}]}
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
	// Outlier is lb.Config.Outlier: ejection of an endpoint whose RPCs fail
	// much more often than its peers', by success rate and by failure
	// percentage, beside ejectAfter's failures in a row. On with lb's
	// defaults when missing, null or {}; {"off": true} turns it off.
	Outlier OutlierConfig `json:"outlier,omitzero"`
	// SlowStart is lb.Config.SlowStart: an endpoint that joins the pool,
	// or is reinstated, gets a share of RPCs that ramps up over a window.
	// Off unless its window is set.
	SlowStart SlowStartConfig `json:"slowStart,omitzero"`
	// LoadWeights is lb.Config.LoadWeights, for
	// nanolb_weighted_round_robin: endpoints weighed by the load they
	// report through ORCA (gRFC A51, A58), per RPC or out of band. Off
	// unless its enabled is set.
	LoadWeights LoadWeightsConfig `json:"loadWeights,omitzero"`
	// Subset is lb.Config.Subset: the balancer connects to a stable
	// subset of the resolver's endpoints, chosen for the builder's client
	// index (WithClientIndex). Off unless its size is set; not for
	// nanolb_shard.
	Subset SubsetConfig `json:"subset,omitzero"`
	// Zones tunes lb.Config.Zones, zone-aware routing, for a builder that
	// knows its local zone (WithLocalZone, WithLocalityFromEnv); without
	// one it is ignored, and routing is zone-blind.
	Zones ZonesConfig `json:"zones,omitzero"`
}

// SubsetConfig is Config's "subset" object: lb.Subset's size and rule,
// the client index being the builder's (see Subsets and zones in the
// package documentation). A missing, null or zero field means lb's
// default, as in Config.
//
//	"subset": {"size": 30, "rule": "ring"}
type SubsetConfig struct {
	// Size is lb.Subset.Size: how many of the resolver's endpoints the
	// balancer connects to, 1..65,536 (0: all of them, and rule may not
	// be set).
	Size int `json:"size,omitempty"`
	// Rule is lb.Subset.Rule by name: "ring" (lb.SubsetRing),
	// "deterministic" (lb.SubsetDeterministic) or "rendezvous"
	// (lb.SubsetRendezvous); "" means "ring".
	Rule string `json:"rule,omitempty"`
}

// subsetRules are SubsetConfig.Rule's names, in lb.SubsetRule's order.
var subsetRules = []string{"ring", "deterministic", "rendezvous"}

// rule returns s.Rule as lb.SubsetRule.
func (s SubsetConfig) rule() (lb.SubsetRule, error) {
	if s.Rule == "" {
		return lb.SubsetRing, nil
	}
	i := slices.Index(subsetRules, s.Rule)
	if i < 0 {
		return 0, fmt.Errorf("%w: field %q: unknown rule %q (known: %s)", lb.ErrConfig, "subset.rule", s.Rule, strings.Join(subsetRules, ", "))
	}
	return lb.SubsetRule(i), nil
}

// check checks what lb.Subset cannot: the rule's name, a rule without a
// size, and a subset of nanolb_shard's layout.
func (s SubsetConfig) check(policy lb.Policy) error {
	if _, err := s.rule(); err != nil {
		return err
	}
	switch {
	case s.Size == 0 && s.Rule != "":
		return fmt.Errorf("%w: field %q set without subset.size", lb.ErrConfig, "subset.rule")
	case s.Size != 0 && policy == lb.Shard:
		return fmt.Errorf("%w: field %q: %s routes each key to its shard, and keeps every shard", lb.ErrConfig, "subset", Name(policy))
	}
	return nil
}

// toLB returns s as lb.Subset for client; s is checked.
func (s SubsetConfig) toLB(client uint64) lb.Subset {
	if s.Size == 0 {
		return lb.Subset{}
	}
	r, _ := s.rule()
	return lb.Subset{Size: s.Size, Client: client, Rule: r}
}

// ZonesConfig is Config's "zones" object: lb.Zones's thresholds, the
// local zone and the clients' shares being the builder's (see Subsets and
// zones in the package documentation). A missing, null or zero field
// means lb's default, as in Config.
//
//	"zones": {"minEndpoints": 3, "forceLocal": 2}
type ZonesConfig struct {
	// MinEndpoints is lb.Zones.MinEndpoints: how many endpoints must be
	// READY and not ejected for routing by zone, 1..1<<20 (0: 6).
	MinEndpoints int `json:"minEndpoints,omitempty"`
	// ForceLocal is lb.Zones.ForceLocal: every RPC stays in the local zone
	// while at least this many of its endpoints are up, 1..1<<20 (0: off).
	ForceLocal int `json:"forceLocal,omitempty"`
}

// toLB returns z as lb.Zones for local zone local and client shares
// clients: zone-blind (the zero lb.Zones) when local is "".
func (z ZonesConfig) toLB(local string, clients *lb.ClientShares) lb.Zones {
	if local == "" {
		return lb.Zones{}
	}
	return lb.Zones{Local: local, Clients: clients, MinEndpoints: z.MinEndpoints, ForceLocal: z.ForceLocal}
}

// OutlierConfig is Config's "outlier" object, whose fields are
// lb.Outlier's (gRFC A50's outlier detection); a missing, null or zero
// field means lb's default, as in Config.
//
//	"outlier": {"interval": "10s", "minHosts": 3, "failurePercent": 50}
type OutlierConfig struct {
	// Off is lb.Outlier.Off: no ejection by success rate or failure
	// percentage. No other field may be set with it.
	Off bool `json:"off,omitempty"`
	// Interval is lb.Outlier.Interval: rates are evaluated at a failure
	// that comes this long after the previous evaluation, over the RPCs
	// since, 1ms..24h (0: 1s).
	Interval Duration `json:"interval,omitempty"`
	// MinHosts is lb.Outlier.MinHosts: how many endpoints need enough RPCs
	// in an interval for either rule to judge them, 2..10,000 (0: 5).
	MinHosts int `json:"minHosts,omitempty"`
	// StdevFactor is lb.Outlier.StdevFactor: an endpoint whose success
	// rate is below the mean less this many standard deviations is
	// ejected, 0.1..10 (0: 1.9).
	StdevFactor float64 `json:"stdevFactor,omitempty"`
	// MinRequests is lb.Outlier.MinRequests: the RPCs an endpoint needs in
	// an interval for the success-rate rule, 1..1<<30 (0: 100).
	MinRequests int `json:"minRequests,omitempty"`
	// FailurePercent is lb.Outlier.FailurePercent: an endpoint with this
	// percentage of its RPCs failed in an interval is ejected, 1..100 (0:
	// 85).
	FailurePercent int `json:"failurePercent,omitempty"`
	// FailureMinRequests is lb.Outlier.FailureMinRequests: the RPCs an
	// endpoint needs in an interval for the failure-percentage rule,
	// 1..1<<30 (0: 50).
	FailureMinRequests int `json:"failureMinRequests,omitempty"`
	// EjectFor is lb.Outlier.EjectFor: the first outlier ejection's
	// cooldown, k times as long for the k-th in a row, 1ms..24h (0: 30s).
	EjectFor Duration `json:"ejectFor,omitempty"`
	// MaxEjectFor is lb.Outlier.MaxEjectFor: the cap of that cooldown,
	// 1ms..24h and not under ejectFor (0: 5m, or ejectFor if longer).
	MaxEjectFor Duration `json:"maxEjectFor,omitempty"`
}

// toLB returns o as lb.Outlier.
func (o OutlierConfig) toLB() lb.Outlier {
	return lb.Outlier{
		Off:                o.Off,
		Interval:           time.Duration(o.Interval),
		MinHosts:           o.MinHosts,
		StdevFactor:        o.StdevFactor,
		MinRequests:        o.MinRequests,
		FailurePercent:     o.FailurePercent,
		FailureMinRequests: o.FailureMinRequests,
		EjectFor:           time.Duration(o.EjectFor),
		MaxEjectFor:        time.Duration(o.MaxEjectFor),
	}
}

// SlowStartConfig is Config's "slowStart" object, whose fields are
// lb.SlowStart's (Envoy's slow start); a missing, null or zero field means
// lb's default, as in Config.
//
//	"slowStart": {"window": "30s", "aggression": 2}
type SlowStartConfig struct {
	// Window is lb.SlowStart.Window: how long an endpoint's ramp lasts,
	// 1ms..24h (0: no slow start, and no other field may be set).
	Window Duration `json:"window,omitempty"`
	// Aggression is lb.SlowStart.Aggression: the ramp's shape, 1 linear in
	// time, more giving the endpoint its RPCs sooner, 0.1..10 (0: 1).
	Aggression float64 `json:"aggression,omitempty"`
	// MinWeightPercent is lb.SlowStart.MinWeightPercent: the share the ramp
	// starts from, as a percentage of the endpoint's full share, 1..100
	// (0: 10).
	MinWeightPercent int `json:"minWeightPercent,omitempty"`
}

// toLB returns s as lb.SlowStart.
func (s SlowStartConfig) toLB() lb.SlowStart {
	return lb.SlowStart{
		Window:           time.Duration(s.Window),
		Aggression:       s.Aggression,
		MinWeightPercent: s.MinWeightPercent,
	}
}

// LoadWeightsConfig is Config's "loadWeights" object: the fields of
// lb.LoadWeights under the names of gRFC A58's weighted_round_robin
// config, and where the reports come from. A missing, null or zero field means lb's
// default, as in Config; nanolb_weighted_round_robin alone takes it.
//
//	"loadWeights": {"enabled": true, "blackoutPeriod": "10s",
//		"enableOobLoadReport": true, "oobReportingPeriod": "10s"}
type LoadWeightsConfig struct {
	// Enabled is lb.LoadWeights.Enabled: weights follow the endpoints'
	// ORCA load reports, and WithWeight's are ignored. No other field may
	// be set without it.
	Enabled bool `json:"enabled,omitempty"`
	// BlackoutPeriod is lb.LoadWeights.BlackoutPeriod: how long an
	// endpoint reports before its weight counts, 1ms..24h (0: 10s).
	BlackoutPeriod Duration `json:"blackoutPeriod,omitempty"`
	// WeightExpirationPeriod is lb.LoadWeights.ExpirationPeriod: how long
	// a weight lasts without a new report, 1ms..24h (0: 3m).
	WeightExpirationPeriod Duration `json:"weightExpirationPeriod,omitempty"`
	// WeightUpdatePeriod is lb.LoadWeights.UpdatePeriod: how often
	// weights are recomputed, 100ms..24h (0: 1s).
	WeightUpdatePeriod Duration `json:"weightUpdatePeriod,omitempty"`
	// ErrorUtilizationPenalty is lb.LoadWeights.ErrorUtilizationPenalty:
	// how much an endpoint's errors per request add to its utilization,
	// 0.01..1000 (0: 1; unlike A58's, 0 is not "no penalty").
	ErrorUtilizationPenalty float64 `json:"errorUtilizationPenalty,omitempty"`
	// EnableOOBLoadReport takes the reports out of band, from a stream of
	// ORCA reports each connected endpoint sends every oobReportingPeriod
	// (its server needs orca.Register), instead of from the trailers of
	// each RPC, which are then ignored (A58). Only with enabled.
	EnableOOBLoadReport bool `json:"enableOobLoadReport,omitempty"`
	// OOBReportingPeriod is the report interval asked of each endpoint;
	// the server may send less often (grpc-go's orca service: at most
	// every 30 s unless configured otherwise). 1ms..24h (0: 10s), only
	// with enableOobLoadReport.
	OOBReportingPeriod Duration `json:"oobReportingPeriod,omitempty"`
}

// DefaultOOBReportingPeriod is the out-of-band report interval
// LoadWeightsConfig's zero OOBReportingPeriod asks for (A58's).
const DefaultOOBReportingPeriod = 10 * time.Second

// toLB returns w as lb.LoadWeights.
func (w LoadWeightsConfig) toLB() lb.LoadWeights {
	return lb.LoadWeights{
		Enabled:                 w.Enabled,
		BlackoutPeriod:          time.Duration(w.BlackoutPeriod),
		ExpirationPeriod:        time.Duration(w.WeightExpirationPeriod),
		UpdatePeriod:            time.Duration(w.WeightUpdatePeriod),
		ErrorUtilizationPenalty: w.ErrorUtilizationPenalty,
	}
}

// check checks the fields lb.LoadWeights does not have.
func (w LoadWeightsConfig) check() error {
	switch p := time.Duration(w.OOBReportingPeriod); {
	case w.EnableOOBLoadReport && !w.Enabled:
		return fmt.Errorf("%w: field %q set without loadWeights.enabled", lb.ErrConfig, "loadWeights.enableOobLoadReport")
	case p != 0 && !w.EnableOOBLoadReport:
		return fmt.Errorf("%w: field %q set without loadWeights.enableOobLoadReport", lb.ErrConfig, "loadWeights.oobReportingPeriod")
	case p != 0 && (p < time.Millisecond || p > 24*time.Hour):
		return fmt.Errorf("%w: field %q: %v is outside 1ms..24h (0 means %v)", lb.ErrConfig, "loadWeights.oobReportingPeriod", p, DefaultOOBReportingPeriod)
	}
	return nil
}

// perCall reports whether each RPC's ORCA report feeds lb: load weights
// on and no out-of-band stream in their place.
func (w LoadWeightsConfig) perCall() bool { return w.Enabled && !w.EnableOOBLoadReport }

// oobPeriod is the out-of-band report interval to ask for, 0 for none.
func (w LoadWeightsConfig) oobPeriod() time.Duration {
	switch {
	case !w.Enabled || !w.EnableOOBLoadReport:
		return 0
	case w.OOBReportingPeriod == 0:
		return DefaultOOBReportingPeriod
	}
	return time.Duration(w.OOBReportingPeriod)
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

// LB returns the lb.Config for policy with c's fields. Subset and Zones
// are left zero: they need the builder's client index and local zone, and
// a balancer subsets the endpoints it connects to rather than its pool's
// (see Subsets and zones in the package documentation).
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
		Outlier:             c.Outlier.toLB(),
		SlowStart:           c.SlowStart.toLB(),
		LoadWeights:         c.LoadWeights.toLB(),
	}
}

// object is a config object's JSON fields: their names as the JSON spells
// them, in declaration order, and each one's index in its struct.
type object struct {
	names []string
	index map[string]int
}

// objects are Config's fields and those of the objects nested in it, by
// type; fieldNames are the names ParseConfig's errors give them: Config's
// as the JSON spells them and, after each nested object's name, the
// object's as "outlier.minHosts".
var objects, fieldNames = func() (map[reflect.Type]object, []string) {
	objects := make(map[reflect.Type]object)
	var all []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		o := object{index: make(map[string]int)}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || name == "" {
				continue
			}
			o.names = append(o.names, name)
			o.index[name] = i
			all = append(all, path+name)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, path+name+".")
			}
		}
		objects[t] = o
	}
	walk(reflect.TypeFor[Config](), "")
	return objects, all
}()

// ParseConfig reads one balancer's JSON config for policy and checks it as
// lb.New would. Empty input, null, or null for a field means the default.
// An unknown field, trailing data, a wrongly typed value or a value out of
// range is an error wrapping lb.ErrConfig that names the field: as the
// JSON spells it, a nested object's after the object's name and a dot
// ("outlier.minHosts"), or for a value out of range as lb.Config does
// ("Outlier.MinHosts"; the JSON's name for a field lb.Config does not
// have, as "loadWeights.oobReportingPeriod").
func ParseConfig(policy lb.Policy, js []byte) (*Config, error) {
	c := new(Config)
	if len(bytes.TrimSpace(js)) > 0 {
		if err := c.read(js); err != nil {
			return nil, err
		}
	}
	if err := c.LoadWeights.check(); err != nil {
		return nil, err
	}
	if err := c.Subset.check(policy); err != nil {
		return nil, err
	}
	// Check the objects that need a locality with one that has a zone,
	// so their limits are lb's whatever the builder's.
	v := c.LB(policy)
	v.Subset = c.Subset.toLB(0)
	v.Zones = c.Zones.toLB("local", nil)
	p, err := lb.New(v)
	if err != nil {
		return nil, err
	}
	p.Close()
	return c, nil
}

// read sets c's fields from js, a JSON object or null (readObject).
func (c *Config) read(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return fmt.Errorf("%w: the config is not a JSON object: %v", lb.ErrConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the config object", lb.ErrConfig)
	}
	return readObject(reflect.ValueOf(c).Elem(), fields, "")
}

// readObject sets the fields of v, Config or an object nested in it, from
// fields, one at a time (in name order, so the first error is always the
// same one) so that each error names its field, after path: "" for
// Config, the object's name and a dot for a nested one. A field's name
// must match exactly: encoding/json matches names regardless of case, and
// a config with "ejectafter" is more likely a typo than a wish.
func readObject(v reflect.Value, fields map[string]json.RawMessage, path string) error {
	o := objects[v.Type()]
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		i, ok := o.index[name]
		if !ok {
			return fmt.Errorf("%w: unknown field %q (known: %s)", lb.ErrConfig, path+name, strings.Join(o.names, ", "))
		}
		if err := readField(v.Field(i), fields[name], path+name); err != nil {
			return err
		}
	}
	return nil
}

// readField sets f, the field named name, from js: a nested object field
// by field (null leaves it as it is), a Duration from its string, and
// anything else as encoding/json reads it.
func readField(f reflect.Value, js json.RawMessage, name string) error {
	var err error
	switch p := f.Addr().Interface().(type) {
	case *Duration:
		err = p.parse(js)
	default:
		if _, nested := objects[f.Type()]; !nested {
			err = json.Unmarshal(js, p)
			break
		}
		if string(bytes.TrimSpace(js)) == "null" {
			return nil
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(js, &fields) != nil {
			return fmt.Errorf("%w: field %q: %s is not a JSON object", lb.ErrConfig, name, js)
		}
		return readObject(f, fields, name+".")
	}
	if err != nil {
		return fmt.Errorf("%w: field %q: %v", lb.ErrConfig, name, err)
	}
	return nil
}
