// Package peers drives other Go client-side balancers through the same
// Pick-then-release cycle as nanolb (see package harness), so that one
// benchmark run measures all of them side by side.
//
// Peers and what one cycle is for each:
//
//   - grpc-least-request, grpc-round-robin: grpc-go's least_request_experimental
//     and round_robin balancers, built on a fake balancer.ClientConn; a cycle
//     is Picker.Pick then PickResult.Done (when set) with an empty DoneInfo.
//   - kratos-p2c, kratos-wrr, kratos-random: go-kratos v2 selectors; a cycle is
//     Select then the returned DoneFunc with an empty DoneInfo.
//   - gokit-rr: go-kit's sd/lb round robin; go-kit has no completion
//     callback, so a cycle is Endpoint() then one call of the picked
//     endpoint, a stub that returns its address.
//
// go-zero's p2c_ewma is not here: it is only reachable by importing
// go-zero's zrpc, which links about a thousand packages (etcd, Kubernetes
// client-go, OpenTelemetry exporters) and whose init functions set
// GOMAXPROCS (automaxprocs) and start a CPU-sampling goroutine every 250ms,
// which would skew every other benchmark in the same binary.
package peers

import "github.com/nanolb/nanolb/bench/harness"

// Impls returns every peer driver, in the order benchmarks run them.
func Impls() []harness.Impl {
	return []harness.Impl{
		{Name: "grpc-least-request", Build: NewGRPCLeastRequest},
		{Name: "grpc-round-robin", Build: NewGRPCRoundRobin},
		{Name: "kratos-p2c", Build: NewKratosP2C},
		{Name: "kratos-wrr", Build: NewKratosWRR},
		{Name: "kratos-random", Build: NewKratosRandom},
		{Name: "gokit-rr", Build: NewGokitRoundRobin},
	}
}
