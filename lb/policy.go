package lb

import "fmt"

// Policy selects how a Pool picks among its endpoints that are up. Each
// policy's algorithm is in the file named for it (p2c.go, roundrobin.go,
// ...); its constants and tables are generated from the table in gen/.
type Policy uint8

// String returns the policy's name, nanolb's own spelling: "p2c",
// "round_robin", "least_loaded", "weighted_round_robin", "peak_ewma",
// "random", "consistent_hash" or "shard"; "unknown" for an undefined
// Policy.
func (p Policy) String() string {
	if p.valid() {
		return policyLabels[p]
	}
	return "unknown"
}

func (p Policy) valid() bool { return int(p) < len(policyLabels) }

// Policies returns every policy, in Policy order.
func Policies() []Policy {
	out := make([]Policy, len(policyLabels))
	for i := range out {
		out[i] = Policy(i)
	}
	return out
}

// ParsePolicy returns the policy named name (as String spells it). An
// unknown name is an error wrapping ErrConfig.
func ParsePolicy(name string) (Policy, error) {
	for i, label := range policyLabels {
		if label == name {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown policy %q (one of %v)", ErrConfig, name, policyLabels)
}

// MarshalText implements encoding.TextMarshaler with String's names. An
// undefined Policy is an error wrapping ErrConfig.
func (p Policy) MarshalText() ([]byte, error) {
	if !p.valid() {
		return nil, fmt.Errorf("%w: unknown policy %d", ErrConfig, int(p))
	}
	return []byte(policyLabels[p]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, as ParsePolicy: so a
// JSON, YAML or flag value can name a policy. On an error p is unchanged.
func (p *Policy) UnmarshalText(text []byte) error {
	q, err := ParsePolicy(string(text))
	if err != nil {
		return err
	}
	*p = q
	return nil
}
