package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// DefaultFilePoll is how often a File's Watch reads the file for changes.
const DefaultFilePoll = time.Second

// File is a Resolver that reads endpoints from a JSON file: a list of
// objects with an "addr", an optional integer "weight" (0 or absent means
// 1) and an optional string "zone" (lb.Endpoint.Zone; absent means ""),
// such as
//
//	[{"addr": "10.0.0.1:8080", "weight": 3, "zone": "us-east-1a"},
//	 {"addr": "10.0.0.2:8080", "zone": "us-east-1b"}]
//
// A file that cannot be read or parsed, is not a regular file (a FIFO or a
// device, whose read could block past any deadline), has an unknown field,
// an empty or repeated address, a weight outside 0..lb.MaxWeight or a zone
// longer than lb.MaxZoneLen fails the resolve with an error wrapping
// ErrResolve: a File never answers with part of a set. "[]" is an empty
// answer.
//
// File is a Watcher: its Watch reads the file every poll interval and
// reports a change when the content differs from what Resolve last read, so
// a Runner applies an edit within one poll interval. Create one with
// NewFile. Rewrite the file atomically (write a
// temporary file, then rename it over the old one); a file rewritten in
// place may be read half-written, which fails that resolve and keeps the
// last good set until the next change.
type File struct {
	path string
	poll time.Duration
	seed maphash.Seed

	mu    sync.Mutex
	seen  uint64 // hash of what Resolve last read
	reads uint64 // Resolve's reads so far
}

// NewFile returns the resolver of the file at path, whose Watch reads it
// every poll; zero means DefaultFilePoll (1 s). An empty path or a negative
// poll is an error wrapping ErrConfig. The file need not exist yet: until
// it does, each resolve fails.
func NewFile(path string, poll time.Duration) (*File, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: NewFile needs a path", ErrConfig)
	}
	if poll < 0 {
		return nil, fmt.Errorf("%w: NewFile poll is negative (%v)", ErrConfig, poll)
	}
	if poll == 0 {
		poll = DefaultFilePoll
	}
	return &File{path: path, poll: poll, seed: maphash.MakeSeed()}, nil
}

// fileEndpoint is one element of a File's list.
type fileEndpoint struct {
	Addr   string `json:"addr"`
	Weight *int   `json:"weight"`
	Zone   string `json:"zone"`
}

// Resolve reads and parses the file.
func (f *File) Resolve(ctx context.Context) ([]lb.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := readFile(f.path)
	f.mu.Lock()
	f.seen = f.hash(data, err)
	f.reads++
	f.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrResolve, err)
	}
	eps, err := parseEndpoints(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrResolve, f.path, err)
	}
	return eps, nil
}

// Watch reads the file every poll interval and calls changed when its content (or
// whether it can be read) differs from what Resolve last read. It returns
// ctx's error when ctx ends.
func (f *File) Watch(ctx context.Context, changed func()) error {
	t := time.NewTicker(f.poll)
	defer t.Stop()
	// The content last told and Resolve's reads by then: an edit is told
	// once until Resolve reads again, which may find it gone and back.
	var told, toldAt uint64
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		data, err := readFile(f.path)
		h := f.hash(data, err)
		f.mu.Lock()
		seen, reads := f.seen, f.reads
		f.mu.Unlock()
		if h != seen && (h != told || reads != toldAt) {
			told, toldAt = h, reads
			changed()
		}
	}
}

// readFile reads the regular file at path. Anything else fails: a FIFO or
// a device could block or never end, and a read honours no context.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	return os.ReadFile(path)
}

// hash sums a read's outcome: the content, or the error's text.
func (f *File) hash(data []byte, err error) uint64 {
	if err != nil {
		return maphash.String(f.seed, "error: "+err.Error())
	}
	return maphash.Bytes(f.seed, data)
}

// parseEndpoints parses a File's content strictly.
func parseEndpoints(data []byte) ([]lb.Endpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var list []fileEndpoint
	if err := dec.Decode(&list); err != nil {
		return nil, jsonError(data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the list at line %d", lineOf(data, dec.InputOffset()))
	}
	if list == nil {
		return nil, errors.New("want a JSON list of endpoints, got null")
	}
	eps := make([]lb.Endpoint, len(list))
	seen := make(map[string]int, len(list))
	for i, e := range list {
		if e.Addr == "" {
			return nil, fmt.Errorf("endpoint %d has no addr", i)
		}
		if j, dup := seen[e.Addr]; dup {
			return nil, fmt.Errorf("endpoints %d and %d are both %q", j, i, e.Addr)
		}
		seen[e.Addr] = i
		eps[i].Addr = e.Addr
		if e.Weight != nil {
			if *e.Weight < 0 || *e.Weight > lb.MaxWeight {
				return nil, fmt.Errorf("endpoint %q has weight %d, outside 0..%d", e.Addr, *e.Weight, lb.MaxWeight)
			}
			eps[i].Weight = *e.Weight
		}
		if len(e.Zone) > lb.MaxZoneLen {
			return nil, fmt.Errorf("endpoint %q has a zone of %d bytes, over %d", e.Addr, len(e.Zone), lb.MaxZoneLen)
		}
		eps[i].Zone = e.Zone
	}
	return eps, nil
}

// jsonError restates a decoding error with a line number and without Go
// type names. off is where the decoder stopped.
func jsonError(data []byte, off int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("line %d: %w", lineOf(data, se.Offset), err)
	case errors.As(err, &te):
		what, want := "the file", "a list of endpoints"
		if te.Field != "" {
			what = te.Field
			if te.Type.Kind() == reflect.Int {
				want = "an integer"
			} else {
				want = "a " + te.Type.String()
			}
		} else if te.Type.Kind() == reflect.Struct {
			what, want = "an endpoint", `an object {"addr": ..., "weight": ..., "zone": ...}`
		}
		return fmt.Errorf("line %d: %s: want %s, got %s", lineOf(data, te.Offset), what, want, te.Value)
	case errors.Is(err, io.EOF):
		return errors.New("the file is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the list is cut short: %w", err)
	}
	return fmt.Errorf("line %d: %w", lineOf(data, off), err)
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}
