package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lbDir = "../lb"

// TestCommittedFilesAreFresh fails when the generated files in lb differ from
// what the generator produces now: run `make generate` and commit.
func TestCommittedFilesAreFresh(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		have, err := os.ReadFile(filepath.Join(lbDir, name))
		if err != nil {
			t.Errorf("%s: %v (run `make generate`)", name, err)
			continue
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", name)
		}
	}
	// A generated file whose policy left the table must go too.
	stale, _ := filepath.Glob(filepath.Join(lbDir, "*_gen.go"))
	for _, path := range stale {
		if _, ok := files[filepath.Base(path)]; !ok {
			t.Errorf("%s is not produced by the generator any more: delete it", path)
		}
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate()
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func TestEveryFileCarriesTheGeneratedHeader(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if !strings.HasPrefix(string(src), "// "+header+"\n") {
			t.Errorf("%s does not start with %q", name, header)
		}
	}
}

func TestPolicyTableIsWellFormed(t *testing.T) {
	seen := [3]map[string]bool{{}, {}, {}}
	for _, p := range policies {
		for k, key := range []string{p.Name, p.Ident, p.Label} {
			if key == "" || seen[k][key] {
				t.Errorf("policy %q: empty or repeated name %q", p.Name, key)
			}
			seen[k][key] = true
		}
		if p.Pick == nil || len(p.Doc) == 0 {
			t.Errorf("policy %q needs a Pick body and a doc comment", p.Name)
		}
	}
}
