// Package subset chooses, for one client among many, the subset of backend
// addresses it connects to, so that a fleet of clients spreads its
// connections evenly over a fleet of backends while each client holds only
// a few. A subset is recomputed when membership changes, not on a pick, so
// the functions allocate freely.
//
// Three rules, each a pure function of its inputs so that every process
// (in any language) that follows the steps below computes the same subsets:
//
//   - Deterministic is the rule of Google's SRE book, chapter 20 ("Load
//     Balancing in the Datacenter"): clients take turns in rounds, each
//     round deals out one shuffle of the backends. Balance is exact when
//     the subset size divides the backend count, but a membership change
//     reshuffles every round, so almost every subset changes.
//   - Rendezvous is highest-random-weight hashing: a client takes the size
//     backends with the highest hash of (client, backend), as gRPC's A68
//     random_subsetting does. A membership change moves the fewest entries
//     possible, but each backend's load is as uneven as with subsets drawn
//     at random.
//   - Ring is both: backends sit on a hash ring (several points each), the
//     clients' start points are a golden-ratio sequence of their indexes,
//     evenly spread over the ring whatever the client count, and a client
//     takes the first size distinct backends clockwise from its start. A
//     backend's load is the clients starting in the arcs just before its
//     points, so it is near even when clients are numbered densely from 0;
//     adding or removing one backend changes only the subsets that gain or
//     lose it, one entry each.
//
// Every function returns its subset sorted, without duplicates, and treats
// its backends as a set: their order does not matter, duplicates count
// once. A size of zero or less gives no subset; a size of at least the
// number of backends gives them all.
package subset
