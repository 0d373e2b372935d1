package keyhash_test

import (
	"fmt"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// A string key's shard among 10, as lb.Shard's PickKey numbers it: the
// key's hash, mixed, then jump consistent hash.
func Example() {
	h := keyhash.String("user-12345")
	fmt.Printf("String: %#x\n", h)
	fmt.Printf("Mix64:  %#x\n", keyhash.Mix64(h))
	fmt.Println("Jump:  ", keyhash.Jump(keyhash.Mix64(h), 10))
	// Output:
	// String: 0x17d3ed2bab2b0728
	// Mix64:  0x8c5d55ec7113b14a
	// Jump:   1
}
