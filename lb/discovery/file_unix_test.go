//go:build unix

package discovery

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFileRejectsAFIFO points a File at a FIFO that nobody writes to:
// reading it would block past any context, and with it the Runner. The
// resolve fails at once instead.
func TestFileRejectsAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "endpoints.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFO:", err)
	}
	f, err := NewFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resolveWithin(t, f, time.Second)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrResolve) {
			t.Fatalf("Resolve = %v, want an error wrapping ErrResolve", err)
		}
		t.Log(err)
	case <-time.After(5 * time.Second): // a failure bound, not an expectation
		// Unblock the reader so the test can end.
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("Resolve of a FIFO blocked past its context")
	}
}
