// Package lbetcd is service discovery from etcd for nanolb: a Resolver that
// reads the endpoints stored under a key prefix and follows them with an
// etcd watch, for a discovery.Runner to keep an lb.Pool in step with, and
// Register, with which a service stores its own endpoint under a lease that
// it keeps alive.
//
// Settings are a plain struct whose zero value is ready (Config, for
// NewResolver); Register takes its few arguments directly. There are no
// functional options.
//
// # Layout in etcd
//
// One key per endpoint under a prefix such as "/services/users/"; Register
// uses prefix+address as the key. The value is an endpoint in one of the
// forms ParseValue accepts: a small JSON object,
// {"addr":"10.0.0.1:8080","weight":2,"zone":"us-east-1a"} (what Register
// writes; "addr" is required, the weight is optional, absent or 0 meaning
// 1, the zone, lb.Endpoint.Zone, is optional, absent meaning "", and
// other fields are ignored), a JSON string, or a bare address, surrounding
// white space trimmed (what go-zero and many hand-written registrants
// store), these two without a zone. The address must be host:port with
// both parts non-empty (net.SplitHostPort rules: an IPv6 host in
// brackets), in valid UTF-8 without white space or control characters;
// the weight must be in 0..lb.MaxWeight; the zone a JSON string of at most
// lb.MaxZoneLen bytes. Values written before zones existed read as
// endpoints without one, and readers that predate zones ignore the field.
//
// # Registration
//
// Register's key comes and goes with its lease, so it suits membership,
// not a shard layout (see Shards). If the lease is lost anyway (etcd was
// away for longer than the TTL, or someone else revoked the lease), the
// Registration grants a new lease and stores the key again, retrying every
// 200 ms to 5 s until it succeeds or is closed. etcd rounds a TTL up to
// whole seconds and to its own minimum (about 2 s for a default single
// member). Close revokes the lease, which deletes the key at once.
//
// # Following changes
//
// The Resolver is a discovery.Watcher. Resolve lists the prefix at one
// revision; Watch watches the prefix from the next revision, so no change
// falls between a list and the watch, and every event makes the Runner list
// again at once. A watch whose revisions were compacted away (etcd answers
// ErrCompacted) and a connection to etcd lost or regained also make the
// Runner list again. While etcd is away, Resolve fails (wrapping ErrEtcd):
// the Runner's Status shows it and the pool keeps its last good set.
//
// # Bad values
//
// A value that is not an endpoint is skipped and reported once per version
// (Config.OnBadValue, slog by default, and Resolver.BadValues), so one bad
// registrant cannot freeze discovery for the others; a prefix with values
// but no valid one fails the Resolve, so the Runner keeps the last good set.
//
// # Shards
//
// To an lb.Shard pool numbered by its members or to lbgrpc's nanolb_shard,
// the Resolver's answer is the shard layout: shards are the endpoints in
// address order, so an endpoint that leaves renumbers the shards after it
// and moves their keys. A key Register stores lives on a lease, and leaves
// whenever the lease ends: when the instance dies, but also when it is cut
// off from etcd for longer than its TTL, and at each restart (Close
// revokes the lease). Such a layout follows each instance's etcd session,
// not the shards meant. For shards, store each shard's key without a lease
// (FormatValue's value with a plain Put, or etcdctl put) and change those
// keys only to re-shard; liveness is then the client's: nanolb_shard fails
// the keys of a shard whose connection is down, and an lb.Shard pool with
// a Config.Shards layout those of a shard missing from its members.
//
// The module needs an etcd v3 API server, 3.4 or newer; it uses
// go.etcd.io/etcd/client/v3 v3.5.
package lbetcd
