package lb

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// Pick and Done allocate nothing, on every policy, on the success, failure
// and cancel paths, through the registry, and on the probe path.
func TestPickDoneAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	limits := map[string]Config{
		"no limit":       {EjectAfter: 255},
		"fixed limit":    {EjectAfter: 255, MaxConcurrency: 8},
		"adaptive limit": {EjectAfter: 255, AdaptiveConcurrency: true},
		"ramping":        {EjectAfter: 255, SlowStart: SlowStart{Window: time.Hour}},
	}
	for _, pol := range Policies() {
		for limit, cfg := range limits {
			cfg.Policy = pol
			for _, n := range []int{1, 8, 1024} {
				p := mustNew(t, cfg, addrs(n)...)
				if cfg.SlowStart.Window != 0 {
					p.ramp.firstAt = -int64(time.Hour / time.Microsecond) // the pool has served an hour
					_ = p.Add("10.9.9.9:8080")                            // ramps for the next
				}
				for name, outcome := range map[string]error{"success": nil, "failure": errBackend, "timeout": context.DeadlineExceeded} {
					allocs := pickDoneAllocs(1000, p.Pick, outcome)
					if allocs != 0 {
						t.Errorf("%v %s n=%d %s: %.1f allocations per Pick+Done", pol, limit, n, name, allocs)
					}
				}
			}
		}
	}
	r := NewRegistry()
	if _, err := r.Ensure("users", Config{}, addrs(8)...); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		p, _ := r.Get("users")
		l, _ := p.Pick()
		l.Done(nil)
	}); allocs != 0 {
		t.Errorf("Registry.Get+Pick+Done: %.1f allocations", allocs)
	}
}

func TestProbeAndEjectionAllocateNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, MaxEjectFor: time.Second, MaxEjectedPercent: 50}, "a:1", "b:1")
		failTimes(t, p, "a:1", 1)
		allocs := testing.AllocsPerRun(100, func() {
			time.Sleep(2 * time.Second)
			synctest.Wait()
			l, _ := p.Pick()
			if !l.Probe() {
				panic("no probe")
			}
			l.Done(errBackend) // eject again, arming the timer
		})
		if allocs != 0 {
			t.Errorf("probe lease and re-ejection: %.1f allocations", allocs)
		}
	})
}
