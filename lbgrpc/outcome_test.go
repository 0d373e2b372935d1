package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClassify(t *testing.T) {
	const (
		success = "success"
		neutral = "neutral"
		failure = "failure"
	)
	tests := []struct {
		name string
		info balancer.DoneInfo
		want string
	}{
		{"an RPC that ended well is a success", balancer.DoneInfo{BytesSent: true}, success},
		{"a pick grpc dropped unused is neutral", balancer.DoneInfo{}, neutral},
		{"an RPC that sent nothing is neutral whatever its error", balancer.DoneInfo{Err: status.Error(codes.Unavailable, "x")}, neutral},
		{"Unavailable is a failure", balancer.DoneInfo{Err: status.Error(codes.Unavailable, "x"), BytesSent: true}, failure},
		{"DeadlineExceeded is a failure", balancer.DoneInfo{Err: status.Error(codes.DeadlineExceeded, "x"), BytesSent: true}, failure},
		{"context.DeadlineExceeded is a failure", balancer.DoneInfo{Err: fmt.Errorf("w: %w", context.DeadlineExceeded), BytesSent: true}, failure},
		{"Canceled is neutral", balancer.DoneInfo{Err: status.Error(codes.Canceled, "x"), BytesSent: true}, neutral},
		{"context.Canceled is neutral", balancer.DoneInfo{Err: fmt.Errorf("w: %w", context.Canceled), BytesSent: true}, neutral},
		{"an application error is a success", balancer.DoneInfo{Err: status.Error(codes.NotFound, "x"), BytesSent: true}, success},
		{"Internal is a success", balancer.DoneInfo{Err: status.Error(codes.Internal, "x"), BytesSent: true}, success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(tt.info)
			got := failure
			switch {
			case err == nil:
				got = success
			case errors.Is(err, context.Canceled):
				got = neutral
			}
			if got != tt.want {
				t.Fatalf("Classify(%+v) = %v: %s, want %s", tt.info, err, got, tt.want)
			}
		})
	}
}

// Whatever the Classifier says, an RPC whose caller cancelled its context
// is neutral, as lbhttp's Transport has it: here a classifier that charges
// every error, and a unary RPC and a stream that the caller cancels while
// the server holds them.
func TestACallerCancelIsNeutralWhateverTheClassifierSays(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 1)
	s := servers[0]
	s.delay.Store(int64(time.Hour)) // Check answers when the caller leaves
	var verdicts atomic.Int64
	name, w := registerTest(lb.P2C, WithClassifier(func(info balancer.DoneInfo) error {
		verdicts.Add(1)
		return info.Err
	}))
	cc, _ := dial(t, name, `{"ejectAfter": 1, "maxEjectedPercent": 100}`, w, endpoints(servers)...)
	pool := waitReady(t, w, 1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := check(ctx, cc)
		done <- err
	}()
	eventually(t, "the server holding the RPC", func() bool { return s.checks.Load() == 1 })
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("the cancelled RPC: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	streams(t, ctx, cc, 1)
	cancel()
	eventually(t, "both leases ended", func() bool { return inFlight(pool) == 0 && verdicts.Load() == 2 })
	if e := pool.Endpoints()[0]; e.Streak != 0 || e.State != lb.Up {
		t.Fatalf("after two cancelled RPCs: %+v, want no failure charged", e)
	}
}
