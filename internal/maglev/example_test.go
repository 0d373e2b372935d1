package maglev_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/keyhash"
	"github.com/nanolb/nanolb/internal/maglev"
)

// A table for three endpoints, one of them of double weight, and the
// endpoint a key looks up in it.
func Example() {
	eps := []maglev.Endpoint{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "10.0.0.2:80", Weight: 1}, {Addr: "10.0.0.3:80", Weight: 2}}
	table := maglev.Build[uint16](eps, maglev.Size(3*100))
	held := make([]int, len(eps))
	for _, i := range table {
		held[i]++
	}
	fmt.Println(len(table), "entries:", held)
	h := keyhash.Mix64(keyhash.String("user-12345"))
	fmt.Println("user-12345 ->", eps[table[maglev.Entry(h, len(table))]].Addr)
	// Output:
	// 65537 entries: [16384 16385 32768]
	// user-12345 -> 10.0.0.1:80
}
