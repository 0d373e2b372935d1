// Package nanolb is the hardware layer of the nanolb load balancer: small
// counter-scan kernels that the lb package runs on its selection paths.
//
// Users import github.com/nanolb/nanolb/lb; this package holds only the
// kernels and their CPU-feature dispatch, so that the balancer's policy code
// and its assembly never live in the same file.
package nanolb
