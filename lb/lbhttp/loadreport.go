package lbhttp

import (
	"net/http"

	"github.com/nanolb/nanolb/internal/loadreport"
	"github.com/nanolb/nanolb/lb"
)

// Load reports, client side: an attempt's response that carries an
// endpoint-load-metrics header passes the load it reports to the
// attempt's own lease (lb.Lease.ReportLoad), retries and hedges included,
// for a pool weighing its endpoints by lb.LoadWeights. A response without
// the header costs one map lookup; one the Transport cannot read is
// counted (Transport.LoadReportErrors) and otherwise ignored.

// testHookLoadReport, when set by a test, is called with each load report
// the Transport passes to a lease, and the lease's endpoint.
var testHookLoadReport func(endpoint string, load lb.Load)

// reportLoad passes the load report resp carries, if any, to lease.
func (t *Transport) reportLoad(lease lb.Lease, resp *http.Response) {
	if resp != nil {
		if v, ok := resp.Header[loadreport.Header]; ok {
			t.readLoad(lease, v)
		}
	}
}

// readLoad parses the header's first line, as Envoy reads it, and reports
// it to lease, or counts it when it cannot be read.
func (t *Transport) readLoad(lease lb.Lease, lines []string) {
	if len(lines) == 0 {
		return
	}
	r, err := loadreport.Parse(lines[0])
	if err != nil {
		t.badLoads.Add(1)
		return
	}
	load := lb.Load{
		CPUUtilization:         r.CPUUtilization,
		MemUtilization:         r.MemUtilization,
		ApplicationUtilization: r.ApplicationUtilization,
		RPS:                    r.RPS,
		EPS:                    r.EPS,
	}
	if testHookLoadReport != nil {
		testHookLoadReport(lease.Endpoint(), load)
	}
	lease.ReportLoad(load)
}

// LoadReportErrors returns how many responses since the Transport started
// carried an endpoint-load-metrics header it could not read: malformed,
// or in the BIN format, which it does not read. Such a header never fails
// a request; the report is dropped.
func (t *Transport) LoadReportErrors() uint64 {
	return t.badLoads.Load()
}
