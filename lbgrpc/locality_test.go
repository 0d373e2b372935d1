package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"google.golang.org/grpc/resolver"
)

// The options' locality, and the environment's, settle in NewBuilder:
// an explicit option wins over the environment whatever their order.
func TestBuilderLocality(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		opts       []Option
		zone       string
		client     uint64
		fromOption bool // the client index is set, not drawn
	}{
		{"no option knows no zone and draws the index", nil, nil, "", 0, false},
		{"options set both", nil, []Option{WithLocalZone("a"), WithClientIndex(3)}, "a", 3, true},
		{"the environment sets both", map[string]string{discovery.EnvZone: "b", discovery.EnvClientIndex: "5"},
			[]Option{WithLocalityFromEnv()}, "b", 5, true},
		{"the environment is ignored unless asked", map[string]string{discovery.EnvZone: "b", discovery.EnvClientIndex: "5"},
			nil, "", 0, false},
		{"an option after the environment wins", map[string]string{discovery.EnvZone: "b", discovery.EnvClientIndex: "5"},
			[]Option{WithLocalityFromEnv(), WithLocalZone("a")}, "a", 5, true},
		{"an option before the environment wins", map[string]string{discovery.EnvZone: "b", discovery.EnvClientIndex: "5"},
			[]Option{WithClientIndex(1), WithLocalityFromEnv()}, "b", 1, true},
		{"an empty local zone turns the environment's off", map[string]string{discovery.EnvZone: "b", discovery.EnvClientIndex: "5"},
			[]Option{WithLocalZone(""), WithLocalityFromEnv()}, "", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(discovery.EnvZone, "")
			t.Setenv(discovery.EnvClientIndex, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			bb, err := NewBuilder("x", lb.P2C, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			b := bb.(*builder)
			if b.zone != tt.zone || b.hasClient != tt.fromOption || (tt.fromOption && b.client != tt.client) {
				t.Fatalf("zone %q, client %d (set %v); want %q, %d (set %v)", b.zone, b.client, b.hasClient, tt.zone, tt.client, tt.fromOption)
			}
		})
	}
}

func TestNewBuilderRejectsABadLocality(t *testing.T) {
	t.Setenv(discovery.EnvZone, "")
	t.Setenv(discovery.EnvClientIndex, "seven")
	_, err := NewBuilder("x", lb.P2C, WithLocalityFromEnv())
	if !errors.Is(err, lb.ErrConfig) || !errors.Is(err, discovery.ErrConfig) || !strings.Contains(err.Error(), discovery.EnvClientIndex) {
		t.Fatalf("malformed %s: %v, want lb.ErrConfig and discovery.ErrConfig naming it", discovery.EnvClientIndex, err)
	}
	_, err = NewBuilder("x", lb.P2C, WithLocalZone(strings.Repeat("z", lb.MaxZoneLen+1)))
	if !errors.Is(err, lb.ErrConfig) {
		t.Fatalf("local zone too long: %v, want lb.ErrConfig", err)
	}
}

// zonedServers returns servers' endpoints, server i in zones[i].
func zonedServers(t *testing.T, servers []*server, zones ...string) []resolver.Endpoint {
	t.Helper()
	eps := endpoints(servers)
	for i, z := range zones {
		var err error
		if eps[i], err = WithZone(eps[i], z); err != nil {
			t.Fatal(err)
		}
	}
	return eps
}

// Zone-aware routing with the builder's local zone: RPCs stay in it while
// it has its share of the endpoints (clients assumed spread as the
// endpoints are), or, with forceLocal, while it has that many up whatever
// the clients' shares; without a local zone the "zones" object is ignored.
func TestBalancerRoutesByTheLocalZone(t *testing.T) {
	shares, err := lb.NewClientShares(map[string]float64{"a": 1, "b": 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		zones  []string // per server
		opts   []Option
		config string
		local  bool    // every RPC stays in zone a
		shareA float64 // ZoneStatus's share of zone a; 0 for zone-blind
	}{
		{"RPCs stay local while the zone has its share of endpoints",
			[]string{"a", "a", "a", "b", "b", "b"}, []Option{WithLocalZone("a")}, `{}`, true, 1},
		{"a zone with a third of the endpoints and half the clients keeps two thirds",
			[]string{"a", "a", "b", "b", "b", "b"}, []Option{WithLocalZone("a"), WithClientShares(shares)},
			`{"zones": {"minEndpoints": 2}}`, false, 2.0 / 3},
		{"forceLocal keeps them all",
			[]string{"a", "a", "b", "b", "b", "b"}, []Option{WithLocalZone("a"), WithClientShares(shares)},
			`{"zones": {"minEndpoints": 2, "forceLocal": 2}}`, true, 1},
		{"without a local zone the zones object is ignored",
			[]string{"a", "a", "b", "b", "b", "b"}, []Option{WithClientShares(shares)},
			`{"zones": {"minEndpoints": 2, "forceLocal": 2}}`, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noGoroutinesLeft(t)
			servers := startServers(t, len(tt.zones))
			name, w := registerTest(lb.RoundRobin, tt.opts...)
			cc, _ := dial(t, name, tt.config, w, zonedServers(t, servers, tt.zones...)...)
			pool := waitReady(t, w, len(servers))
			st := pool.ZoneStatus()
			if tt.shareA == 0 {
				if st.Active || st.Local != "" {
					t.Fatalf("ZoneStatus %+v, want zone-blind", st)
				}
			} else if !st.Active || st.Local != "a" || fmt.Sprintf("%.3f", st.Shares["a"]) != fmt.Sprintf("%.3f", tt.shareA) {
				t.Fatalf("ZoneStatus %+v, want active in a with share %.3f", st, tt.shareA)
			}
			unary(t, cc, 120, context.Background())
			var local, remote int64
			for i, s := range servers {
				if tt.zones[i] == "a" {
					local += s.checks.Load()
				} else {
					remote += s.checks.Load()
				}
			}
			if tt.local && remote != 0 {
				t.Fatalf("%d RPCs left the local zone, %d stayed (checks %v)", remote, local, checksAt(servers))
			}
			if !tt.local && remote == 0 {
				t.Fatalf("no RPC left zone a (checks %v)", checksAt(servers))
			}
		})
	}
}

// The environment's client index chooses the subset, and its zone routes.
func TestBalancerTakesItsLocalityFromTheEnvironment(t *testing.T) {
	noGoroutinesLeft(t)
	t.Setenv(discovery.EnvZone, "b")
	t.Setenv(discovery.EnvClientIndex, "9")
	servers := startServers(t, 6)
	eps := zonedServers(t, servers, "a", "a", "a", "b", "b", "b")
	keys := make([]string, len(servers))
	for i, s := range servers {
		keys[i] = s.addr
	}
	want := ruleFuncs["ring"](9, keys, 4)
	name, w := registerTest(lb.RoundRobin, WithLocalityFromEnv())
	cc, _ := dial(t, name, `{"subset": {"size": 4}, "zones": {"minEndpoints": 1}}`, w, eps...)
	pool := waitReady(t, w, 4)
	var inB []string
	for _, e := range pool.Endpoints() {
		if e.Zone == "b" {
			inB = append(inB, e.Addr)
		}
	}
	if st := pool.ZoneStatus(); st.Local != "b" {
		t.Fatalf("ZoneStatus %+v, want local zone b", st)
	}
	// Clients spread as the endpoints are: while zone b has a member of
	// the subset, every RPC stays in b.
	allowed := inB
	if len(allowed) == 0 {
		allowed = want
	}
	unary(t, cc, 60, context.Background())
	for _, s := range servers {
		if !slices.Contains(allowed, s.addr) && s.checks.Load() != 0 {
			t.Fatalf("%s served %d RPCs; client 9's subset is %v, in zone b %v (checks %v)",
				s.addr, s.checks.Load(), want, inB, checksAt(servers))
		}
	}
}
