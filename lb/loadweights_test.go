package lb

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// loadPool is a WeightedRoundRobin pool of n endpoints with LoadWeights
// (defaults but for lw's fields), and the pool's addresses.
func loadPool(t *testing.T, n int, lw LoadWeights) (*Pool, []string) {
	t.Helper()
	lw.Enabled = true
	as := addrs(n)
	return mustNew(t, Config{Policy: WeightedRoundRobin, LoadWeights: lw}, as...), as
}

// report has addr report load through a lease on it.
func report(t *testing.T, p *Pool, addr string, load Load) {
	t.Helper()
	l := leaseOn(t, p, addr)
	l.ReportLoad(load)
	l.Done(nil)
}

// capacity is a report whose A58 weight is rps: full utilization, no
// errors.
func capacity(rps float64) Load { return Load{RPS: rps, CPUUtilization: 1} }

// after sleeps d of the bubble's clock and waits for the timers it fired.
func after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// loadWeightsOf is every endpoint's EndpointStatus.LoadWeight, in order.
func loadWeightsOf(p *Pool) []float64 {
	var out []float64
	for _, e := range p.Endpoints() {
		out = append(out, e.LoadWeight)
	}
	return out
}

// checkShares picks 70,000 times and checks each endpoint's share of the
// picks against want (which sums to 1), within 0.01.
func checkShares(t *testing.T, p *Pool, as []string, want ...float64) {
	t.Helper()
	const picks = 70000
	seen := pickCounts(t, p, picks)
	for i, a := range as {
		if got := float64(seen[a]) / picks; math.Abs(got-want[i]) > 0.01 {
			t.Errorf("endpoint %d has %.4f of the picks, want %.4f (weights in force %v)", i, got, want[i], loadWeightsOf(p))
		}
	}
}

func equalShares(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1 / float64(n)
	}
	return out
}

// Reports implying capacities 1:2:4 give the endpoints 1/7, 2/7 and 4/7 of
// the picks once the blackout is over; the static weights apply before.
func TestLoadWeightsSharesFollowReportedCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := addrs(3)
		p, err := NewWeighted(Config{Policy: WeightedRoundRobin, LoadWeights: LoadWeights{Enabled: true}},
			Endpoint{Addr: as[0], Weight: 100}, Endpoint{Addr: as[1]}, Endpoint{Addr: as[2]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		checkShares(t, p, as, 100.0/102, 1.0/102, 1.0/102) // Endpoint.Weight until reports count
		for i, a := range as {
			report(t, p, a, capacity(float64(int(100)<<i)))
		}
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		if got := loadWeightsOf(p); fmt.Sprint(got) != "[100 200 400]" {
			t.Fatalf("weights in force %v, want [100 200 400]", got)
		}
		checkShares(t, p, as, 1.0/7, 2.0/7, 4.0/7)
	})
}

// No report counts before BlackoutPeriod has passed since its endpoint's
// first: until then the pool stays round robin.
func TestLoadWeightsWaitOutTheBlackout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 2, LoadWeights{})
		after(300 * time.Millisecond) // off the weigher's ticks
		report(t, p, as[0], capacity(100))
		report(t, p, as[1], capacity(300))
		after(DefaultLoadBlackout - time.Second)
		if got := loadWeightsOf(p); got[0] != 0 || got[1] != 0 {
			t.Fatalf("weights in force %v %v after the first report, inside the blackout", got, DefaultLoadBlackout-time.Second)
		}
		checkShares(t, p, as, 0.5, 0.5)
		after(2 * time.Second) // a tick at or past the blackout's end
		if got := loadWeightsOf(p); got[0] != 100 || got[1] != 300 {
			t.Fatalf("weights in force %v after the blackout, want [100 300]", got)
		}
		checkShares(t, p, as, 0.25, 0.75)
	})
}

// A weight lapses ExpirationPeriod after its endpoint's last report, and a
// report after that starts a new blackout.
func TestLoadWeightsExpireAndTheBlackoutStartsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 2, LoadWeights{})
		after(300 * time.Millisecond)
		reportBoth := func() {
			report(t, p, as[0], capacity(100))
			report(t, p, as[1], capacity(300))
		}
		reportBoth()
		after(DefaultLoadBlackout + time.Second)
		if got := loadWeightsOf(p); got[0] != 100 {
			t.Fatalf("weights in force %v after the blackout", got)
		}
		after(DefaultLoadExpiration - DefaultLoadBlackout - 2*time.Second) // the last report is 1 s from expiring
		if got := loadWeightsOf(p); got[0] != 100 {
			t.Fatalf("weights in force %v before they expire", got)
		}
		after(2 * time.Second)
		if got := loadWeightsOf(p); got[0] != 0 || got[1] != 0 {
			t.Fatalf("weights in force %v after %v without a report", got, DefaultLoadExpiration+time.Second)
		}
		checkShares(t, p, as, 0.5, 0.5)
		reportBoth()
		after(DefaultLoadBlackout - time.Second)
		if got := loadWeightsOf(p); got[0] != 0 {
			t.Fatalf("weights in force %v inside the new blackout", got)
		}
		after(2 * time.Second)
		if got := loadWeightsOf(p); got[0] != 100 || got[1] != 300 {
			t.Fatalf("weights in force %v after the new blackout", got)
		}
		checkShares(t, p, as, 0.25, 0.75)
	})
}

// Errors weigh as utilization: of two endpoints with the same RPS and
// utilization, the one with EPS e gets RPS / (u + e/RPS × penalty).
func TestLoadWeightsPenaliseErrors(t *testing.T) {
	for _, penalty := range []float64{0, 1, 2} {
		t.Run(fmt.Sprintf("penalty=%v", penalty), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, as := loadPool(t, 2, LoadWeights{ErrorUtilizationPenalty: penalty})
				report(t, p, as[0], Load{RPS: 100, ApplicationUtilization: 0.5})
				report(t, p, as[1], Load{RPS: 100, ApplicationUtilization: 0.5, EPS: 25})
				after(DefaultLoadBlackout + DefaultLoadUpdate)
				pen := penalty
				if pen == 0 {
					pen = DefaultErrorPenalty
				}
				want := []float64{200, 100 / (0.5 + 0.25*pen)}
				got := loadWeightsOf(p)
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-9 {
						t.Fatalf("weights in force %v, want %v", got, want)
					}
				}
				checkShares(t, p, as, want[0]/(want[0]+want[1]), want[1]/(want[0]+want[1]))
			})
		})
	}
}

// An endpoint without a weight (never reported, or joined since) gets the
// mean of the others'.
func TestLoadWeightsGiveTheUnreportedTheMean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 3, LoadWeights{})
		report(t, p, as[0], capacity(100))
		report(t, p, as[1], capacity(300))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		if got := loadWeightsOf(p); fmt.Sprint(got) != "[100 300 200]" {
			t.Fatalf("weights in force %v, want [100 300 200]", got)
		}
		checkShares(t, p, as, 1.0/6, 3.0/6, 2.0/6)
		// A newcomer gets the mean at once, in the table it joins.
		newcomer := "10.9.9.9:8080"
		if err := p.Add(newcomer); err != nil {
			t.Fatal(err)
		}
		checkShares(t, p, append(as, newcomer), 1.0/8, 3.0/8, 2.0/8, 2.0/8)
	})
}

// With fewer than two weights the pool is round robin, whatever the one
// weight: when one endpoint alone reports, and when a removal leaves one.
func TestLoadWeightsNeedTwoWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 3, LoadWeights{})
		report(t, p, as[0], capacity(1000))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		if got := loadWeightsOf(p); fmt.Sprint(got) != "[0 0 0]" {
			t.Fatalf("weights in force %v with one endpoint reporting", got)
		}
		checkShares(t, p, as, equalShares(3)...)
		report(t, p, as[1], capacity(100))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		checkShares(t, p, as, 1000.0/1650, 100.0/1650, 550.0/1650)
		if err := p.Remove(as[1]); err != nil { // leaves one weight: equal shares at once
			t.Fatal(err)
		}
		kept := []string{as[0], as[2]}
		checkShares(t, p, kept, 0.5, 0.5)
		after(DefaultLoadUpdate)
		if got := loadWeightsOf(p); fmt.Sprint(got) != "[0 0]" {
			t.Fatalf("weights in force %v after the removal", got)
		}
		checkShares(t, p, kept, 0.5, 0.5)
	})
}

// A report without RPS or utilization is ignored; ApplicationUtilization
// wins over CPUUtilization; a report that is not finite, or on a lease
// that is finished or on a removed endpoint, changes nothing.
func TestLoadWeightsIgnoreEmptyAndBadReports(t *testing.T) {
	w, err := LoadWeights{Enabled: true}.resolve(WeightedRoundRobin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		load Load
		want float64 // 0: ignored
	}{
		{Load{RPS: 100}, 0},
		{Load{CPUUtilization: 0.5}, 0},
		{Load{RPS: 100, MemUtilization: 0.5}, 0},
		{Load{RPS: 100, CPUUtilization: 0.5}, 200},
		{Load{RPS: 100, CPUUtilization: 0.5, ApplicationUtilization: 0.25}, 400},
		{Load{RPS: 100, CPUUtilization: 0.5, ApplicationUtilization: -1}, 200},
		{Load{RPS: 100, CPUUtilization: 0.5, EPS: -5}, 200},
		{Load{RPS: 100, CPUUtilization: 0.5, EPS: math.NaN()}, 200},
		{Load{RPS: math.NaN(), CPUUtilization: 0.5}, 0},
		{Load{RPS: math.Inf(1), CPUUtilization: 0.5}, 0},
		{Load{RPS: -1, CPUUtilization: 0.5}, 0},
		{Load{RPS: 100, CPUUtilization: math.Inf(1)}, 0},
		{Load{RPS: 1e300, CPUUtilization: 1e-300}, 0}, // overflows to +Inf
	} {
		got, ok := w.weigh(tc.load)
		if !ok {
			got = 0
		}
		if got != tc.want {
			t.Errorf("weigh(%+v) = %v (%v), want %v", tc.load, got, ok, tc.want)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 2, LoadWeights{})
		l := leaseOn(t, p, as[0])
		kept := l
		l.Done(nil)
		l.ReportLoad(capacity(100)) // finished: dropped
		if err := p.Remove(as[0]); err != nil {
			t.Fatal(err)
		}
		kept.ReportLoad(capacity(100)) // removed endpoint: dropped
		if m := kept.c.meter; m.load.at.Load() != 0 {
			t.Fatal("a removed endpoint's report was kept")
		}
		Lease{}.ReportLoad(capacity(100))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		checkShares(t, p, as[1:], 1)
	})
}

// Close stops the updates: the weights in force stay as they were.
func TestLoadWeightsStopAtClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 2, LoadWeights{UpdatePeriod: 100 * time.Millisecond, BlackoutPeriod: time.Millisecond})
		report(t, p, as[0], capacity(100))
		report(t, p, as[1], capacity(300))
		after(200 * time.Millisecond)
		p.Close()
		report(t, p, as[0], capacity(300))
		after(time.Second)
		if got := loadWeightsOf(p); got[0] != 100 || got[1] != 300 {
			t.Fatalf("weights in force %v after Close, want those before it, [100 300]", got)
		}
	})
}

// The largest weight is MaxWeight in the table and the others keep their
// ratio to it, down to 1; a weight not changed by an update publishes no
// table.
func TestLoadWeightsScaleToTheTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 3, LoadWeights{})
		report(t, p, as[0], capacity(1e9))
		report(t, p, as[1], capacity(3e8))
		report(t, p, as[2], capacity(1))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		tab := p.tables.weightedRoundRobin.Load()
		cum := tab.cumulative
		if w := []uint64{cum[0], cum[1] - cum[0], cum[2] - cum[1]}; w[0] != MaxWeight || w[1] != uint64(math.Round(0.3*MaxWeight)) || w[2] != 1 {
			t.Fatalf("table weights %v, want [%d %d 1]", w, MaxWeight, uint64(math.Round(0.3*MaxWeight)))
		}
		after(DefaultLoadUpdate)
		if p.tables.weightedRoundRobin.Load() != tab {
			t.Fatal("an update that changed no weight published a table")
		}
	})
}

// Pick and Done under LoadWeights, with weights in force, allocate
// nothing and read no clock; ReportLoad allocates nothing either.
func TestLoadWeightsPickDoneAndReportAllocateNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 8, LoadWeights{})
		for i, a := range as {
			report(t, p, a, capacity(float64(100+i)))
		}
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		if got := loadWeightsOf(p); got[0] != 100 {
			t.Fatalf("weights in force %v", got)
		}
		reads := countClock(t, p)
		if allocs := pickDoneAllocs(1000, p.Pick, nil); allocs != 0 {
			t.Errorf("Pick+Done: %.1f allocations", allocs)
		}
		if n := reads.Load(); n != 0 {
			t.Errorf("Pick+Done read the clock %d times", n)
		}
		load := capacity(100)
		if allocs := testing.AllocsPerRun(1000, func() {
			l, _ := p.Pick()
			l.ReportLoad(load)
			l.Done(nil)
		}); allocs != 0 {
			t.Errorf("Pick+ReportLoad+Done: %.1f allocations", allocs)
		}
	})
}

// Bad LoadWeights configs are errors wrapping ErrConfig.
func TestLoadWeightsConfigErrors(t *testing.T) {
	wrr := func(lw LoadWeights) Config { return Config{Policy: WeightedRoundRobin, LoadWeights: lw} }
	on := func(lw LoadWeights) Config { lw.Enabled = true; return wrr(lw) }
	for name, cfg := range map[string]Config{
		"on a P2C pool":                  {LoadWeights: LoadWeights{Enabled: true}},
		"on a RoundRobin pool":           {Policy: RoundRobin, LoadWeights: LoadWeights{Enabled: true}},
		"fields set without Enabled":     wrr(LoadWeights{BlackoutPeriod: time.Second}),
		"a penalty without Enabled":      wrr(LoadWeights{ErrorUtilizationPenalty: 2}),
		"a negative blackout":            on(LoadWeights{BlackoutPeriod: -time.Second}),
		"a blackout under 1ms":           on(LoadWeights{BlackoutPeriod: 500 * time.Microsecond}),
		"a blackout over 24h":            on(LoadWeights{BlackoutPeriod: 25 * time.Hour}),
		"an expiration under 1ms":        on(LoadWeights{ExpirationPeriod: time.Microsecond}),
		"an expiration over 24h":         on(LoadWeights{ExpirationPeriod: 25 * time.Hour}),
		"an update period under 100ms":   on(LoadWeights{UpdatePeriod: 99 * time.Millisecond}),
		"an update period over 24h":      on(LoadWeights{UpdatePeriod: 25 * time.Hour}),
		"a negative update period":       on(LoadWeights{UpdatePeriod: -1}),
		"a penalty under 0.01":           on(LoadWeights{ErrorUtilizationPenalty: 0.001}),
		"a penalty over 1000":            on(LoadWeights{ErrorUtilizationPenalty: 1001}),
		"a negative penalty":             on(LoadWeights{ErrorUtilizationPenalty: -1}),
		"a penalty that is not a number": on(LoadWeights{ErrorUtilizationPenalty: math.NaN()}),
		"an infinite penalty":            on(LoadWeights{ErrorUtilizationPenalty: math.Inf(1)}),
		"on a ConsistentHash pool":       {Policy: ConsistentHash, LoadWeights: LoadWeights{Enabled: true, UpdatePeriod: time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg, "a:1"); !errors.Is(err, ErrConfig) {
				t.Fatalf("New(%+v) = %v, want an error wrapping ErrConfig", cfg.LoadWeights, err)
			}
		})
	}
	for name, lw := range map[string]LoadWeights{
		"defaults": {Enabled: true},
		"limits":   {Enabled: true, BlackoutPeriod: time.Millisecond, ExpirationPeriod: 24 * time.Hour, UpdatePeriod: 100 * time.Millisecond, ErrorUtilizationPenalty: 0.01},
		"off":      {},
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			p := mustNew(t, wrr(lw), "a:1")
			if (p.weigh.timer != nil) != lw.Enabled {
				t.Fatalf("weigher running: %v, want %v", p.weigh.timer != nil, lw.Enabled)
			}
		})
	}
}

// Reports, picks, membership changes and updates race without harm: run
// under -race, with the weigher's runs called directly rather than waited
// for.
func TestLoadWeightsRaceWithPicksAndChanges(t *testing.T) {
	p, as := loadPool(t, 16, LoadWeights{BlackoutPeriod: time.Millisecond})
	const rounds = 2000
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range rounds {
				l, err := p.Pick()
				if err != nil {
					panic(err)
				}
				l.ReportLoad(Load{RPS: float64(1 + (g+i)%50), CPUUtilization: 0.5, EPS: float64(i % 3)})
				l.Done(nil)
			}
		})
	}
	wg.Go(func() {
		for i := range rounds / 10 {
			p.reweigh()
			if i%2 == 0 {
				_ = p.Remove(as[i%len(as)])
			} else {
				_ = p.Add(as[(i-1)%len(as)])
			}
		}
	})
	wg.Wait()
	p.reweigh()
	if n := len(p.Endpoints()); n != len(as) {
		t.Fatalf("%d endpoints after the churn, want %d", n, len(as))
	}
}

// Under Zones each zone's table weighs by the load weights too.
func TestLoadWeightsWeighWithinAZone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := addrs(4)
		p, err := NewWeighted(Config{Policy: WeightedRoundRobin, LoadWeights: LoadWeights{Enabled: true},
			Zones: Zones{Local: "a", MinEndpoints: 1, ForceLocal: 2}},
			Endpoint{Addr: as[0], Zone: "a"}, Endpoint{Addr: as[1], Zone: "a"},
			Endpoint{Addr: as[2], Zone: "b"}, Endpoint{Addr: as[3], Zone: "b"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		checkShares(t, p, as, 0.5, 0.5, 0, 0)
		report(t, p, as[0], capacity(100)) // picks stay local: only zone a's report
		report(t, p, as[1], capacity(300))
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		checkShares(t, p, as, 0.25, 0.75, 0, 0)
	})
}

// Pool.ReportLoad weighs an endpoint by address, as a lease's report does;
// an address not in the pool is an error, and a pool without LoadWeights
// ignores it.
func TestPoolReportLoadByAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, as := loadPool(t, 2, LoadWeights{})
		for i, a := range as {
			if err := p.ReportLoad(a, capacity(float64(100*(i+1)))); err != nil {
				t.Fatal(err)
			}
		}
		after(DefaultLoadBlackout + DefaultLoadUpdate)
		if got := loadWeightsOf(p); got[0] != 100 || got[1] != 200 {
			t.Fatalf("weights in force %v, want [100 200]", got)
		}
		if err := p.ReportLoad("nowhere:1", capacity(1)); !errors.Is(err, ErrAddress) {
			t.Fatalf("ReportLoad for an address not in the pool: %v, want ErrAddress", err)
		}
		plain := mustNew(t, Config{}, "a")
		if err := plain.ReportLoad("zzz", capacity(1)); err != nil {
			t.Fatalf("ReportLoad on a pool without LoadWeights: %v, want nil", err)
		}
	})
}
