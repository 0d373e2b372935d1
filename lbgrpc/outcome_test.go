package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
