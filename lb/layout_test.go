package lb

import (
	"reflect"
	"testing"
	"unsafe"
)

// Slots fill whole cache lines and are allocated in line-aligned chunks
// (newMembersOf), so no two endpoints share a line. The generated files
// guard size and offsets at compile time; this checks the addresses we
// really get.
func TestSlotsSitAloneOnCacheLines(t *testing.T) {
	for _, pol := range Policies() {
		p := mustNew(t, Config{Policy: pol}, addrs(64)...)
		for _, c := range p.view.Load().cores {
			if addr := uintptr(unsafe.Pointer(c)); addr%cacheLine != 0 {
				t.Fatalf("%v: slot at %#x is not on a %d-byte line boundary", pol, addr, cacheLine)
			}
		}
	}
	for name, size := range map[string]uintptr{
		"slot":         unsafe.Sizeof(slot{}),
		"peakEWMASlot": unsafe.Sizeof(peakEWMASlot{}),
	} {
		if size != cacheLine {
			t.Errorf("%s is %d bytes, want one %d-byte line", name, size, cacheLine)
		}
	}
}

// A meter's first line, written by Done, is its own: meters are whole
// lines, and each is allocated alone, in a size class of whole lines.
func TestMetersSitAloneOnCacheLines(t *testing.T) {
	if size := unsafe.Sizeof(meter{}); size%cacheLine != 0 || unsafe.Offsetof(meter{}.meterState) != cacheLine {
		t.Fatalf("meter is %d bytes with its state at %d; want whole %d-byte lines, the state on the second", size, unsafe.Offsetof(meter{}.meterState), cacheLine)
	}
	p := mustNew(t, Config{}, addrs(64)...)
	for _, c := range p.view.Load().cores {
		if addr := uintptr(unsafe.Pointer(c.meter)); addr%cacheLine != 0 {
			t.Fatalf("meter at %#x is not on a %d-byte line boundary", addr, cacheLine)
		}
	}
}

// The round robin cursor, written by every Pick, shares no line with the
// table's read-only fields.
func TestRoundRobinCursorHasItsOwnLine(t *testing.T) {
	var tab roundRobinTable
	next := unsafe.Offsetof(tab.next)
	if next-unsafe.Offsetof(tab.magic) < cacheLine || unsafe.Sizeof(tab)-next < cacheLine {
		t.Fatalf("cursor at offset %d of %d bytes: not padded a full line on each side", next, unsafe.Sizeof(tab))
	}
}

// Lease must stay SSA-able (at most four fields): with a fifth, the
// compiler spills every Lease Pick returns to memory, and Pick+Done costs
// about 2.5 times as much (measured: 33 ns against 13 ns for P2C).
func TestLeaseStaysInRegisters(t *testing.T) {
	if n := reflect.TypeFor[Lease]().NumField(); n > 4 {
		t.Fatalf("Lease has %d fields; the compiler keeps at most 4 in registers", n)
	}
}
