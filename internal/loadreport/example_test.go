package loadreport_test

import (
	"errors"
	"fmt"

	"github.com/nanolb/nanolb/internal/loadreport"
)

// A backend's header in each format, read back, and a report written as
// TEXT.
func Example() {
	for _, v := range []string{
		"TEXT cpu_utilization=0.3, rps_fractional=10, eps=1, named_metrics.foo=123",
		`JSON {"cpuUtilization": 0.3, "rps_fractional": 10, "eps": 1}`,
		"BIN CQAAAAAAAOA/",
		"TEXT cpu_utilization=-0.3",
	} {
		r, err := loadreport.Parse(v)
		switch {
		case errors.Is(err, loadreport.ErrUnsupported):
			fmt.Println("unsupported:", err)
		case err != nil:
			fmt.Println("malformed:", err)
		default:
			fmt.Printf("%+v\n", r)
		}
	}
	fmt.Println(loadreport.Format(loadreport.Report{ApplicationUtilization: 0.5, RPS: 120.5}))
	// Output:
	// {CPUUtilization:0.3 MemUtilization:0 ApplicationUtilization:0 RPS:10 EPS:1}
	// {CPUUtilization:0.3 MemUtilization:0 ApplicationUtilization:0 RPS:10 EPS:1}
	// unsupported: loadreport: unsupported endpoint-load-metrics format: BIN (base64 protobuf)
	// malformed: loadreport: malformed endpoint-load-metrics: cpu_utilization=-0.3 is negative
	// TEXT application_utilization=0.5, rps_fractional=120.5
}
