package lb

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// Shard: strict key routing over numbered shards. A key's shard is its jump
// consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent
// Hash Algorithm", 2014) over the shard count. Shard i is either
//
//   - the i-th address of Config.Shards, an explicit layout: the shard
//     count is fixed by the config, and a shard whose address is not in the
//     pool is empty (its keys get ErrShardDown), so membership changes
//     from discovery never renumber anything; or, by default,
//   - the pool's i-th endpoint in address order: shorter addresses first,
//     then bytewise, so "shard-2" comes before "shard-10" and "10.0.0.9:80"
//     before "10.0.0.10:80". Adding an endpoint that sorts last moves 1/(n+1)
//     of the keys, all to it; removing one renumbers those after it.
//
// Either way the numbering is a function of the addresses alone: the order
// of New's list, of Add calls or of Set's list does not matter, and every
// process with the same layout (or the same addresses) routes keys alike.
//
// The key's hash is fixed, so clients in any language can compute it:
// PickKeyUint64(k) takes x = fmix64(k), MurmurHash3's 64-bit finaliser, and
// PickKey(s) takes x = fmix64(H(s)), H being PickKey's key hash, as on
// ConsistentHash; the shard is then the paper's JumpConsistentHash(x, n)
// for n endpoints, with its 64-bit generator and double division
// (internal/keyhash). Upgrading from a version that hashed Shard's string
// keys with FNV-1a moves them once.
//
// Unlike ConsistentHash, a key never moves while its shard is out: PickKey
// returns ErrShardDown instead, until the shard's probe reinstates it. The
// key's own PickKey may be that probe (once the cooldown has passed); a
// keyed pick is never handed another shard's probe or, in panic mode,
// another shard.

// ShardLayout is an explicit shard layout for Config.Shards: a list of
// addresses, shard i being the i-th. It is immutable, so pools may share
// one; growing a layout is a new one (with a new pool): appending an
// address to n moves about 1/(n+1) of the keys, all to the new shard.
type ShardLayout struct {
	addrs []string
	shard map[string]int // address -> its shard
}

// MaxShards is the longest ShardLayout.
const MaxShards = 1 << 20

// NewShardLayout returns the layout whose shard i is addrs[i]. An empty
// address, one given twice, or more than MaxShards of them is an error
// wrapping ErrAddress.
func NewShardLayout(addrs ...string) (*ShardLayout, error) {
	if len(addrs) > MaxShards {
		return nil, fmt.Errorf("%w: %d shards, more than %d", ErrAddress, len(addrs), MaxShards)
	}
	seen := make(map[string]int, len(addrs))
	for i, a := range addrs {
		if a == "" {
			return nil, fmt.Errorf("%w: shard %d's address is empty", ErrAddress, i)
		}
		if j, dup := seen[a]; dup {
			return nil, fmt.Errorf("%w: %q is both shard %d and shard %d", ErrAddress, a, j, i)
		}
		seen[a] = i
	}
	return &ShardLayout{addrs: slices.Clone(addrs), shard: seen}, nil
}

// Addrs returns the layout's addresses, shard i at index i.
func (l *ShardLayout) Addrs() []string {
	if l == nil {
		return nil
	}
	return slices.Clone(l.addrs)
}

// setup lays out the shards: Config.Shards's addresses, each the view
// position of the member with that address or -1 (an empty shard), or else
// the members in address order. The table holds positions, not pointers:
// half the size, and written and collected without the garbage collector's
// barriers and scans. It renumbers the table it replaces (none for a
// pool's first, whose change adds every member) by the membership change,
// in time linear in the shards and no slot read for the endpoints that
// stay, and places the added members.
func (t *shardTable) setup(prev *shardTable, env tableEnv) {
	ch, cores := env.change, t.view.cores
	first := int32(len(cores) - len(ch.added)) // the first added member's position
	var (
		old []int32 // the shards before the change
		was []*core // the cores old indexes
	)
	if prev != nil {
		old, was = prev.shards, prev.view.cores
	}
	moved := renumberOf(ch)
	layout := env.cfg.shards
	if layout == nil {
		t.shards = mergeShards(old, was, cores, first, moved)
		return
	}
	t.shards = make([]int32, len(layout.addrs))
	for s := range t.shards {
		t.shards[s] = -1
	}
	for s, i := range old {
		t.shards[s] = moved.to(i)
	}
	for k, c := range cores[first:] {
		if s, ok := layout.shard[*c.addr]; ok {
			t.shards[s] = first + int32(k)
		}
	}
}

// mergeShards returns the shards after a change: old (positions in the old
// view's cores, in shard order) renumbered by moved, without the dropped
// ones, merged with the added members (positions first and on of the new
// view's cores). It reads the addresses of the added members and of about
// log2(len(old)) kept ones per added member, never those of all the kept
// ones: each added member's place in old is found by binary search. The
// searches span all of old, so their first steps, shared, stay in cache.
func mergeShards(old []int32, was, cores []*core, first int32, moved renumber) []int32 {
	in := make([]int32, len(cores)-int(first))
	for k := range in {
		in[k] = first + int32(k)
	}
	slices.SortFunc(in, func(a, b int32) int { return shardOrder(*cores[a].addr, *cores[b].addr) })
	out := make([]int32, 0, len(cores))
	from := 0
	for _, k := range in {
		addr := *cores[k].addr
		to := sort.Search(len(old), func(i int) bool { return shardOrder(addr, *was[old[i]].addr) < 0 })
		out = moved.appendKept(out, old[from:to])
		out = append(out, k)
		from = to
	}
	return moved.appendKept(out, old[from:])
}

// renumber maps the positions of a view's members to the next view's, for
// a change: a kept member moves down by the number dropped before it. The
// drops are a bitmap with a running count per word, 1/32 of the view's
// size, so a lookup is two loads and a population count.
type renumber struct {
	dropped []uint64 // bit i%64 of dropped[i/64]: position i is dropped
	before  []int32  // positions dropped before word w's first
}

// renumberOf returns the renumbering of ch; without drops, the identity.
func renumberOf(ch change) renumber {
	if ch.gone == 0 {
		return renumber{}
	}
	r := renumber{dropped: make([]uint64, (len(ch.drop)+63)/64), before: make([]int32, (len(ch.drop)+63)/64)}
	for i, d := range ch.drop {
		if d {
			r.dropped[i/64] |= 1 << (i % 64)
		}
	}
	var n int32
	for w, word := range r.dropped {
		r.before[w] = n
		n += int32(bits.OnesCount64(word))
	}
	return r
}

// to returns position i's next position, or -1 if it is dropped (or is
// -1, an empty shard).
func (r renumber) to(i int32) int32 {
	if r.dropped == nil || i < 0 {
		return i
	}
	w, b := r.dropped[uint32(i)/64], uint64(1)<<(uint32(i)%64)
	if w&b != 0 {
		return -1
	}
	return i - r.before[uint32(i)/64] - int32(bits.OnesCount64(w&(b-1)))
}

// appendKept appends the next positions of positions (none -1) to out,
// leaving out the dropped ones: to's loop, with nothing but the lookup in
// it, as it runs over every shard.
func (r renumber) appendKept(out, positions []int32) []int32 {
	if r.dropped == nil {
		return append(out, positions...)
	}
	dropped, before := r.dropped, r.before
	for _, i := range positions {
		w, b := dropped[uint32(i)/64], uint64(1)<<(uint32(i)%64)
		if w&b == 0 {
			out = append(out, i-before[uint32(i)/64]-int32(bits.OnesCount64(w&(b-1))))
		}
	}
	return out
}

// shardOrder orders addresses into shards: by length, then bytewise.
func shardOrder(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// pick draws an endpoint uniformly among those that are up, or returns nil
// when none is: Pick without a key may go to any shard.
func (t *shardTable) pick() *core { return t.view.anyUp() }

// pickKey returns the shard of key hash h if it is up, else nil.
func (t *shardTable) pickKey(h uint64) *core {
	if c := t.owner(h); c != nil && c.pickable() {
		return c
	}
	return nil
}

// owner returns the shard of key hash h, up or not, or nil for no shards
// or an empty one.
func (t *shardTable) owner(h uint64) *core {
	if len(t.shards) == 0 {
		return nil
	}
	return t.shard(keyhash.Jump(h, len(t.shards)))
}

// shard returns shard s's endpoint, or nil for an empty shard.
func (t *shardTable) shard(s int) *core {
	if i := t.shards[s]; i >= 0 {
		return &t.slots[i].core
	}
	return nil
}

// pickShard is PickKeyUint64 on a Shard pool, for key hash h: a lease on
// the key's shard while it is up, its probe once its cooldown has passed,
// and otherwise ErrShardDown (for no shards at all, or an empty one, too).
func (p *Pool) pickShard(h uint64) (Lease, error) {
	for {
		t := p.tables.shard.Load()
		c := t.owner(h)
		if c == nil {
			return Lease{}, ErrShardDown
		}
		if c.pickable() {
			return p.lease(c)
		}
		l, err := p.probeShard(c)
		if err != ErrShardDown || p.tables.shard.Load() == t {
			return l, err
		}
		// The membership changed under us: the key's shard may be another.
	}
}

// probeShard is pickShard for a shard that is not up: it leases the shard
// to the calling PickKey as its probe if its cooldown (or a previous
// probe's window) has passed, as the probe scan would, and otherwise
// returns ErrShardDown. Only this path reads the clock.
func (p *Pool) probeShard(c *core) (Lease, error) {
	v := p.view.Load()
	i := int(c.index.Load())
	if i >= len(v.cores) || v.cores[i] != c {
		return Lease{}, ErrShardDown // removed, or a membership change is being published
	}
	h := c.health.Load()
	switch stateOf(h) {
	case stateUp:
		return p.lease(c) // it came back meanwhile
	case stateEjected, stateProbing:
		now := p.now()
		if deadlineOf(h) > now {
			break
		}
		switch l, err := p.probeNow(v, i, h, now); err {
		case nil:
			return l, nil
		case ErrSaturated:
			return p.refuse()
		}
	}
	return Lease{}, ErrShardDown
}
