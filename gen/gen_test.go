package main

import (
	"bytes"
	"os"
	"os/exec"
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
		if len(p.Doc) == 0 {
			t.Errorf("policy %q needs a doc comment", p.Name)
		}
		for _, f := range append(p.SlotFields, p.TableFields...) {
			if f.Name == "" || f.Type == "" || f.Doc == "" {
				t.Errorf("policy %q: field %+v needs a name, a type and a doc", p.Name, f)
			}
		}
	}
}

// No generated comment runs past 100 columns, nor code past 130 (tabs
// count 4): the output stays readable in an editor and a diff.
func TestGeneratedLinesStayReadable(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		for i, line := range strings.Split(string(src), "\n") {
			limit := 130
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				limit = 100
			}
			if n := len(strings.ReplaceAll(line, "\t", "    ")); n > limit {
				t.Errorf("%s:%d is %d columns: %s", name, i+1, n, line)
			}
		}
	}
}

// The README's recipe for a new policy works: a row in the table plus a
// hand-written file of methods compiles into lb. The test builds a copy of
// the module with a throwaway policy that has its own slot fields, table
// fields, setup, keys and lease state, so every generated path is used.
func TestAThrowawayPolicyRowCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the module")
	}
	row := policy{
		Name: "Throwaway", Ident: "throwaway", Label: "throwaway",
		Doc:        []string{"Throwaway exists only in gen's test."},
		SlotFields: []field{{Name: "hits", Type: "atomic.Int64", Doc: "picks so far"}},
		TableFields: []field{
			{Name: "seen", Type: "[]uint64", Doc: "a slice field"},
			{Name: "next", Type: "atomic.Uint64", Doc: "an own-line field", Own: true},
		},
		Setup: true, Keyed: true, Leases: true, Totals: true,
	}
	files, err := generate(append(append([]policy{}, policies...), row))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyTree(t, "..", dir, func(rel string) bool {
		if rel == "go.mod" || rel == "go.sum" {
			return true
		}
		if strings.HasSuffix(rel, "_test.go") || strings.HasSuffix(rel, "_gen.go") {
			return false
		}
		d := filepath.Dir(rel)
		lbOrItsDeps := d == "." || d == "lb" || strings.HasPrefix(filepath.ToSlash(d), "internal/")
		return lbOrItsDeps && (strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".s"))
	})
	for name, src := range files {
		write(t, filepath.Join(dir, "lb", name), src)
	}
	write(t, filepath.Join(dir, "lb", "throwaway.go"), []byte(`package lb

func (t *throwawayTable) setup(prev *throwawayTable, env tableEnv) { _, _ = prev, env }

func (t *throwawayTable) pick() *core {
	for _, s := range t.slots {
		if s.pickable() {
			s.hits.Add(1)
			return &s.core
		}
	}
	return nil
}

func (t *throwawayTable) pickKey(h uint64) *core { _ = h; return t.pick() }

func (t *throwawayTable) begin(*core) int64 { return 1 }

func (t *throwawayTable) end(*core, int64, error) {}
`))
	cmd := exec.Command("go", "vet", "./lb")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lb with a throwaway policy does not build: %v\n%s", err, out)
	}
}

func copyTree(t *testing.T, from, to string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if !keep(rel) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		write(t, filepath.Join(to, rel), src)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, src []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
}
