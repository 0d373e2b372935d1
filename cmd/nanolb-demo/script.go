package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// errScenario is wrapped by every error about an unknown scenario name.
var errScenario = errors.New("nanolb-demo: unknown scenario")

// faultKind is what a backend does during a fault window.
type faultKind uint8

const (
	// faultFail answers every request with 500 at once.
	faultFail faultKind = iota + 1
	// faultDown closes the listener and every connection: connection refused.
	faultDown
)

func (k faultKind) String() string {
	switch k {
	case faultFail:
		return "answers 500"
	case faultDown:
		return "down (connection refused)"
	}
	return "ok"
}

// window is one fault in a backend's script, as fractions of the phase: it
// starts at From and ends at To (1 means the end of the phase).
type window struct {
	From, To float64
	Kind     faultKind
}

// backendSpec is one backend of a scenario: how fast it answers, how many
// requests it serves at once, and its fault windows.
type backendSpec struct {
	Name  string
	Role  string        // one line for the table and the report
	Delay time.Duration // service time of a healthy request
	// Limit is how many requests it serves at once; the others wait their
	// turn, and past Queue waiting the next one gets 503 at once (load
	// shedding). Zero means no limit.
	Limit   int
	Queue   int
	Windows []window
	// FailPercent is the share of requests, in percent, the backend answers
	// 500 at random after Delay, outside any window: a gray failure. Zero
	// means none.
	FailPercent int
	// Join is when, from the phase's start, the clients learn the
	// backend's address (its server listens from the start). Zero means
	// from the start.
	Join time.Duration
	// Cold is how long after Join the backend answers in ColdDelay instead
	// of Delay, as a process with cold caches does. Zero means never.
	Cold      time.Duration
	ColdDelay time.Duration
	// SlowPercent is the share of requests, in percent, the backend
	// answers after SlowDelay instead of its usual service time, drawn at
	// random: a latency tail. Zero means none.
	SlowPercent int
	SlowDelay   time.Duration
	// ReportLoad has the backend measure its utilization, the share of
	// its Limit workers busy, and report it, with the requests it served
	// over the same window, through lbhttp.ReportLoad. It needs a Limit.
	ReportLoad bool
}

// delayAt returns the service time of a request the backend receives
// elapsed into the phase: ColdDelay while it is cold, else Delay.
func (s backendSpec) delayAt(elapsed time.Duration) time.Duration {
	if s.Cold > 0 && elapsed >= s.Join && elapsed < s.Join+s.Cold {
		return s.ColdDelay
	}
	return s.Delay
}

// kindAt returns the fault in force at fraction f of the phase, 0 if none.
func (s backendSpec) kindAt(f float64) faultKind {
	for _, w := range s.Windows {
		if f >= w.From && f < w.To {
			return w.Kind
		}
	}
	return 0
}

// scenario is a named fault script: the backends every client meets, each
// phase starting the script from its beginning.
type scenario struct {
	Name     string
	Describe string
	Backends []backendSpec
	// Ramp, if set, replaces the closed loop of callers with an open-loop
	// load rising over the phase.
	Ramp *ramp
	// Clients are the clients "-clients all" means; nil means every
	// nanolb policy but shard, httplb and naive.
	Clients []clientSpec
	// Attempts is lbhttp.Transport.MaxAttempts of the nanolb clients: 1
	// turns retries off. Zero means the demo's 3.
	Attempts int
	// LBDefaults gives the nanolb clients lb's default Config, with only
	// what the client itself sets (policy, limits, slow start), instead of
	// demoConfig's short cooldowns.
	LBDefaults bool
	// Duration is each phase's length when -duration is not given; zero
	// means the flag's default.
	Duration time.Duration
	// Warmup is how long into each phase the capacity table starts
	// counting: the weights settled, the backlog of the first seconds
	// served. At most half the phase (warmupFor). Zero for scenarios
	// without that table.
	Warmup time.Duration
}

// warmupFor is the warm-up of a phase of d: Warmup, or half of d if less.
func (sc scenario) warmupFor(d time.Duration) time.Duration {
	return min(sc.Warmup, d/2)
}

// minDuration is the shortest phase the scenario's script fits in: every
// backend joins, and is cold for as long as it should be, before the end.
func (sc scenario) minDuration() time.Duration {
	var d time.Duration
	for _, b := range sc.Backends {
		d = max(d, b.Join+b.Cold)
	}
	return d
}

// grayBackend returns the index of the backend that fails at random, -1 if
// none does.
func (sc scenario) grayBackend() int {
	for i, b := range sc.Backends {
		if b.FailPercent > 0 {
			return i
		}
	}
	return -1
}

// tailBackend returns the index of the backend that answers some requests
// slowly, -1 if none does.
func (sc scenario) tailBackend() int {
	for i, b := range sc.Backends {
		if b.SlowPercent > 0 {
			return i
		}
	}
	return -1
}

// joiningBackend returns the index of the backend that joins mid-phase, -1
// if none does.
func (sc scenario) joiningBackend() int {
	for i, b := range sc.Backends {
		if b.Join > 0 {
			return i
		}
	}
	return -1
}

// overloadBackend serves 8 requests at once in 80 ms each (100 a second)
// and queues the rest in the server, as a thread pool does.
func overloadBackend(name string) backendSpec {
	return backendSpec{Name: name, Role: "serves 8 requests at once in 80 ms; the rest queue in the server",
		Delay: 80 * time.Millisecond, Limit: 8, Queue: 1 << 20}
}

// flapping returns n fail windows of equal length, spread evenly over
// [from, to): the backend fails for half of each period.
func flapping(from, to float64, n int) []window {
	period := (to - from) / float64(n)
	ws := make([]window, n)
	for i := range ws {
		start := from + float64(i)*period
		ws[i] = window{From: start, To: start + period/2, Kind: faultFail}
	}
	return ws
}

// grayBackends are the gray scenario's ten backends: all answer in 5 ms,
// the fourth fails 20% of its requests at random.
func grayBackends() []backendSpec {
	var bs []backendSpec
	for i := range 10 {
		b := backendSpec{Name: fmt.Sprintf("b%d", i), Role: "answers in 5 ms", Delay: 5 * time.Millisecond}
		if i == 3 {
			b.Name, b.Role, b.FailPercent = "gray", "answers in 5 ms, 500 for 20% of requests at random", 20
		}
		bs = append(bs, b)
	}
	return bs
}

// coldJoin and coldFor are when the cold scenario's sixth backend joins and
// how long it stays slow after.
const (
	coldJoin = 2 * time.Second
	coldFor  = 2 * time.Second
)

// coldBackends are the cold scenario's backends: five answer in 5 ms, a
// sixth joins at coldJoin and answers in 80 ms for coldFor, then in 5 ms.
func coldBackends() []backendSpec {
	var bs []backendSpec
	for i := range 5 {
		bs = append(bs, backendSpec{Name: fmt.Sprintf("b%d", i), Role: "answers in 5 ms", Delay: 5 * time.Millisecond})
	}
	return append(bs, backendSpec{Name: "new", Role: "joins at 2 s; answers in 80 ms for 2 s, then in 5 ms",
		Delay: 5 * time.Millisecond, Join: coldJoin, Cold: coldFor, ColdDelay: 80 * time.Millisecond})
}

// tailBackends are the tail scenario's five backends: all answer in 5 ms,
// the third answers 1% of its requests after 200 ms instead.
func tailBackends() []backendSpec {
	var bs []backendSpec
	for i := range 5 {
		b := backendSpec{Name: fmt.Sprintf("b%d", i), Role: "answers in 5 ms", Delay: 5 * time.Millisecond}
		if i == 2 {
			b.Name, b.Role = "tail", "answers in 5 ms, 1% of requests at random after 200 ms"
			b.SlowPercent, b.SlowDelay = 1, 200*time.Millisecond
		}
		bs = append(bs, b)
	}
	return bs
}

// reportingBackend returns the index of the first backend that reports
// its load, -1 if none does.
func (sc scenario) reportingBackend() int {
	for i, b := range sc.Backends {
		if b.ReportLoad {
			return i
		}
	}
	return -1
}

// scenarios lists the scripts that -scenario accepts, by name.
var scenarios = map[string]scenario{
	"gray": {
		Name:       "gray",
		Describe:   "ten backends answering in 5 ms, one of them failing 20% of its requests at random; no retries, lb's default Config (outlier detection on)",
		Backends:   grayBackends(),
		Attempts:   1,
		LBDefaults: true,
		Duration:   10 * time.Second,
	},
	"cold": {
		Name:       "cold",
		Describe:   "five backends answering in 5 ms; a sixth joins at 2 s and answers in 80 ms for its first 2 s, then in 5 ms",
		Backends:   coldBackends(),
		Clients:    coldClients(),
		LBDefaults: true,
		Duration:   5 * time.Second,
	},
	"tail": {
		Name:       "tail",
		Describe:   "five backends answering in 5 ms, one of them answering 1% of its requests after 200 ms; nanolb P2C without and with hedging",
		Backends:   tailBackends(),
		Clients:    tailClients(),
		LBDefaults: true,
		Duration:   tailDuration,
	},
	"mixed": {
		Name:     "mixed",
		Describe: "six backends: one fast, one slow, one failing for a while then recovering, one dying, one flapping, one overloaded behind a concurrency limit",
		Backends: []backendSpec{
			{Name: "fast", Role: "answers in 1 ms", Delay: time.Millisecond},
			{Name: "slow", Role: "answers in 20 ms", Delay: 20 * time.Millisecond},
			{Name: "failing", Role: "answers 500 from 20% to 50% of the phase, then recovers", Delay: 3 * time.Millisecond,
				Windows: []window{{From: 0.2, To: 0.5, Kind: faultFail}}},
			{Name: "dying", Role: "dies at 40% of the phase (connection refused) and stays dead", Delay: 3 * time.Millisecond,
				Windows: []window{{From: 0.4, To: 1, Kind: faultDown}}},
			{Name: "flapping", Role: "from 10% of the phase on, answers 500 for half of every 15%", Delay: 3 * time.Millisecond,
				Windows: flapping(0.1, 1, 6)},
			{Name: "overloaded", Role: "serves 2 requests at once in 5 ms, queues 6 more, answers 503 past that", Delay: 5 * time.Millisecond, Limit: 2, Queue: 6},
		},
	},
	"steady": {
		Name:     "steady",
		Describe: "four healthy backends of different speeds, no faults: how each policy shares load by speed",
		Backends: []backendSpec{
			{Name: "fast", Role: "answers in 1 ms", Delay: time.Millisecond},
			{Name: "medium", Role: "answers in 5 ms", Delay: 5 * time.Millisecond},
			{Name: "slow", Role: "answers in 20 ms", Delay: 20 * time.Millisecond},
			{Name: "slower", Role: "answers in 40 ms", Delay: 40 * time.Millisecond},
		},
	},
	"overload": {
		Name:     "overload",
		Describe: "four backends of 100 requests a second each (400 in all), offered an open-loop load rising from 200 to 600 requests a second, each caller giving up after 300 ms",
		Backends: []backendSpec{overloadBackend("a"), overloadBackend("b"), overloadBackend("c"), overloadBackend("d")},
		Ramp:     &ramp{From: 200, To: 600, Deadline: 300 * time.Millisecond},
		Clients:  overloadClients(),
	},
	"capacity": {
		Name:       "capacity",
		Describe:   capacityDescribe,
		Backends:   capacityBackends(),
		Ramp:       &ramp{From: capacityRate, To: capacityRate, Deadline: capacityDeadline, Poisson: true},
		Clients:    capacityClients(),
		LBDefaults: true,
		Duration:   capacityDuration,
		Warmup:     capacityWarmup,
	},
	"outage": {
		Name:     "outage",
		Describe: "six backends, half of them down from 30% to 70% of the phase, then back",
		Backends: []backendSpec{
			{Name: "a", Role: "answers in 2 ms", Delay: 2 * time.Millisecond},
			{Name: "b", Role: "answers in 2 ms", Delay: 2 * time.Millisecond},
			{Name: "c", Role: "answers in 2 ms", Delay: 2 * time.Millisecond},
			{Name: "d", Role: "down from 30% to 70%", Delay: 2 * time.Millisecond, Windows: []window{{From: 0.3, To: 0.7, Kind: faultDown}}},
			{Name: "e", Role: "down from 30% to 70%", Delay: 2 * time.Millisecond, Windows: []window{{From: 0.3, To: 0.7, Kind: faultDown}}},
			{Name: "f", Role: "answers 500 from 30% to 70%", Delay: 2 * time.Millisecond, Windows: []window{{From: 0.3, To: 0.7, Kind: faultFail}}},
		},
	},
}

// scenarioNames returns the names -scenario accepts, sorted.
func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupScenario returns the scenario called name.
func lookupScenario(name string) (scenario, error) {
	s, ok := scenarios[name]
	if !ok {
		return scenario{}, fmt.Errorf("%w %q (have %s)", errScenario, name, strings.Join(scenarioNames(), ", "))
	}
	return s, nil
}
