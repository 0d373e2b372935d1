package lb_test

import (
	"fmt"
	"sort"

	"github.com/nanolb/nanolb/lb"
)

// A client of a large fleet keeps a stable subset of the backends it is
// given: client 7 of the fleet connects to 3 of 12.
func ExampleSubset() {
	var backends []string
	for i := range 12 {
		backends = append(backends, fmt.Sprintf("10.0.0.%d:8080", i+1))
	}
	pool, err := lb.New(lb.Config{Subset: lb.Subset{Size: 3, Client: 7}}, backends...)
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	st := pool.SubsetStatus()
	fmt.Printf("given %d, members %d\n", st.Given, st.Members)
	// Output:
	// given 12, members 3
}

// A client in zone b, where the fleet has 40% of its clients but only a
// third of the backends, keeps 5/6 of its picks in its zone and sends the
// rest to zone a, which has backends to spare.
func ExampleZones() {
	var eps []lb.Endpoint
	for _, zone := range []string{"a", "b", "c"} {
		for i := range 6 {
			eps = append(eps, lb.Endpoint{Addr: fmt.Sprintf("%s-%d:8080", zone, i), Zone: zone})
		}
	}
	fleet, err := lb.NewClientShares(map[string]float64{"a": 20, "b": 40, "c": 40})
	if err != nil {
		panic(err)
	}
	pool, err := lb.NewWeighted(lb.Config{Zones: lb.Zones{Local: "b", Clients: fleet}}, eps...)
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	st := pool.ZoneStatus()
	zones := make([]string, 0, len(st.Shares))
	for z := range st.Shares {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		fmt.Printf("zone %s: %.3f\n", z, st.Shares[z])
	}
	// Output:
	// zone a: 0.167
	// zone b: 0.833
	// zone c: 0.000
}
