package lb

import "testing"

// BenchmarkLimits measures P2C's Pick+Done over 8 endpoints without a
// limit, under a fixed MaxConcurrency and under an adaptive limit, against
// reference (a) in the same run.
func BenchmarkLimits(b *testing.B) {
	b.Run("limit=reference", referenceAdds)
	for name, cfg := range map[string]Config{
		"none":     {},
		"fixed":    {MaxConcurrency: 8},
		"adaptive": {AdaptiveConcurrency: true},
	} {
		b.Run("limit="+name, func(b *testing.B) {
			p := mustNew(b, cfg, addrs(8)...)
			pickDone(b, p)
		})
	}
}
