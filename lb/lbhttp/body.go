package lbhttp

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/nanolb/nanolb/lb"
)

// body is a response body that ends its attempt's lease exactly once: at
// EOF, on a read error, or on Close, whichever comes first.
type body struct {
	rc      io.ReadCloser
	ctx     context.Context
	outcome error // the attempt's outcome from its status
	ended   atomic.Bool
	lease   lb.Lease           // ended by whoever sets ended
	cancel  context.CancelFunc // a hedged attempt's context, ended with the body; nil otherwise
}

// rwBody is body for a response whose body is also an io.Writer: a 101
// Switching Protocols response, whose body is the upgraded connection.
// Keeping Write lets callers use it as net/http documents.
type rwBody struct{ body }

var (
	_ io.ReadCloser      = (*body)(nil)
	_ io.ReadWriteCloser = (*rwBody)(nil)
)

// wrapBody returns rc wrapped to end lease, keeping io.ReadWriteCloser when
// rc has it. A response without a body (nil or http.NoBody) ends the lease
// at once and is returned as it is. The wrapper is the attempt's own body
// field, unless rc is writable (rare: a protocol switch).
func (a *attempt) wrapBody(rc io.ReadCloser, lease lb.Lease, outcome error, ctx context.Context) io.ReadCloser {
	if rc == nil || rc == http.NoBody {
		lease.Done(outcome)
		return rc
	}
	if _, ok := rc.(io.ReadWriteCloser); ok {
		return &rwBody{body{rc: rc, ctx: ctx, outcome: outcome, lease: lease}}
	}
	b := &a.body
	b.rc, b.ctx, b.outcome, b.lease = rc, ctx, outcome, lease
	return b
}

// Read reads the body; EOF ends the lease with the attempt's outcome, any
// other error with a failure (neutral when the request was cancelled).
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		b.end(b.outcome)
	default:
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			b.end(ctxErr)
		} else {
			b.end(err)
		}
	}
	return n, err
}

// Close closes the body and ends the lease with the attempt's outcome, if
// nothing ended it before.
func (b *body) Close() error {
	err := b.rc.Close()
	b.end(b.outcome)
	return err
}

func (b *body) end(outcome error) {
	if b.ended.CompareAndSwap(false, true) {
		b.lease.Done(outcome)
		if b.cancel != nil {
			b.cancel()
		}
	}
}

// Write writes to the upgraded connection. It ends nothing: only Close,
// EOF or a read error do.
func (b *rwBody) Write(p []byte) (int, error) {
	return b.rc.(io.Writer).Write(p)
}
