// Package bench is the root of nanolb's benchmark module. It holds no code:
// the module exists so that the peer balancers it measures nanolb against
// (grpc-go, kratos, go-kit) never enter the library's own go.mod.
//
// Layout:
//
//   - harness: the Pick-then-release cycle every balancer is measured
//     through, the two reference floors, and the nanolb drivers.
//   - peers: one driver per peer balancer, the benchmarks over all of them,
//     and tests proving each driver really spreads picks over its endpoints.
//   - cmd/benchgate: the CI gate on nanolb's cost relative to the floor.
//   - cmd/benchmd: writes BENCHMARKS.md from benchmark and benchstat output.
package bench
