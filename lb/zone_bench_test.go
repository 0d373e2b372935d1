package lb

import "testing"

// BenchmarkZones measures P2C's Pick+Done over 18 endpoints in three zones
// without zones, with every pick local, with some spilling to another zone,
// and with subsetting (which changes only membership), against reference
// (a) in the same run.
func BenchmarkZones(b *testing.B) {
	b.Run("zones=reference", referenceAdds)
	fleet, err := NewClientShares(map[string]float64{"a": 20, "b": 40, "c": 40})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"off", Config{}},
		{"local", Config{Zones: Zones{Local: "b"}}},
		{"spill", Config{Zones: Zones{Local: "b", Clients: fleet}}},
		{"subset", Config{Subset: Subset{Size: 18}}},
	} {
		b.Run("zones="+bc.name, func(b *testing.B) {
			p, err := NewWeighted(bc.cfg, zoned()...)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			pickDone(b, p)
		})
	}
}
