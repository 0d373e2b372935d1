//go:build linux && !race

// The race detector instruments atomics in C code, where a fault on the
// guard page cannot be recovered, so this file runs without -race.

package lb

import (
	"runtime/debug"
	"syscall"
	"testing"
	"unsafe"
)

// onGuardedCore places a core so that its in-flight counter ends one page
// and its health word starts the next, read-only page, then runs f on it:
// any write to the health word faults, and the fault becomes a panic.
func onGuardedCore(t *testing.T, health uint64, f func(c *core)) (wrote bool) {
	t.Helper()
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	c := (*core)(unsafe.Pointer(&mem[page-int(unsafe.Offsetof(core{}.health))]))
	c.leases.Store(1)
	c.health.Store(health)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_READ); err != nil {
		t.Skip("mprotect:", err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { wrote = recover() != nil }()
	f(c)
	return false
}

// Done(nil) on an endpoint that is up with no streak writes nothing but the
// in-flight decrement: the health word's page is read-only here. The same
// harness catches the write a streak reset must make, so it can fail.
func TestSuccessOnAHealthyEndpointWritesOnlyTheInFlightCount(t *testing.T) {
	p := mustNew(t, Config{})
	wrote := onGuardedCore(t, 0, func(c *core) {
		l := Lease{c: c, pool: p}
		l.Done(nil)
		if c.inFlight() != 0 {
			t.Error("in-flight count not released")
		}
	})
	if wrote {
		t.Fatal("Done(nil) on a healthy endpoint wrote its health word")
	}
	if !onGuardedCore(t, healthWord(stateUp, 2, 0, 0), func(c *core) {
		l := Lease{c: c, pool: p}
		l.Done(nil)
	}) {
		t.Fatal("the guard missed the write that ends a streak")
	}
}
