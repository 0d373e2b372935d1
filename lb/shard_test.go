package lb

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// shardAddrs are n shard addresses whose address order is their number.
func shardAddrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("shard-%d:7000", i)
	}
	return out
}

// shardNumber is the shard of a string key among n, as Shard documents it.
func shardNumber(key string, n int) int {
	return keyhash.Jump(keyhash.Mix64(keyhash.String(key)), n)
}

// shardVectors pin key -> shard for ever: clients in other processes, and
// other versions of this package, must route every key the same way. The
// shard of a string key is Jump(fmix64(H(key)), n), H being PickKey's key
// hash; numeric keys skip H. Computed apart from this package, by a few
// lines of Python written from the doc comments; never edit a row.
var shardVectors = []struct {
	key   string
	n     int
	shard int
}{
	{"", 1, 0},
	{"user-1", 2, 0},
	{"user-1", 10, 0},
	{"user-2", 10, 1},
	{"user-3", 10, 5},
	{"instance-42", 3, 2},
	{"instance-42", 16, 12},
	{"orders/2024/0001", 5, 4},
	{"orders/2024/0002", 5, 0},
	{"a", 1000, 981},
	{"b", 1000, 676},
	{"héllo", 7, 0},
}

var shardVectorsUint64 = []struct {
	key   uint64
	n     int
	shard int
}{
	{0, 4, 0},
	{1, 4, 3},
	{2, 4, 0},
	{42, 10, 8},
	{1 << 40, 10, 2},
	{math.MaxUint64, 100, 50},
}

func TestShardVectorsNeverChange(t *testing.T) {
	for _, v := range shardVectors {
		p := mustNew(t, Config{Policy: Shard}, shardAddrs(v.n)...)
		l, err := p.PickKey(v.key)
		if err != nil {
			t.Fatal(err)
		}
		if want := shardAddrs(v.n)[v.shard]; l.Endpoint() != want {
			t.Errorf("PickKey(%q) over %d shards = %s, pinned %s", v.key, v.n, l.Endpoint(), want)
		}
		l.Done(nil)
	}
	for _, v := range shardVectorsUint64 {
		p := mustNew(t, Config{Policy: Shard}, shardAddrs(v.n)...)
		l, err := p.PickKeyUint64(v.key)
		if err != nil {
			t.Fatal(err)
		}
		if want := shardAddrs(v.n)[v.shard]; l.Endpoint() != want {
			t.Errorf("PickKeyUint64(%d) over %d shards = %s, pinned %s", v.key, v.n, l.Endpoint(), want)
		}
		l.Done(nil)
	}
}

// shardOf is the endpoint PickKey leases for key, ended at once.
func shardOf(t *testing.T, p *Pool, key string) string {
	t.Helper()
	l, err := p.PickKey(key)
	if err != nil {
		t.Fatalf("PickKey(%q): %v", key, err)
	}
	defer l.Done(nil)
	return l.Endpoint()
}

func shardOwners(t *testing.T, p *Pool, keys int) []string {
	t.Helper()
	out := make([]string, keys)
	for k := range out {
		out[k] = shardOf(t, p, fmt.Sprint("key-", k))
	}
	return out
}

// Shard numbers are the address order: however the pool was built (New's
// order, Adds in any order, Set), the same addresses route keys alike, and
// in address order shorter addresses come first.
func TestShardNumbersFollowAddressOrderNotCallOrder(t *testing.T) {
	names := shardAddrs(12) // shard-10 and shard-11 come last: shorter first
	want := shardOwners(t, mustNew(t, Config{Policy: Shard}, names...), 3000)

	r := rand.New(rand.NewPCG(3, 4))
	shuffled := append([]string(nil), names...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	byNew := mustNew(t, Config{Policy: Shard}, shuffled...)

	byAdd := mustNew(t, Config{Policy: Shard})
	for _, a := range shuffled {
		if err := byAdd.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	bySet := mustNew(t, Config{Policy: Shard}, "other:1", shuffled[0])
	var eps []Endpoint
	for _, a := range names {
		eps = append(eps, Endpoint{Addr: a})
	}
	if err := bySet.Set(eps...); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*Pool{"New in shuffled order": byNew, "Add one by one": byAdd, "Set after other members": bySet} {
		if got := shardOwners(t, p, 3000); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s routes keys differently from New in address order", name)
		}
	}
	// Every shard owns keys, and the last two are shard-10 and shard-11.
	spread := map[string]int{}
	for _, o := range want {
		spread[o]++
	}
	if len(spread) != 12 {
		t.Fatalf("3000 keys reached %d of 12 shards", len(spread))
	}
	for k := range 3000 {
		key := fmt.Sprint("key-", k)
		if got, shard := want[k], shardNumber(key, 12); got != names[shard] {
			t.Fatalf("key %q went to %s, its shard number is %d (%s)", key, got, shard, names[shard])
		}
	}
}

// Adding shard k+1 to k moves about 1/(k+1) of the keys, every one of them
// to the new shard; measured over 20,000 keys. Jump hash moves each key
// with probability exactly 1/(k+1), so the count is binomial: the test
// allows five standard deviations.
func TestAddingAShardMovesOneInKPlusOneKeys(t *testing.T) {
	const keys = 20000
	for _, k := range []int{1, 2, 5, 10, 31, 100} {
		p := mustNew(t, Config{Policy: Shard}, shardAddrs(k)...)
		before := shardOwners(t, p, keys)
		added := shardAddrs(k + 1)[k]
		if err := p.Add(added); err != nil {
			t.Fatal(err)
		}
		after := shardOwners(t, p, keys)
		moved := 0
		for i := range before {
			if before[i] != after[i] {
				moved++
				if after[i] != added {
					t.Fatalf("k=%d: key %d moved between old shards: %s -> %s", k, i, before[i], after[i])
				}
			}
		}
		q := 1 / float64(k+1)
		ideal, sd := keys*q, math.Sqrt(keys*q*(1-q))
		if math.Abs(float64(moved)-ideal) > 5*sd {
			t.Errorf("k=%d: %d of %d keys moved, ideal %.0f ± %.0f", k, moved, keys, ideal, 5*sd)
		}
		t.Logf("adding shard %d to %d moved %.2f%% of keys (ideal %.2f%%)", k+1, k, 100*float64(moved)/keys, 100*q)
		// Removing it again puts every key back.
		if err := p.Remove(added); err != nil {
			t.Fatal(err)
		}
		if back := shardOwners(t, p, keys); fmt.Sprint(back) != fmt.Sprint(before) {
			t.Errorf("k=%d: removing the added shard did not restore every key", k)
		}
	}
}

// With Config.Shards the layout is the config's: shard i is Shards[i]
// whatever the pool holds and in whatever order it was added. A shard
// missing from the pool is empty (ErrShardDown for its keys, and no other
// key moves), an endpoint outside the layout owns no keys, and adding the
// missing address back routes its keys to it again.
func TestShardLayoutFromConfigKeepsNumbersWhileMembersComeAndGo(t *testing.T) {
	layout := []string{"db-b:5432", "db-a:5432", "db-d:5432", "db-c:5432"} // not in address order
	shards, err := NewShardLayout(layout...)
	if err != nil {
		t.Fatal(err)
	}
	layout[0] = "changed-after-NewShardLayout:1" // the layout keeps its own copy
	shards.Addrs()[1] = "changed-in-a-copy:1"
	layout = shards.Addrs()
	if fmt.Sprint(layout) != "[db-b:5432 db-a:5432 db-d:5432 db-c:5432]" {
		t.Fatalf("the layout changed under its owner: %v", layout)
	}
	cfg := Config{Policy: Shard, Shards: shards}
	p := mustNew(t, cfg, "spare:1", "db-d:5432", "db-c:5432", "db-b:5432", "db-a:5432")
	const keys = 4000
	before := shardOwners2(t, p, keys)
	for k, o := range before {
		if want := layout[shardNumber(fmt.Sprint("key-", k), len(layout))]; o != want {
			t.Fatalf("key %d went to %s; its shard in the layout is %s", k, o, want)
		}
	}
	if err := p.Remove("db-a:5432"); err != nil {
		t.Fatal(err)
	}
	during := shardOwners2(t, p, keys)
	down := 0
	for k := range before {
		switch {
		case before[k] == "db-a:5432":
			if during[k] != "" {
				t.Fatalf("key %d of the missing shard went to %s; want ErrShardDown", k, during[k])
			}
			down++
		case during[k] != before[k]:
			t.Fatalf("key %d moved from %s to %s when another shard left", k, before[k], during[k])
		}
	}
	if down < keys/8 {
		t.Fatalf("only %d of %d keys belonged to one of 4 shards", down, keys)
	}
	if err := p.Add("db-a:5432"); err != nil {
		t.Fatal(err)
	}
	if after := shardOwners2(t, p, keys); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("keys did not come back when the missing shard was added")
	}
	other := mustNew(t, cfg, "db-a:5432", "db-c:5432", "db-b:5432", "db-d:5432")
	if got := shardOwners2(t, other, keys); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatal("a pool with the same layout and other members' order routes keys differently")
	}
	none := mustNew(t, cfg, "spare:1")
	wantShardDown(t, none, "key-1")
	if l, err := none.Pick(); err != nil || l.Endpoint() != "spare:1" {
		t.Fatalf("Pick without a key on a pool outside its layout = %s, %v; want the spare", l.Endpoint(), err)
	}
}

func TestShardLayoutIsValidated(t *testing.T) {
	for name, addrs := range map[string][]string{
		"an empty address": {"a:1", ""},
		"an address twice": {"a:1", "b:1", "a:1"},
		"too many":         make([]string, MaxShards+1),
	} {
		if l, err := NewShardLayout(addrs...); !errors.Is(err, ErrAddress) || l != nil {
			t.Errorf("NewShardLayout with %s = %v, %v; want ErrAddress", name, l, err)
		}
	}
	one, err := NewShardLayout("a:1")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := New(Config{Policy: ConsistentHash, Shards: one}, "a:1"); !errors.Is(err, ErrConfig) || p != nil {
		t.Errorf("Shards on ConsistentHash: New = %v, %v; want ErrConfig", p, err)
	}
	for _, empty := range []*ShardLayout{{}, nil} {
		p, err := New(Config{Policy: Shard, Shards: empty}, "b:1", "a:1")
		if err != nil {
			t.Fatalf("an empty layout means the default: %v", err)
		}
		if got, want := shardOf(t, p, "user-1"), []string{"a:1", "b:1"}[shardNumber("user-1", 2)]; got != want {
			t.Fatalf("with an empty layout, user-1 went to %s; address order says %s", got, want)
		}
	}
	if (*ShardLayout)(nil).Addrs() != nil {
		t.Fatal("a nil layout has addresses")
	}
}

func shardConfig() Config {
	return Config{Policy: Shard, EjectAfter: 1, EjectFor: time.Second, ProbeTimeout: 3 * time.Second, NoJitter: true, MaxEjectedPercent: 100}
}

// keyOf returns a key whose shard is addr.
func keyOf(t *testing.T, p *Pool, addr string) string {
	t.Helper()
	for k := range 100000 {
		if key := fmt.Sprint("k", k); shardOf(t, p, key) == addr {
			return key
		}
	}
	t.Fatalf("no key maps to %s", addr)
	return ""
}

func wantShardDown(t *testing.T, p *Pool, key string) {
	t.Helper()
	l, err := p.PickKey(key)
	if !errors.Is(err, ErrShardDown) || !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("PickKey(%q) = %s, %v; want ErrShardDown (an ErrNoEndpoint)", key, l.Endpoint(), err)
	}
}

// While a key's shard is ejected its keys get ErrShardDown, never another
// shard, and other keys stay where they were. Once the cooldown passes,
// the key's own PickKey is the probe (a keyed pick never takes another
// shard's probe); a failed probe keeps the keys out for twice as long, and
// a successful one routes them back.
func TestShardDownUntilItsProbeReinstatesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := shardAddrs(4)
		p := mustNew(t, shardConfig(), names...)
		before := shardOwners(t, p, 2000)
		key1, key2, key3 := keyOf(t, p, names[1]), keyOf(t, p, names[2]), keyOf(t, p, names[3])

		for _, key := range []string{key1, key2} {
			l, _ := p.PickKey(key)
			l.Done(errBackend)
		}
		wantShardDown(t, p, key1)
		wantShardDown(t, p, key2)
		for k, o := range shardOwners2(t, p, 2000) {
			if before[k] != names[1] && before[k] != names[2] && o != before[k] {
				t.Fatalf("key %d of a healthy shard moved: %s -> %s", k, before[k], o)
			}
		}

		time.Sleep(time.Second) // both cooldowns pass
		synctest.Wait()
		if got := shardOf(t, p, key3); got != names[3] {
			t.Fatalf("a key of shard 3 went to %s while shards 1 and 2 were due", got)
		}
		probe, err := p.PickKey(key1)
		if err != nil || !probe.Probe() || probe.Endpoint() != names[1] {
			t.Fatalf("PickKey of shard 1's key after its cooldown = %s (probe %v), %v; want its probe", probe.Endpoint(), probe.Probe(), err)
		}
		wantShardDown(t, p, key1) // one probe at a time
		probe.Done(errBackend)
		wantShardDown(t, p, key1)
		time.Sleep(time.Second) // the second cooldown is 2 s
		synctest.Wait()
		wantShardDown(t, p, key1)
		time.Sleep(time.Second)
		synctest.Wait()
		probe, err = p.PickKey(key1)
		if err != nil || !probe.Probe() {
			t.Fatalf("second probe: %s, %v", probe.Endpoint(), err)
		}
		probe.Done(nil)
		if got := shardOf(t, p, key1); got != names[1] {
			t.Fatalf("after its probe succeeded, shard 1's key went to %s", got)
		}
		// Shard 2's probe is still waiting for one of its keys.
		if e := mustStatus(t, p, names[2]); e.State != Ejected {
			t.Fatalf("shard 2 is %v before any of its keys came", e.State)
		}
		probe, err = p.PickKey(key2)
		if err != nil || !probe.Probe() || probe.Endpoint() != names[2] {
			t.Fatalf("shard 2's probe: %s, %v", probe.Endpoint(), err)
		}
		probe.Done(nil)
		if after := shardOwners(t, p, 2000); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatal("keys did not all route back once their shards were reinstated")
		}
		for _, e := range p.Endpoints() {
			if e.InFlight != 0 || e.State != Up {
				t.Fatalf("after every Done: %+v", e)
			}
		}
	})
}

// shardOwners2 is shardOwners that records ErrShardDown as "".
func shardOwners2(t *testing.T, p *Pool, keys int) []string {
	t.Helper()
	out := make([]string, keys)
	for k := range out {
		l, err := p.PickKey(fmt.Sprint("key-", k))
		switch {
		case errors.Is(err, ErrShardDown):
		case err != nil:
			t.Fatal(err)
		default:
			out[k] = l.Endpoint()
			l.Done(nil)
		}
	}
	return out
}

// A probe lease that never reports lets the key's next PickKey probe again
// once the probe window ends, as the probe scan does.
func TestShardLostProbeIsRetakenAfterItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := shardAddrs(3)
		p := mustNew(t, shardConfig(), names...)
		key := keyOf(t, p, names[0])
		l, _ := p.PickKey(key)
		l.Done(errBackend)
		time.Sleep(time.Second)
		synctest.Wait()
		if lost, _ := p.PickKey(key); !lost.Probe() {
			t.Fatal("no probe")
		}
		time.Sleep(2 * time.Second)
		wantShardDown(t, p, key)
		time.Sleep(time.Second) // the 3 s window ends
		probe, err := p.PickKey(key)
		if err != nil || !probe.Probe() {
			t.Fatalf("after the lost probe's window: %s, %v; want a new probe", probe.Endpoint(), err)
		}
		probe.Done(nil)
		if got := shardOf(t, p, key); got != names[0] {
			t.Fatalf("reinstated shard's key went to %s", got)
		}
	})
}

// Below MaxEjectedPercent 100, Pick serves an ejected endpoint when none is
// up (panic mode); PickKey on a Shard pool never does, and a pool with no
// endpoints gives ErrShardDown for every key.
func TestShardKeysNeverGoElsewhere(t *testing.T) {
	p := mustNew(t, Config{Policy: Shard, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 50}, "a:1", "b:1")
	keyA, keyB := keyOf(t, p, "a:1"), keyOf(t, p, "b:1")
	l, _ := p.PickKey(keyA)
	l.Done(errBackend)
	wantShardDown(t, p, keyA)
	if got := shardOf(t, p, keyB); got != "b:1" {
		t.Fatalf("b's key went to %s", got)
	}
	for range 100 {
		l, err := p.Pick()
		if err != nil || l.Endpoint() != "b:1" {
			t.Fatalf("Pick without a key = %s, %v; want the shard that is up", l.Endpoint(), err)
		}
		l.Done(nil)
	}

	empty := mustNew(t, Config{Policy: Shard})
	wantShardDown(t, empty, "k")
	if _, err := empty.PickKeyUint64(7); !errors.Is(err, ErrShardDown) {
		t.Fatalf("PickKeyUint64 on an empty pool: %v", err)
	}
	if err := p.Remove("a:1", "b:1"); err != nil {
		t.Fatal(err)
	}
	wantShardDown(t, p, keyA)
}

// Real goroutines, under -race: keyed picks while one shard keeps failing,
// being ejected and probed back. Every lease is on its key's shard, only
// the failing shard's keys ever get ErrShardDown, and nothing is left in
// flight. Bounded by count (4 × 5,000 picks) and by 1 ms cooldowns.
func TestShardConcurrentKeyedPicksStayOnTheirShard(t *testing.T) {
	names := shardAddrs(5)
	p := mustNew(t, Config{Policy: Shard, EjectAfter: 1, EjectFor: time.Millisecond, MaxEjectFor: time.Millisecond,
		ProbeTimeout: time.Millisecond, MaxEjectedPercent: 100}, names...)
	const keys = 512
	owner := make([]string, keys)
	for k := range owner {
		owner[k] = names[keyhash.Jump(keyhash.Mix64(uint64(k)), len(names))]
	}
	var down, leased atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := (i*7 + g*131) % keys
				l, err := p.PickKeyUint64(uint64(k))
				if errors.Is(err, ErrShardDown) {
					if owner[k] != names[1] {
						t.Errorf("key %d of the healthy %s got ErrShardDown", k, owner[k])
					}
					down.Add(1)
					continue
				}
				if err != nil || l.Endpoint() != owner[k] {
					t.Errorf("key %d: %s, %v; want its shard %s", k, l.Endpoint(), err, owner[k])
					return
				}
				leased.Add(1)
				if l.Endpoint() == names[1] {
					l.Done(errBackend) // shard 1 always fails: ejected, probed, ejected again
				} else {
					l.Done(nil)
				}
			}
		})
	}
	wg.Wait()
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("%s has %d in flight after every Done", e.Addr, e.InFlight)
		}
		if e.Addr != names[1] && (e.State != Up || e.Streak != 0) {
			t.Errorf("healthy shard %+v", e)
		}
	}
	if down.Load() == 0 || leased.Load() == 0 {
		t.Fatalf("%d ErrShardDown, %d leases: the failing shard was never out, or nothing was leased", down.Load(), leased.Load())
	}
}

func TestShardKeyRouteAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	for _, n := range []int{1, 8, 1024} {
		p := mustNew(t, Config{Policy: Shard, EjectAfter: 255}, shardAddrs(n)...)
		keys := []string{"user-1", "user-22", "orders/9"}
		i := 0
		for name, pick := range map[string]func() (Lease, error){
			"PickKey":       func() (Lease, error) { i++; return p.PickKey(keys[i%len(keys)]) },
			"PickKeyUint64": func() (Lease, error) { i++; return p.PickKeyUint64(uint64(i)) },
		} {
			if allocs := pickDoneAllocs(1000, pick, nil); allocs != 0 {
				t.Errorf("n=%d %s+Done: %.1f allocations", n, name, allocs)
			}
		}
	}
	down := mustNew(t, Config{Policy: Shard, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, "a:1")
	l, _ := down.PickKey("k")
	l.Done(errBackend)
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := down.PickKey("k"); err != ErrShardDown {
			panic(err)
		}
	}); allocs != 0 {
		t.Errorf("PickKey of a shard that is down: %.1f allocations", allocs)
	}
}

// BenchmarkPickKey measures PickKey and Done(nil) on Shard and on
// ConsistentHash over the same endpoints and keys, beside P2C's Pick and
// Done(nil) over the same endpoints and reference (a), in the same run.
// The keys are 65,536 distinct 10-byte strings, "user-00000" to
// "user-65535", so their entries spread over the whole table and lookups
// miss the L1 cache as real traffic would. They are slices of one string,
// read in order, as a server reads each request's key from the request it
// just parsed; consistent_hash-allocated reads 65,536 separately
// allocated strings instead, whose headers and bytes pass through the
// cache too. consistent_hash-uint64 is PickKeyUint64 over the numbers
// 0..65,535: the same lookup without the key's hash.
func BenchmarkPickKey(b *testing.B) {
	const keyLen, nkeys = 10, 1 << 16
	var packed strings.Builder
	allocated := make([]string, nkeys)
	for i := range nkeys {
		fmt.Fprintf(&packed, "user-%05d", i)
		allocated[i] = fmt.Sprintf("user-%05d", i)
	}
	keys := packed.String()
	for _, n := range []int{8, 64, 1024, 10000} {
		b.Run(fmt.Sprintf("policy=reference/n=%d", n), referenceAdds)
		b.Run(fmt.Sprintf("policy=p2c/n=%d", n), func(b *testing.B) {
			pickDone(b, mustNew(b, Config{Policy: P2C}, addrs(n)...))
		})
		for _, pol := range []Policy{Shard, ConsistentHash} {
			b.Run(fmt.Sprintf("policy=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNew(b, Config{Policy: pol}, addrs(n)...)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					o := i & (nkeys - 1) * keyLen
					l, err := p.PickKey(keys[o : o+keyLen])
					if err != nil {
						b.Fatal(err)
					}
					l.Done(nil)
					i++
				}
				opsPerSec(b)
			})
		}
		b.Run(fmt.Sprintf("policy=consistent_hash-allocated/n=%d", n), func(b *testing.B) {
			p := mustNew(b, Config{Policy: ConsistentHash}, addrs(n)...)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l, err := p.PickKey(allocated[i&(nkeys-1)])
				if err != nil {
					b.Fatal(err)
				}
				l.Done(nil)
				i++
			}
			opsPerSec(b)
		})
		b.Run(fmt.Sprintf("policy=consistent_hash-uint64/n=%d", n), func(b *testing.B) {
			p := mustNew(b, Config{Policy: ConsistentHash}, addrs(n)...)
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				l, err := p.PickKeyUint64(i & (nkeys - 1))
				if err != nil {
					b.Fatal(err)
				}
				l.Done(nil)
				i++
			}
			opsPerSec(b)
		})
	}
}

// Shard tables are changed in place of being rebuilt: after every step of
// random Adds, Removes and Sets, the shards are exactly those of a pool
// built from scratch with the same endpoints, with and without a layout.
func TestShardTableChangesMatchARebuild(t *testing.T) {
	all := addrs(64)
	layout, err := NewShardLayout(all[:48]...)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{"sorted": {Policy: Shard}, "layout": {Policy: Shard, Shards: layout}} {
		rng := rand.New(rand.NewPCG(7, 7))
		p := mustNew(t, cfg)
		for step := range 300 {
			randomChange(t, rng, p, all, false)
			var now []string
			for _, e := range p.Endpoints() {
				now = append(now, e.Addr)
			}
			fresh := mustNew(t, cfg, now...)
			got, want := p.tables.shard.Load(), fresh.tables.shard.Load()
			if len(got.shards) != len(want.shards) {
				t.Fatalf("%s step %d: %d shards, want %d", name, step, len(got.shards), len(want.shards))
			}
			for i := range got.shards {
				if g, w := got.shard(i), want.shard(i); (g == nil) != (w == nil) || g != nil && *g.addr != *w.addr {
					t.Fatalf("%s step %d: shard %d differs from a rebuild's", name, step, i)
				}
			}
		}
	}
}
