// Package nanolb is the hardware layer of the nanolb load balancer: small
// counter-scan kernels that the lb package runs on its selection paths.
//
// Users import github.com/nanolb/nanolb/lb; this package holds only the
// kernels and their CPU-feature dispatch, so that the balancer's policy code
// and its assembly never live in the same file.
//
// # Kernels
//
//   - [Select] and [PopCount] work on a bitmap of endpoints (bit i of word w
//     is endpoint 64*w+i): PopCount counts the healthy ones, Select finds
//     the k-th, so a uniform pick among healthy endpoints is
//     Select(bitmap, rand.IntN(PopCount(bitmap))).
//   - [MinIndex] finds the smallest value, the lowest index on ties: lb
//     uses it only for the probe timer's next wake-up, the earliest
//     deadline of the ejected endpoints.
//   - [FirstDue] finds the first ejected endpoint whose probe time has come.
//
// All four are pure functions: they do not allocate, keep no state and are
// safe for concurrent use.
//
// # Dispatch
//
// Each kernel has a reference implementation in Go and, on amd64 and arm64,
// assembly versions (POPCNT, BMI2, AVX2 and AVX-512 on amd64; NEON on arm64).
// The CPU's features are read once at start-up, and an assembly kernel runs
// only when the CPU has it and the input is long enough for it to beat the
// Go code on the measured hardware; otherwise the Go code runs. The purego
// build tag, other architectures and the race detector always use the Go
// code.
package nanolb
