package discovery

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// writeAtomic replaces path's content by writing a temporary file beside it
// and renaming it over path.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".endpoints-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// writeInPlace truncates path and writes content into the same inode.
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFileParses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "endpoints.json")
	f, err := NewFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content string
		want    []lb.Endpoint // nil: want an error
	}{
		{"a list with and without weights", `[{"addr": "10.0.0.1:80", "weight": 3}, {"addr": "10.0.0.2:80"}]`,
			[]lb.Endpoint{{Addr: "10.0.0.1:80", Weight: 3}, {Addr: "10.0.0.2:80"}}},
		{"an empty list", "[]\n", []lb.Endpoint{}},
		{"zones, absent and empty ones too", `[{"addr": "10.0.0.1:80", "zone": "us-east-1a"}, {"addr": "10.0.0.2:80", "weight": 2, "zone": ""}, {"addr": "10.0.0.3:80"}]`,
			[]lb.Endpoint{{Addr: "10.0.0.1:80", Zone: "us-east-1a"}, {Addr: "10.0.0.2:80", Weight: 2}, {Addr: "10.0.0.3:80"}}},
		{"a zone of lb.MaxZoneLen bytes", `[{"addr": "10.0.0.1:80", "zone": "` + strings.Repeat("z", lb.MaxZoneLen) + `"}]`,
			[]lb.Endpoint{{Addr: "10.0.0.1:80", Zone: strings.Repeat("z", lb.MaxZoneLen)}}},
		{"a zone over lb.MaxZoneLen bytes", `[{"addr": "10.0.0.1:80", "zone": "` + strings.Repeat("z", lb.MaxZoneLen+1) + `"}]`, nil},
		{"a numeric zone", `[{"addr": "10.0.0.1:80", "zone": 3}]`, nil},
		{"a null zone is no zone", `[{"addr": "10.0.0.1:80", "zone": null}]`, []lb.Endpoint{{Addr: "10.0.0.1:80"}}},
		{"a syntax error", "[\n{\"addr\": \"10.0.0.1:80\"},\n{\"addr\" \"x\"}]", nil},
		{"a list cut short", `[{"addr": "10.0.0.1:80"}, {"ad`, nil},
		{"an empty file", "", nil},
		{"null", "null", nil},
		{"a list of strings", `["10.0.0.1:80"]`, nil},
		{"an object, not a list", `{"addr": "10.0.0.1:80"}`, nil},
		{"an unknown field", `[{"addr": "10.0.0.1:80", "wieght": 2}]`, nil},
		{"a string weight", `[{"addr": "10.0.0.1:80", "weight": "2"}]`, nil},
		{"a fractional weight", `[{"addr": "10.0.0.1:80", "weight": 1.5}]`, nil},
		{"a negative weight", `[{"addr": "10.0.0.1:80", "weight": -1}]`, nil},
		{"a weight over lb.MaxWeight", `[{"addr": "10.0.0.1:80", "weight": 1048577}]`, nil},
		{"a missing addr", `[{"weight": 2}]`, nil},
		{"a duplicate address", `[{"addr": "10.0.0.1:80"}, {"addr": "10.0.0.1:80", "weight": 2}]`, nil},
		{"data after the list", `[{"addr": "10.0.0.1:80"}] [{"addr": "10.0.0.2:80"}]`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeAtomic(t, path, tc.content)
			got, err := resolveWithin(t, f, time.Second)
			if tc.want == nil {
				if got != nil || !errors.Is(err, ErrResolve) {
					t.Fatalf("Resolve = %v, %v; want no endpoints and an error wrapping ErrResolve", got, err)
				}
				t.Log(err)
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("a missing file", func(t *testing.T) {
		g, _ := NewFile(filepath.Join(t.TempDir(), "none.json"), 0)
		if _, err := resolveWithin(t, g, time.Second); !errors.Is(err, ErrResolve) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Resolve = %v, want ErrResolve and fs.ErrNotExist", err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		if _, err := NewFile("", 0); !errors.Is(err, ErrConfig) {
			t.Errorf("NewFile with no path: %v", err)
		}
		if _, err := NewFile(path, -time.Second); !errors.Is(err, ErrConfig) {
			t.Errorf("NewFile with a negative poll: %v", err)
		}
	})
}

// waitFor polls cond every 5 ms until it holds or d passes; it reports
// whether cond held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling, not an assertion
	}
	return true
}

func TestFileRunnerFollowsEdits(t *testing.T) {
	noLeaks(t)
	path := filepath.Join(t.TempDir(), "endpoints.json")
	writeAtomic(t, path, `[{"addr": "10.0.0.1:80"}, {"addr": "10.0.0.2:80"}]`)
	f, err := NewFile(path, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	pool := newPool(t)
	// Polls an hour apart: every change below arrives through Watch.
	r := mustStart(t, pool, f, Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Hour})
	if err := r.WaitForReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	poolIs := func(want ...string) func() bool {
		return func() bool { return slices.Equal(addrsOf(pool), want) }
	}
	const bound = 5 * time.Second

	writeAtomic(t, path, `[{"addr": "10.0.0.2:80"}, {"addr": "10.0.0.3:80", "weight": 4}]`)
	if !waitFor(bound, poolIs("10.0.0.2:80", "10.0.0.3:80")) {
		t.Fatalf("after an atomic rewrite, pool %v", addrsOf(pool))
	}
	for _, e := range pool.Endpoints() {
		if e.Addr == "10.0.0.3:80" && e.Weight != 4 {
			t.Errorf("10.0.0.3:80 has weight %d, want 4", e.Weight)
		}
	}

	writeInPlace(t, path, `[{"addr": "10.0.0.4:80"}]`)
	if !waitFor(bound, poolIs("10.0.0.4:80")) {
		t.Fatalf("after an in-place rewrite, pool %v", addrsOf(pool))
	}

	// Half a file, as a reader may see an in-place write midway: an error,
	// never a partial set.
	writeInPlace(t, path, `[{"addr": "10.0.0.5:80"}, {"addr": "10.0.`)
	if !waitFor(bound, func() bool { return r.Status().Failures > 0 }) {
		t.Fatalf("a half-written file was not reported: %+v", r.Status())
	}
	if st := r.Status(); !errors.Is(st.LastError, ErrResolve) || !slices.Equal(addrsOf(pool), []string{"10.0.0.4:80"}) {
		t.Errorf("after a half-written file: pool %v, status %+v", addrsOf(pool), st)
	}
	writeInPlace(t, path, `[{"addr": "10.0.0.5:80"}, {"addr": "10.0.0.6:80"}]`)
	if !waitFor(bound, poolIs("10.0.0.5:80", "10.0.0.6:80")) {
		t.Fatalf("after completing the file, pool %v", addrsOf(pool))
	}

	// A deleted file fails; its return is picked up.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if !waitFor(bound, func() bool { return errors.Is(r.Status().LastError, fs.ErrNotExist) }) {
		t.Fatalf("a deleted file was not reported: %+v", r.Status())
	}
	writeAtomic(t, path, `[{"addr": "10.0.0.7:80"}]`)
	if !waitFor(bound, poolIs("10.0.0.7:80")) {
		t.Fatalf("after the file came back, pool %v", addrsOf(pool))
	}
	r.Close()
}

// TestFileWatchReportsAnEditSeenBefore flips the file from A to B and back
// to A before the Runner resolves, then to B again: the second B is an
// edit since that resolve and must be reported, though Watch reported a B
// before.
func TestFileWatchReportsAnEditSeenBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "endpoints.json")
	const a, b = `[{"addr": "10.0.0.1:80"}]`, `[{"addr": "10.0.0.2:80"}]`
	synctest.Test(t, func(t *testing.T) {
		const poll = time.Second
		f, err := NewFile(path, poll)
		if err != nil {
			t.Fatal(err)
		}
		writeAtomic(t, path, a)
		if _, err := f.Resolve(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var told atomic.Int64
		done := make(chan error)
		go func() { done <- f.Watch(ctx, func() { told.Add(1) }) }()
		step := func(content string) {
			writeAtomic(t, path, content)
			time.Sleep(poll + poll/2) // one poll after the write
			synctest.Wait()
		}
		step(b)
		step(a) // back before any resolve: nothing to tell
		if n := told.Load(); n != 1 {
			t.Fatalf("%d changes told after A to B to A, want 1", n)
		}
		if _, err := f.Resolve(t.Context()); err != nil { // the Runner's resolve reads A
			t.Fatal(err)
		}
		step(b)
		if n := told.Load(); n != 2 {
			t.Errorf("%d changes told after the file went to B again, want 2", n)
		}
		cancel()
		<-done
	})
}
