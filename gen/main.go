// Command gen writes lb's generated tables: for every row of its policy
// table, a slot type padded to whole cache lines, a table type and the
// policy's specialised pick, plus the dispatch between them.
//
// Usage (from lb, through go generate):
//
//	go run ../gen -out .          write the files
//	go run ../gen -out . -verify  exit 1 if the committed files differ
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	out := flag.String("out", ".", "directory to write the generated files to (lb)")
	verify := flag.Bool("verify", false, "compare with the files in -out instead of writing them")
	flag.Parse()
	files, err := Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	stale := 0
	for _, name := range names {
		path := filepath.Join(*out, name)
		if *verify {
			have, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(have, files[name]) {
				fmt.Fprintf(os.Stderr, "gen: %s is stale\n", path)
				stale++
			}
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
	if stale > 0 {
		os.Exit(1)
	}
}
