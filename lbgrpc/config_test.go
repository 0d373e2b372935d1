package lbgrpc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

func TestParseConfigReadsEveryField(t *testing.T) {
	c, err := ParseConfig(lb.ConsistentHash, []byte(`{"ejectAfter": 3, "ejectFor": "1.5s",
		"maxEjectFor": "2m", "maxEjectedPercent": 30, "probeTimeout": "250ms", "ewmaDecay": "3s",
		"hashLoadFactor": 1.5, "hashReplicas": 40, "noJitter": true, "maxConcurrency": 7,
		"adaptiveConcurrency": true, "minConcurrency": 2, "timeoutGrace": "3s",
		"outlier": {"interval": "10s", "minHosts": 3, "stdevFactor": 2.5, "minRequests": 20,
			"failurePercent": 60, "failureMinRequests": 30},
		"slowStart": {"window": "30s", "aggression": 2, "minWeightPercent": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := lb.Config{Policy: lb.ConsistentHash, EjectAfter: 3, EjectFor: 1500 * time.Millisecond,
		MaxEjectFor: 2 * time.Minute, MaxEjectedPercent: 30, ProbeTimeout: 250 * time.Millisecond,
		EWMADecay: 3 * time.Second, HashLoadFactor: 1.5, HashReplicas: 40, NoJitter: true,
		MaxConcurrency: 7, AdaptiveConcurrency: true, MinConcurrency: 2, TimeoutGrace: 3 * time.Second,
		Outlier: lb.Outlier{Interval: 10 * time.Second, MinHosts: 3, StdevFactor: 2.5, MinRequests: 20,
			FailurePercent: 60, FailureMinRequests: 30},
		SlowStart: lb.SlowStart{Window: 30 * time.Second, Aggression: 2, MinWeightPercent: 5}}
	if got := c.LB(lb.ConsistentHash); got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseConfigReadsLoadWeights(t *testing.T) {
	c, err := ParseConfig(lb.WeightedRoundRobin, []byte(`{"loadWeights": {"enabled": true,
		"blackoutPeriod": "5s", "weightExpirationPeriod": "2m", "weightUpdatePeriod": "500ms",
		"errorUtilizationPenalty": 2.5, "enableOobLoadReport": true, "oobReportingPeriod": "30s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := lb.Config{Policy: lb.WeightedRoundRobin, LoadWeights: lb.LoadWeights{Enabled: true,
		BlackoutPeriod: 5 * time.Second, ExpirationPeriod: 2 * time.Minute,
		UpdatePeriod: 500 * time.Millisecond, ErrorUtilizationPenalty: 2.5}}
	if got := c.LB(lb.WeightedRoundRobin); got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if !c.LoadWeights.EnableOOBLoadReport || c.LoadWeights.oobPeriod() != 30*time.Second || c.LoadWeights.perCall() {
		t.Fatalf("out-of-band settings %+v", c.LoadWeights)
	}
}

func TestLoadWeightsConfigSaysWhereReportsComeFrom(t *testing.T) {
	tests := []struct {
		js      string
		perCall bool
		oob     time.Duration
	}{
		{`{}`, false, 0},
		{`{"loadWeights": {"enabled": true}}`, true, 0},
		{`{"loadWeights": {"enabled": true, "enableOobLoadReport": true}}`, false, DefaultOOBReportingPeriod},
		{`{"loadWeights": {"enabled": true, "enableOobLoadReport": true, "oobReportingPeriod": "1s"}}`, false, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.js, func(t *testing.T) {
			c, err := ParseConfig(lb.WeightedRoundRobin, []byte(tt.js))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.LoadWeights.perCall(); got != tt.perCall {
				t.Errorf("per-call reports %v, want %v", got, tt.perCall)
			}
			if got := c.LoadWeights.oobPeriod(); got != tt.oob {
				t.Errorf("out-of-band period %v, want %v", got, tt.oob)
			}
		})
	}
}

// "subset" and "zones" stay out of Config.LB: a balancer applies them
// with its builder's client index and local zone.
func TestParseConfigReadsSubsetAndZones(t *testing.T) {
	c, err := ParseConfig(lb.P2C, []byte(`{"subset": {"size": 30, "rule": "rendezvous"},
		"zones": {"minEndpoints": 3, "forceLocal": 2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subset != (SubsetConfig{Size: 30, Rule: "rendezvous"}) || c.Zones != (ZonesConfig{MinEndpoints: 3, ForceLocal: 2}) {
		t.Fatalf("subset %+v, zones %+v", c.Subset, c.Zones)
	}
	if got := c.LB(lb.P2C); got != (lb.Config{}) {
		t.Fatalf("LB = %+v, want the zero config", got)
	}
	if got, want := c.Subset.toLB(7), (lb.Subset{Size: 30, Client: 7, Rule: lb.SubsetRendezvous}); got != want {
		t.Fatalf("subset for client 7 = %+v, want %+v", got, want)
	}
	for rule, want := range map[string]lb.SubsetRule{"": lb.SubsetRing, "ring": lb.SubsetRing,
		"deterministic": lb.SubsetDeterministic, "rendezvous": lb.SubsetRendezvous} {
		if got, err := (SubsetConfig{Size: 1, Rule: rule}).rule(); got != want || err != nil {
			t.Errorf("rule %q = %v, %v; want %v", rule, got, err, want)
		}
	}

	shares, err := lb.NewClientShares(map[string]float64{"a": 1, "b": 1})
	if err != nil {
		t.Fatal(err)
	}
	zoned := &builder{policy: lb.P2C, zone: "a", shares: shares}
	want := lb.Config{Policy: lb.P2C, Zones: lb.Zones{Local: "a", Clients: shares, MinEndpoints: 3, ForceLocal: 2}}
	if got := zoned.poolConfig(c); got != want {
		t.Fatalf("pool config with local zone a = %+v, want %+v", got, want)
	}
	if got := (&builder{policy: lb.P2C, shares: shares}).poolConfig(c); got != (lb.Config{Policy: lb.P2C}) {
		t.Fatalf("pool config without a local zone = %+v, want zones off", got)
	}
}

// nanolb_shard routes each key to its shard: a subset of its layout would
// leave keys nowhere to go.
func TestParseConfigRejectsASubsetOfShards(t *testing.T) {
	_, err := ParseConfig(lb.Shard, []byte(`{"subset": {"size": 3}}`))
	if !errors.Is(err, lb.ErrConfig) || !strings.Contains(err.Error(), `field "subset"`) {
		t.Fatalf("nanolb_shard with a subset: %v, want lb.ErrConfig naming field \"subset\"", err)
	}
	if _, err := ParseConfig(lb.Shard, []byte(`{"zones": {"minEndpoints": 3}}`)); err != nil {
		t.Fatalf("nanolb_shard with zones: %v", err)
	}
}

func TestParseConfigTakesNothingAsDefaults(t *testing.T) {
	for _, js := range []string{``, ` `, `{}`, `null`} {
		c, err := ParseConfig(lb.P2C, []byte(js))
		if err != nil {
			t.Fatalf("%q: %v", js, err)
		}
		if got := c.LB(lb.P2C); got != (lb.Config{}) {
			t.Fatalf("%q: %+v, want the zero config", js, got)
		}
	}
}

func TestParseConfigRejectsBadInputNamingIt(t *testing.T) {
	tests := []struct {
		js, mention string
	}{
		{`{"ejectAfter": -1}`, "EjectAfter"},
		{`{"ejectAfter": 256}`, "EjectAfter"},
		{`{"ejectFor": "-1s"}`, "EjectFor"},
		{`{"ejectFor": "2s", "maxEjectFor": "1s"}`, "shorter"},
		{`{"ejectFor": 5}`, "not a string"},
		{`{"ejectFor": "5 parsecs"}`, "5 parsecs"},
		{`{"maxEjectedPercent": 101}`, "MaxEjectedPercent"},
		{`{"hashLoadFactor": 0.5}`, "HashLoadFactor"},
		{`{"hashReplicas": 10001}`, "HashReplicas"},
		{`{"ejectafter": 3}`, `unknown field "ejectafter"`},
		{`{"maxConcurrency": -1}`, "MaxConcurrency"},
		{`{"maxConcurrency": 1073741825}`, "MaxConcurrency"},
		{`{"minConcurrency": 3}`, "MinConcurrency"},
		{`{"adaptiveConcurrency": true, "maxConcurrency": 2, "minConcurrency": 3}`, "MinConcurrency"},
		{`{"timeoutGrace": "-1s"}`, "TimeoutGrace"},
		{`{"outlier": {"off": true, "interval": "1s"}}`, "Outlier.Off"},
		{`{"outlier": {"interval": "1us"}}`, "Outlier.Interval"},
		{`{"outlier": {"interval": "-1s"}}`, "Outlier.Interval"},
		{`{"outlier": {"minHosts": 1}}`, "Outlier.MinHosts"},
		{`{"outlier": {"stdevFactor": 11}}`, "Outlier.StdevFactor"},
		{`{"outlier": {"minRequests": -1}}`, "Outlier.MinRequests"},
		{`{"outlier": {"failurePercent": 101}}`, "Outlier.FailurePercent"},
		{`{"outlier": {"failureMinRequests": 1073741825}}`, "Outlier.FailureMinRequests"},
		{`{"outlier": {"minhosts": 3}}`, `unknown field "outlier.minhosts" (known: off, interval, minHosts,`},
		{`{"Outlier": {}}`, `unknown field "Outlier"`},
		{`{"slowStart": {"aggression": 2}}`, "without a Window"},
		{`{"slowStart": {"window": "-1s"}}`, "SlowStart.Window"},
		{`{"slowStart": {"window": "1s", "aggression": 20}}`, "SlowStart.Aggression"},
		{`{"slowStart": {"window": "1s", "minWeightPercent": 101}}`, "SlowStart.MinWeightPercent"},
		{`{"slowStart": {"window": "1s", "rampUp": true}}`, `unknown field "slowStart.rampUp"`},
		{`{"loadWeights": {"enabled": true}}`, "LoadWeights needs the weighted_round_robin policy"},
		{`{"loadWeights": {"blackoutPeriod": "1s"}}`, "LoadWeights fields set without Enabled"},
		{`{"loadWeights": {"expirationPeriod": "1s"}}`, `unknown field "loadWeights.expirationPeriod" (known: enabled, blackoutPeriod, weightExpirationPeriod,`},
		{`{"loadWeights": {"enableOobLoadReport": true}}`, `field "loadWeights.enableOobLoadReport" set without loadWeights.enabled`},
		{`{"loadWeights": {"oobReportingPeriod": "1s"}}`, `field "loadWeights.oobReportingPeriod" set without loadWeights.enableOobLoadReport`},
		{`{"subset": {"size": -1}}`, "Subset.Size"},
		{`{"subset": {"size": 65537}}`, "Subset.Size"},
		{`{"subset": {"rule": "ring"}}`, `field "subset.rule" set without subset.size`},
		{`{"subset": {"size": 3, "rule": "random"}}`, `field "subset.rule": unknown rule "random" (known: ring, deterministic, rendezvous)`},
		{`{"subset": {"size": 3, "rule": "Ring"}}`, `unknown rule "Ring"`},
		{`{"subset": {"size": 3, "client": 7}}`, `unknown field "subset.client" (known: size, rule)`},
		{`{"zones": {"minEndpoints": -1}}`, "Zones.MinEndpoints"},
		{`{"zones": {"minEndpoints": 1048577}}`, "Zones.MinEndpoints"},
		{`{"zones": {"forceLocal": -1}}`, "Zones.ForceLocal"},
		{`{"zones": {"local": "us-east-1a"}}`, `unknown field "zones.local" (known: minEndpoints, forceLocal)`},
		{`{"maxWaiters": 3}`, `unknown field "maxWaiters"`},
		{`{"maxWait": "1s"}`, `unknown field "maxWait"`},
		{`{"noJitter": "yes"}`, "noJitter"},
		{`{} {}`, "after the config"},
		{`[1]`, "cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.js, func(t *testing.T) {
			_, err := ParseConfig(lb.P2C, []byte(tt.js))
			if !errors.Is(err, lb.ErrConfig) {
				t.Fatalf("error %v does not wrap lb.ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestParseConfigRejectsBadLoadWeightsNamingThem(t *testing.T) {
	tests := []struct {
		js, mention string
	}{
		{`{"blackoutPeriod": "-1s"}`, "LoadWeights.BlackoutPeriod"},
		{`{"blackoutPeriod": "1us"}`, "LoadWeights.BlackoutPeriod"},
		{`{"weightExpirationPeriod": "25h"}`, "LoadWeights.ExpirationPeriod"},
		{`{"weightUpdatePeriod": "10ms"}`, "LoadWeights.UpdatePeriod"},
		{`{"errorUtilizationPenalty": -1}`, "LoadWeights.ErrorUtilizationPenalty"},
		{`{"errorUtilizationPenalty": 1001}`, "LoadWeights.ErrorUtilizationPenalty"},
		{`{"enableOobLoadReport": true, "oobReportingPeriod": "-1s"}`, `field "loadWeights.oobReportingPeriod": -1s is outside 1ms..24h`},
		{`{"enableOobLoadReport": true, "oobReportingPeriod": "1us"}`, `field "loadWeights.oobReportingPeriod": 1µs is outside 1ms..24h`},
		{`{"enableOobLoadReport": true, "oobReportingPeriod": "25h"}`, `field "loadWeights.oobReportingPeriod": 25h0m0s is outside 1ms..24h`},
		{`{"enableOobLoadReport": "yes"}`, `field "loadWeights.enableOobLoadReport"`},
		{`{"oobReportingPeriod": 10}`, `field "loadWeights.oobReportingPeriod": duration 10 is not a string`},
	}
	for _, tt := range tests {
		js := strings.Replace(tt.js, "{", `{"enabled": true, `, 1)
		js = `{"loadWeights": ` + js + `}`
		t.Run(js, func(t *testing.T) {
			_, err := ParseConfig(lb.WeightedRoundRobin, []byte(js))
			if !errors.Is(err, lb.ErrConfig) {
				t.Fatalf("error %v does not wrap lb.ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

// withField returns a config with the field name (a nested one as
// "outlier.minHosts") set to the JSON value v.
func withField(name, v string) string {
	if object, field, nested := strings.Cut(name, "."); nested {
		return fmt.Sprintf(`{%q: {%q: %s}}`, object, field, v)
	}
	return fmt.Sprintf(`{%q: %s}`, name, v)
}

// Every field's wrongly typed value is an error that names the field as
// the JSON spells it, a nested object's field after the object's name.
func TestParseConfigNamesEveryWronglyTypedField(t *testing.T) {
	bad := map[string][]string{
		"ejectAfter":          {`"3"`, `1.5`, `true`},
		"ejectFor":            {`5`, `"5 parsecs"`, `true`, `{}`},
		"maxEjectFor":         {`5`, `"5 parsecs"`, `[]`},
		"maxEjectedPercent":   {`"30"`, `30.5`},
		"probeTimeout":        {`5`, `"soon"`},
		"ewmaDecay":           {`5`, `"10"`},
		"hashLoadFactor":      {`"1.5"`, `false`},
		"hashReplicas":        {`"40"`, `4.5`},
		"noJitter":            {`"yes"`, `1`},
		"maxConcurrency":      {`"7"`, `-0.5`},
		"adaptiveConcurrency": {`"yes"`, `1`},
		"minConcurrency":      {`"3"`, `2.5`},
		"timeoutGrace":        {`1`, `"a while"`},

		"outlier":                    {`5`, `"on"`, `true`, `[]`},
		"outlier.off":                {`"yes"`, `1`},
		"outlier.interval":           {`1`, `"every second"`},
		"outlier.minHosts":           {`"5"`, `2.5`},
		"outlier.stdevFactor":        {`"1.9"`, `true`},
		"outlier.minRequests":        {`"100"`, `0.5`},
		"outlier.failurePercent":     {`"85"`, `85.5`},
		"outlier.failureMinRequests": {`"50"`, `[50]`},
		"outlier.ejectFor":           {`30`, `"half a minute"`},
		"outlier.maxEjectFor":        {`300`, `"later"`},

		"slowStart":                  {`10`, `"10s"`, `false`},
		"slowStart.window":           {`10`, `"ten seconds"`},
		"slowStart.aggression":       {`"1"`, `{}`},
		"slowStart.minWeightPercent": {`"10"`, `10.5`},

		"loadWeights":                         {`1`, `"on"`, `true`},
		"loadWeights.enabled":                 {`"true"`, `1`},
		"loadWeights.blackoutPeriod":          {`10`, `"a while"`},
		"loadWeights.weightExpirationPeriod":  {`180`, `"3 minutes"`},
		"loadWeights.weightUpdatePeriod":      {`1`, `"1 second"`},
		"loadWeights.errorUtilizationPenalty": {`"1.0"`, `[]`},
		"loadWeights.enableOobLoadReport":     {`"false"`, `0`},
		"loadWeights.oobReportingPeriod":      {`10`, `"10 s"`},

		"subset":             {`30`, `"ring"`, `[]`},
		"subset.size":        {`"30"`, `2.5`},
		"subset.rule":        {`1`, `true`, `["ring"]`},
		"zones":              {`6`, `"local"`, `true`},
		"zones.minEndpoints": {`"6"`, `1.5`},
		"zones.forceLocal":   {`"2"`, `false`},
	}
	for _, name := range fieldNames {
		if len(bad[name]) == 0 {
			t.Errorf("no wrongly typed value to try for field %q", name)
		}
		for _, v := range bad[name] {
			// A good field beside it: the error must name the bad one.
			js := strings.Replace(withField(name, v), "{", `{"ejectAfter": 2, `, 1)
			if name == "ejectAfter" {
				js = fmt.Sprintf(`{"maxConcurrency": 2, %q: %s}`, name, v)
			}
			t.Run(js, func(t *testing.T) {
				_, err := ParseConfig(lb.P2C, []byte(js))
				if !errors.Is(err, lb.ErrConfig) {
					t.Fatalf("error %v does not wrap lb.ErrConfig", err)
				}
				if want := fmt.Sprintf("field %q", name); !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %s", err, want)
				}
			})
		}
	}
}

// null is the default for every field, as a missing field is.
func TestParseConfigTakesNullFieldsAsDefaults(t *testing.T) {
	for _, name := range fieldNames {
		js := withField(name, "null")
		c, err := ParseConfig(lb.P2C, []byte(js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if got := c.LB(lb.P2C); got != (lb.Config{}) {
			t.Fatalf("%s: %+v, want the zero config", js, got)
		}
	}
}

func TestDurationWritesWhatItReads(t *testing.T) {
	d := Duration(1500 * time.Millisecond)
	js, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Duration
	if err := back.UnmarshalJSON(js); err != nil || back != d {
		t.Fatalf("%s read back as %v, %v", js, time.Duration(back), err)
	}
}

func TestNewBuilderRejectsBadInput(t *testing.T) {
	if _, err := NewBuilder("", lb.P2C); !errors.Is(err, lb.ErrName) {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := NewBuilder("x", lb.Policy(200)); !errors.Is(err, lb.ErrConfig) {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestWithWeight(t *testing.T) {
	e, err := WithWeight(endpoints([]*server{{addr: "a"}})[0], 7)
	if err != nil || Weight(e) != 7 {
		t.Fatalf("weight %d, %v", Weight(e), err)
	}
	if _, err := WithWeight(e, -1); !errors.Is(err, lb.ErrAddress) {
		t.Fatalf("negative weight: %v", err)
	}
	if _, err := WithWeight(e, lb.MaxWeight+1); !errors.Is(err, lb.ErrAddress) {
		t.Fatalf("weight over lb.MaxWeight: %v", err)
	}
	if w := Weight(endpoints([]*server{{addr: "b"}})[0]); w != 1 {
		t.Fatalf("no weight set: %d, want 1", w)
	}
}
