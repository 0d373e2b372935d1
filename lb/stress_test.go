package lb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Stress tests: real goroutines on the real clock, run under -race by
// make test. Each is bounded by a count of operations, not a duration, and
// shrinks under -short.

// removalLog records, for each churned address, when its Remove returned:
// a sequence number drawn after the return. A Pick that read the sequence
// before it started and then got the address violates Remove's promise if
// the address's number is at most the one it read.
type removalLog struct {
	seq     atomic.Int64
	removed []atomic.Int64 // by churn index: the sequence number, 0 while present
	index   map[string]int // address -> churn index; written before the goroutines start
}

func newRemovalLog(addrs []string) *removalLog {
	r := &removalLog{removed: make([]atomic.Int64, len(addrs)), index: make(map[string]int, len(addrs))}
	for i, a := range addrs {
		r.index[a] = i
	}
	return r
}

// Many goroutines Pick (from the pool and through the registry) and Done
// with every outcome, some holding leases a while, while others Add and
// Remove endpoints, Ensure the pool again and again, and Ensure, use and
// Delete a second pool. Afterwards: no Pick handed out an endpoint whose
// Remove had returned before the Pick began, every lease's endpoint (removed
// ones included) has no lease in flight, the ejection budget counts exactly
// the members that are out, Ensure always returned the one pool and never
// re-applied its addresses, and nothing panicked.
func TestStressPickDoneWhileMembershipAndRegistryChurn(t *testing.T) {
	const pickers, churnAddrs = 4, 4000
	picksEach := 20000
	if testing.Short() {
		picksEach = 4000
	}
	for _, pol := range Policies() {
		t.Run("policy="+pol.String(), func(t *testing.T) {
			cfg := Config{Policy: pol, EjectAfter: 2, EjectFor: time.Millisecond, MaxEjectFor: 4 * time.Millisecond,
				ProbeTimeout: 2 * time.Millisecond, MaxEjectedPercent: 50}
			reg := NewRegistry()
			base := []string{"base:0", "base:1", "base:2", "base:3"}
			p, err := reg.Ensure("svc", cfg, base...)
			if err != nil {
				t.Fatal(err)
			}
			churned := make([]string, churnAddrs)
			for i := range churned {
				churned[i] = fmt.Sprintf("churn:%d", i)
			}
			log := newRemovalLog(churned)

			var (
				stop       atomic.Bool // the pickers are done
				violations atomic.Int64
				picks      atomic.Int64
				empty      atomic.Int64 // ErrNoEndpoint, though the budget keeps one endpoint up
				wg, others sync.WaitGroup
				seenMu     sync.Mutex
				seen       = map[*core]bool{}
				churning   = make(chan struct{}) // closed once the first Remove is logged
				startPicks = sync.OnceFunc(func() { close(churning) })
			)
			for w := range pickers {
				wg.Go(func() {
					mine := map[*core]bool{}
					var held [8]Lease
					defer func() {
						for i := range held {
							held[i].Done(context.Canceled)
						}
						seenMu.Lock()
						for c := range mine {
							seen[c] = true
						}
						seenMu.Unlock()
					}()
					<-churning
					for i := range picksEach {
						before := log.seq.Load()
						var l Lease
						var err error
						if w%2 == 0 {
							l, err = p.Pick()
						} else {
							l, err = registryPick(reg, "svc")
						}
						if err != nil {
							if !errors.Is(err, ErrNoEndpoint) {
								t.Errorf("Pick: %v", err)
								return
							}
							empty.Add(1)
							continue
						}
						picks.Add(1)
						mine[l.c] = true
						if k, ok := log.index[l.Endpoint()]; ok {
							if r := log.removed[k].Load(); r != 0 && r <= before {
								violations.Add(1)
							}
						}
						switch i % 10 {
						case 0, 1:
							l.Done(errBackend)
						case 2:
							l.Done(context.Canceled)
						case 3:
							held[i%len(held)].Done(nil) // a lease held for a while
							held[i%len(held)] = l
						default:
							l.Done(nil)
						}
					}
				})
			}
			others.Go(func() { // Ensure is create-once: always p, never re-adding its addresses
				for !stop.Load() {
					q, err := reg.Ensure("svc", Config{Policy: (pol + 1) % Policy(len(Policies()))}, "ensure:1")
					if err != nil || q != p {
						t.Errorf("Ensure of the existing pool = %p, %v; want %p", q, err, p)
						return
					}
				}
			})
			others.Go(func() { // a second pool comes and goes under its Picks
				for i := 0; !stop.Load(); i++ {
					q, err := reg.Ensure("tmp", cfg, "tmp:1", "tmp:2")
					if err != nil {
						t.Errorf("Ensure(tmp): %v", err)
						return
					}
					if l, err := registryPick(reg, "tmp"); err == nil {
						l.Done(errBackend)
					} else if !errors.Is(err, errNoPool) && !errors.Is(err, ErrNoEndpoint) {
						t.Errorf("Pick(tmp): %v", err)
					}
					if i%3 == 0 {
						reg.Delete("tmp")
					}
					if l, err := q.Pick(); err == nil { // a deleted pool still serves its holders
						l.Done(nil)
					}
				}
			})

			// Churn: add two fresh addresses, then remove every older one,
			// logging each removal once Remove has returned.
			others.Go(func() {
				defer startPicks()
				next := 0
				for i := 0; i < churnAddrs/2 && !stop.Load(); i++ {
					if err := p.Add(churned[2*i], churned[2*i+1]); err != nil {
						t.Error(err)
						return
					}
					for ; next < 2*i; next++ {
						if err := p.Remove(churned[next]); err != nil {
							t.Error(err)
							return
						}
						log.removed[next].Store(log.seq.Add(1))
					}
					if i == 1 {
						startPicks()
					}
				}
			})
			wg.Wait()
			stop.Store(true)
			others.Wait()

			if v := violations.Load(); v != 0 {
				t.Errorf("%d Picks returned an endpoint whose Remove had returned before they began", v)
			}
			for c := range seen {
				if n := c.inFlight(); n != 0 {
					t.Errorf("%s: in-flight %d after every lease ended", *c.addr, n)
				}
			}
			out := 0
			for _, e := range p.Endpoints() {
				if e.State != Up {
					out++
				}
				if e.Addr == "ensure:1" {
					t.Error("Ensure of an existing pool added its addresses")
				}
			}
			if got := int(p.counts.ejected.Load()); got != out {
				t.Errorf("ejection budget counts %d endpoints out, the snapshot shows %d", got, out)
			}
			if picks.Load() == 0 {
				t.Error("no Pick succeeded")
			}
			if n := empty.Load(); n > 0 {
				t.Logf("%d of %d Picks found no endpoint up while states changed under them", n, n+picks.Load())
			}
		})
	}
}

// stormBackend is the test's fake backend: it counts the requests each
// endpoint receives in a storm and how many came as probes.
type stormBackend struct {
	mu     sync.Mutex
	hits   map[string]int
	probes int
}

func (b *stormBackend) serve(l *Lease) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits[l.Endpoint()]++
	if l.Probe() {
		b.probes++
	}
}

// waitDue waits, on the real clock, until addr's cooldown or probe window
// has passed and the pool's wake timer has raised the due flag.
func waitDue(t *testing.T, p *Pool, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.due.Load() == dueNone || mustStatus(t, p, addr).Until.After(time.Now()) {
		if time.Now().After(deadline) {
			t.Fatalf("no wake-up 5s after the deadline: %+v", p.Endpoints())
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// Probe storm on the real clock: one endpoint is ejected for 1ms; once its
// wake timer fires, 64 goroutines Pick at once, and the fake backend counts
// exactly one request to it, a probe. The probe then fails (ejected again),
// succeeds (ejected afresh by a failure before the next round), is
// cancelled (due again at once) or is never reported (due again when its
// window ends): whichever, the next window again gets exactly one probe. A
// storm that outlasts the probe window may see a second one (a new window);
// the check allows one per window the storm spanned.
func TestStressProbeStormOneProbePerWindow(t *testing.T) {
	const probeWindow = 20 * time.Millisecond
	rounds := 80
	if testing.Short() {
		rounds = 24
	}
	for _, pol := range []Policy{P2C, RoundRobin} {
		t.Run("policy="+pol.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: pol, EjectAfter: 1, EjectFor: time.Millisecond, MaxEjectFor: time.Millisecond,
				ProbeTimeout: probeWindow, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1", "c:1", "d:1")
			var lost []Lease
			defer func() {
				for i := range lost {
					lost[i].Done(nil)
				}
			}()
			for round := range rounds {
				if e := mustStatus(t, p, "a:1"); e.State == Up {
					failTimes(t, p, "a:1", 1)
				}
				waitDue(t, p, "a:1")

				b := &stormBackend{hits: map[string]int{}}
				leases := make([]Lease, 64)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for g := range leases {
					wg.Go(func() {
						<-start
						l, err := p.Pick()
						if err != nil {
							t.Error(err)
							return
						}
						b.serve(&l)
						leases[g] = l
					})
				}
				began := time.Now()
				close(start)
				wg.Wait()
				windows := 1 + int(time.Since(began)/probeWindow)

				if b.probes < 1 || b.probes > windows || b.hits["a:1"] != b.probes {
					t.Fatalf("round %d: %d probes and %d requests to the ejected endpoint in a storm spanning %d probe windows; want one probe per window and nothing else",
						round, b.probes, b.hits["a:1"], windows)
				}
				for i := range leases {
					l := &leases[i]
					if !l.Probe() {
						l.Done(nil)
						continue
					}
					switch round % 4 {
					case 0:
						l.Done(errBackend)
					case 1:
						l.Done(nil)
					case 2:
						l.Done(context.Canceled)
					case 3:
						lost = append(lost, *l) // never reported in its window
					}
				}
			}
		})
	}
}
