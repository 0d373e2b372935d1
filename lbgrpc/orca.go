package lbgrpc

import (
	v3orcapb "github.com/cncf/xds/go/xds/data/orca/v3"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	_ "google.golang.org/grpc/orca" // parses each RPC's ORCA trailer into balancer.DoneInfo.ServerLoad
)

// loadOf maps an ORCA load report (gRFC A51) to lb.Load: the fields
// lb.LoadWeights reads, by name. The deprecated integer rps, request costs
// and named metrics are not used.
func loadOf(r *v3orcapb.OrcaLoadReport) lb.Load {
	return lb.Load{
		CPUUtilization:         r.GetCpuUtilization(),
		MemUtilization:         r.GetMemUtilization(),
		ApplicationUtilization: r.GetApplicationUtilization(),
		RPS:                    r.GetRpsFractional(),
		EPS:                    r.GetEps(),
	}
}

// reportCallLoad hands the ORCA report an RPC's trailer carried, if any, to
// its lease; hook (tests only, nil otherwise) sees the mapped load.
func reportCallLoad(lease lb.Lease, info balancer.DoneInfo, hook func(addr string, load lb.Load)) {
	r, ok := info.ServerLoad.(*v3orcapb.OrcaLoadReport)
	if !ok || r == nil {
		return
	}
	load := loadOf(r)
	lease.ReportLoad(load)
	if hook != nil {
		hook(lease.Endpoint(), load)
	}
}
