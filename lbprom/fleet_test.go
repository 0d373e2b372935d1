package lbprom_test

import (
	"fmt"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A subsetting pool's sizes and a zoned pool's routing are scraped as
// SubsetStatus and ZoneStatus read them; a pool with neither has no
// series of them.
func TestSubsetAndZonesAreScraped(t *testing.T) {
	reg := lb.NewRegistry()
	var given []string
	for i := range 12 {
		given = append(given, fmt.Sprintf("10.0.1.%d:80", i))
	}
	if _, err := reg.Ensure("subset", lb.Config{Subset: lb.Subset{Size: 4, Client: 2}}, given...); err != nil {
		t.Fatal(err)
	}
	fleet, err := lb.NewClientShares(map[string]float64{"a": 20, "b": 40, "c": 40})
	if err != nil {
		t.Fatal(err)
	}
	var eps []lb.Endpoint
	for i, a := range given {
		eps = append(eps, lb.Endpoint{Addr: a, Zone: []string{"a", "b", "c"}[i%3]})
	}
	zoned, err := reg.EnsureWeighted("zoned", lb.Config{Zones: lb.Zones{Local: "b", Clients: fleet}}, eps...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Ensure("plain", lb.Config{}, given...); err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("subset", "zoned", "plain"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	shares := zoned.ZoneStatus().Shares
	f := s.waitFor(
		want{"nanolb_pool_subset_endpoints", []string{"pool=subset", "kind=given"}, 12},
		want{"nanolb_pool_subset_endpoints", []string{"pool=subset", "kind=members"}, 4},
		want{"nanolb_pool_subset_endpoints", []string{"pool=subset", "kind=extra"}, 0},
		want{"nanolb_pool_zone_routing", []string{"pool=zoned", "local_zone=b"}, 1},
		want{"nanolb_pool_zone_pick_share", []string{"pool=zoned", "zone=a"}, shares["a"]},
		want{"nanolb_pool_zone_pick_share", []string{"pool=zoned", "zone=b"}, shares["b"]},
		want{"nanolb_pool_zone_pick_share", []string{"pool=zoned", "zone=c"}, shares["c"]},
	)
	if shares["b"] < 0.8 || shares["b"] > 0.87 {
		t.Fatalf("zone b keeps %.3f of the picks, want 5/6", shares["b"])
	}
	for _, name := range []string{"nanolb_pool_subset_endpoints", "nanolb_pool_zone_routing", "nanolb_pool_zone_pick_share"} {
		if got := f.series(name, "pool", "plain"); len(got) != 0 {
			t.Errorf("%s series for a pool without subsets or zones: %v", name, got)
		}
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
