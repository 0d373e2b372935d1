// Package admission measures nanolb's admission control beside the
// semaphores a Go user would otherwise reach for: the hand-off latency from
// a release until a parked waiter runs, and the uncontended cost of a
// limited Pick+Done. It holds only benchmarks and their tests.
package admission
