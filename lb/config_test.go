package lb

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestZeroConfigMeansTheDocumentedDefaults(t *testing.T) {
	s, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		policy:       P2C,
		ejectAfter:   DefaultEjectAfter,
		ejectFor:     micros(DefaultEjectFor),
		maxEjectFor:  micros(DefaultMaxEjectFor),
		probeTimeout: micros(DefaultProbeTimeout),
		maxPercent:   DefaultMaxEjectedPercent,
		jitter:       true,
		ewmaDecay:    float64(DefaultEWMADecay),
		loadFactor:   DefaultHashLoadFactor,
		maxWaiters:   DefaultMaxWaiters,
		maxWait:      DefaultMaxWait,
		waitTarget:   DefaultWaitTarget,
		waitInterval: DefaultWaitInterval,
		timeoutGrace: micros(DefaultTimeoutGrace),
		outlier: outliers{on: true, interval: micros(DefaultOutlierInterval), minHosts: DefaultOutlierMinHosts, factor: DefaultStdevFactor,
			minRequests: DefaultOutlierMinRequests, minFails: DefaultFailureMinRequests, failPercent: DefaultFailurePercent,
			ejectFor: micros(DefaultOutlierEjectFor), maxEjectFor: micros(DefaultOutlierMaxEjectFor)},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Config{} resolved to %+v, want %+v", s, want)
	}
}

func TestALongEjectForRaisesTheDefaultCap(t *testing.T) {
	s, err := Config{EjectFor: 2 * time.Minute}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.maxEjectFor != micros(2*time.Minute) {
		t.Fatalf("default MaxEjectFor with EjectFor 2m = %dµs, want 2m", s.maxEjectFor)
	}
}

func TestShedSettings(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              Config
		target, interval time.Duration
	}{
		{"NoShed turns shedding off", Config{NoShed: true}, 0, 0},
		{"a long WaitTarget raises the default interval", Config{WaitTarget: time.Second}, time.Second, time.Second},
		{"both set are kept", Config{WaitTarget: time.Millisecond, WaitInterval: 50 * time.Millisecond}, time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.cfg.resolve()
			if err != nil || s.waitTarget != tc.target || s.waitInterval != tc.interval {
				t.Fatalf("resolved to %v, %v (%v); want %v, %v", s.waitTarget, s.waitInterval, err, tc.target, tc.interval)
			}
		})
	}
}

func TestAdaptiveConcurrencyDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg           Config
		limit, minLim int64
	}{
		{Config{AdaptiveConcurrency: true}, DefaultMaxAdaptive, DefaultMinConcurrency},
		{Config{AdaptiveConcurrency: true, MaxConcurrency: 2}, 2, 2},
		{Config{AdaptiveConcurrency: true, MaxConcurrency: 50, MinConcurrency: 7}, 50, 7},
	} {
		s, err := tc.cfg.resolve()
		if err != nil || !s.adaptive || s.limit != tc.limit || int64(s.minLimit) != tc.minLim {
			t.Errorf("%+v resolved to limit %d, min %d, adaptive %v (%v); want %d, %d, true", tc.cfg, s.limit, s.minLimit, s.adaptive, err, tc.limit, tc.minLim)
		}
	}
}

func TestBadConfigIsAnErrorAndNoPool(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"a negative EjectAfter", Config{EjectAfter: -1}},
		{"an EjectAfter past the streak field", Config{EjectAfter: 256}},
		{"a negative EjectFor", Config{EjectFor: -time.Second}},
		{"a negative MaxEjectFor", Config{MaxEjectFor: -time.Second}},
		{"a negative ProbeTimeout", Config{ProbeTimeout: -1}},
		{"a MaxEjectFor shorter than EjectFor", Config{EjectFor: 2 * time.Second, MaxEjectFor: time.Second}},
		{"a duration below a microsecond", Config{EjectFor: time.Nanosecond}},
		{"a duration over a day", Config{ProbeTimeout: 25 * time.Hour}},
		{"a negative MaxEjectedPercent", Config{MaxEjectedPercent: -1}},
		{"a MaxEjectedPercent over 100", Config{MaxEjectedPercent: 101}},
		{"an unknown policy", Config{Policy: Policy(200)}},
		{"a negative EWMADecay", Config{EWMADecay: -time.Second}},
		{"a HashLoadFactor below 1", Config{HashLoadFactor: 0.5}},
		{"a NaN HashLoadFactor", Config{HashLoadFactor: math.NaN()}},
		{"a negative HashReplicas", Config{HashReplicas: -1}},
		{"too many HashReplicas", Config{HashReplicas: 10001}},
		{"a negative MaxConcurrency", Config{MaxConcurrency: -1}},
		{"a MaxConcurrency past 2^30", Config{MaxConcurrency: 1<<30 + 1}},
		{"a negative MaxWaiters", Config{MaxWaiters: -1}},
		{"a MaxWaiters past 2^20", Config{MaxWaiters: 1<<20 + 1}},
		{"a negative MaxWait", Config{MaxWait: -time.Second}},
		{"a MaxWait over a day", Config{MaxWait: 25 * time.Hour}},
		{"a negative WaitTarget", Config{WaitTarget: -time.Millisecond}},
		{"a WaitTarget over a day", Config{WaitTarget: 25 * time.Hour}},
		{"a WaitInterval below a microsecond", Config{WaitInterval: time.Nanosecond}},
		{"a WaitTarget longer than WaitInterval", Config{WaitTarget: time.Second, WaitInterval: time.Millisecond}},
		{"NoShed with a WaitTarget", Config{NoShed: true, WaitTarget: time.Millisecond}},
		{"NoShed with a WaitInterval", Config{NoShed: true, WaitInterval: time.Second}},
		{"a negative TimeoutGrace", Config{TimeoutGrace: -time.Second}},
		{"a TimeoutGrace over a day", Config{TimeoutGrace: 25 * time.Hour}},
		{"MinConcurrency without AdaptiveConcurrency", Config{MinConcurrency: 3}},
		{"a negative MinConcurrency", Config{AdaptiveConcurrency: true, MinConcurrency: -1}},
		{"a MinConcurrency over MaxConcurrency", Config{AdaptiveConcurrency: true, MinConcurrency: 9, MaxConcurrency: 8}},
		{"a MinConcurrency over the default cap", Config{AdaptiveConcurrency: true, MinConcurrency: DefaultMaxAdaptive + 1}},
		{"Outlier.Off with a field set", Config{Outlier: Outlier{Off: true, MinHosts: 3}}},
		{"an Outlier.Interval below a millisecond", Config{Outlier: Outlier{Interval: time.Microsecond}}},
		{"an Outlier.MinHosts of 1", Config{Outlier: Outlier{MinHosts: 1}}},
		{"a NaN Outlier.StdevFactor", Config{Outlier: Outlier{StdevFactor: math.NaN()}}},
		{"an Outlier.StdevFactor over 10", Config{Outlier: Outlier{StdevFactor: 11}}},
		{"a negative Outlier.MinRequests", Config{Outlier: Outlier{MinRequests: -1}}},
		{"an Outlier.FailurePercent over 100", Config{Outlier: Outlier{FailurePercent: 101}}},
		{"a negative Outlier.FailureMinRequests", Config{Outlier: Outlier{FailureMinRequests: -1}}},
		{"a negative Outlier.EjectFor", Config{Outlier: Outlier{EjectFor: -time.Second}}},
		{"an Outlier.MaxEjectFor shorter than its EjectFor", Config{Outlier: Outlier{EjectFor: time.Minute, MaxEjectFor: time.Second}}},
		{"a SlowStart.Aggression without a Window", Config{SlowStart: SlowStart{Aggression: 2}}},
		{"a SlowStart.Window below a millisecond", Config{SlowStart: SlowStart{Window: time.Microsecond}}},
		{"a SlowStart.Aggression over 10", Config{SlowStart: SlowStart{Window: time.Second, Aggression: 11}}},
		{"a NaN SlowStart.Aggression", Config{SlowStart: SlowStart{Window: time.Second, Aggression: math.NaN()}}},
		{"a SlowStart.MinWeightPercent over 100", Config{SlowStart: SlowStart{Window: time.Second, MinWeightPercent: 101}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg, "a:1")
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v, want an error wrapping ErrConfig", err)
			}
			if p != nil {
				t.Fatal("New returned a pool with its error")
			}
		})
	}
}

func TestEjectionBudget(t *testing.T) {
	for _, tc := range []struct{ n, percent, want int }{
		{n: 1, percent: 10, want: 0},      // the only endpoint always stays in below 100%
		{n: 2, percent: 10, want: 1},      // at least one ejection is allowed
		{n: 10, percent: 10, want: 1},     // 10% of 10
		{n: 100, percent: 10, want: 10},   // 10% of 100
		{n: 3, percent: 99, want: 2},      // never all below 100%
		{n: 3, percent: 100, want: 3},     // all at 100%
		{n: 0, percent: 10, want: -1},     // an empty pool has nothing to eject
		{n: 1000, percent: 50, want: 500}, // the share as given
	} {
		s := settings{maxPercent: tc.percent}
		if got := s.maxEjected(tc.n); got != tc.want && !(tc.n == 0 && got <= 0) {
			t.Errorf("maxEjected(n=%d, %d%%) = %d, want %d", tc.n, tc.percent, got, tc.want)
		}
	}
}

func TestPolicyNames(t *testing.T) {
	for p, want := range map[Policy]string{P2C: "p2c", RoundRobin: "round_robin", Policy(99): "unknown"} {
		if got := p.String(); got != want {
			t.Errorf("Policy(%d).String() = %q, want %q", p, got, want)
		}
	}
	if P2C != 0 {
		t.Error("P2C must be the zero Policy")
	}
}

func TestPoliciesRoundTripThroughTheirNames(t *testing.T) {
	for _, pol := range Policies() {
		text, err := pol.MarshalText()
		if err != nil || string(text) != pol.String() {
			t.Fatalf("%d.MarshalText() = %q, %v", pol, text, err)
		}
		var back Policy = 255
		if err := back.UnmarshalText(text); err != nil || back != pol {
			t.Fatalf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
		if parsed, err := ParsePolicy(pol.String()); err != nil || parsed != pol {
			t.Fatalf("ParsePolicy(%q) = %v, %v", pol.String(), parsed, err)
		}
	}
	var cfg struct{ Policy Policy }
	if err := json.Unmarshal([]byte(`{"Policy":"least_loaded"}`), &cfg); err != nil || cfg.Policy != LeastLoaded {
		t.Fatalf("a config file naming least_loaded: %v, %v", cfg.Policy, err)
	}
	keep := RoundRobin
	for _, bad := range []string{"", "P2C", "roundrobin", "unknown"} {
		if _, err := ParsePolicy(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParsePolicy(%q): %v, want ErrConfig", bad, err)
		}
		if err := keep.UnmarshalText([]byte(bad)); !errors.Is(err, ErrConfig) || keep != RoundRobin {
			t.Errorf("UnmarshalText(%q): %v, policy now %v", bad, err, keep)
		}
	}
	if _, err := Policy(200).MarshalText(); !errors.Is(err, ErrConfig) {
		t.Errorf("MarshalText of an undefined policy: %v", err)
	}
}

// Durations round up to the health clock's microsecond, never down: a
// cooldown or window is never shorter than asked.
func TestDurationsRoundUpToTheMicrosecond(t *testing.T) {
	s, err := Config{EjectFor: time.Second + 999, ProbeTimeout: 1500 * time.Nanosecond, MaxWait: time.Millisecond + 1}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.ejectFor != 1000001 || s.probeTimeout != 2 || s.maxWait != time.Millisecond+time.Microsecond {
		t.Fatalf("rounded to %dµs, %dµs, %v; want 1000001µs, 2µs, 1.001ms", s.ejectFor, s.probeTimeout, s.maxWait)
	}
}
