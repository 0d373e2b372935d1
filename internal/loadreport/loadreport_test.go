package loadreport

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	full := Report{CPUUtilization: 0.3, MemUtilization: 0.8, ApplicationUtilization: 0.5, RPS: 10, EPS: 1}
	tests := []struct {
		name  string
		value string
		want  Report
	}{
		{"TEXT with every field, as the issue writes it",
			"TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, eps=1, application_utilization=0.5, named_metrics.foo=123", full},
		{"TEXT with colons, as Envoy also takes",
			"TEXT cpu_utilization:0.3,mem_utilization:0.8,rps_fractional:10,eps:1,application_utilization:0.5", full},
		{"TEXT with blanks around names, values and commas",
			"  TEXT  cpu_utilization = 0.3 ,\tmem_utilization=0.8 , , rps_fractional=10,eps=1,application_utilization=0.5\t", full},
		{"TEXT skips names it does not know and their values",
			"TEXT utilization.total=x, named_metrics.foo=bar, rps=7, cpu_utilization=0.25", Report{CPUUtilization: 0.25}},
		{"TEXT takes a repeated unknown name", "TEXT foo=1, foo=2", Report{}},
		{"TEXT alone is the empty report", "TEXT", Report{}},
		{"TEXT with a space is the empty report", "TEXT ", Report{}},
		{"TEXT takes exponents and utilizations above 1", "TEXT cpu_utilization=1.5, rps_fractional=1e3", Report{CPUUtilization: 1.5, RPS: 1000}},
		{"TEXT reads -0 as 0", "TEXT eps=-0", Report{}},
		{"JSON with snake_case names",
			`JSON {"cpu_utilization":0.3,"mem_utilization":0.8,"application_utilization":0.5,"rps_fractional":10,"eps":1}`, full},
		{"JSON with lowerCamel names and blanks",
			`JSON { "cpuUtilization": 0.3, "memUtilization": 0.8, "applicationUtilization": 0.5, "rpsFractional": 10, "eps": 1 } `, full},
		{"JSON skips unknown fields, maps and nested values",
			`JSON {"named_metrics":{"foo":123},"utilization":{"total":0.5},"requestCost":{"a":[1,{"b":null}]},"rps":3,"eps":2}`, Report{EPS: 2}},
		{"JSON null is a field not reported", `JSON {"cpu_utilization":null,"eps":1}`, Report{EPS: 1}},
		{"JSON empty object", `JSON {}`, Report{}},
		{"JSON names are case-sensitive", `JSON {"CPU_UTILIZATION":0.5}`, Report{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.value)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"BIN, recognised but not read", "BIN CQAAAAAAAOA/MQAAAAAAAFlA", ErrUnsupported},
		{"BIN without data", "BIN", ErrUnsupported},
		{"an empty value", "", ErrMalformed},
		{"an unknown format", "BAD cpu_utilization=0.5", ErrMalformed},
		{"a lower-case prefix", "text cpu_utilization=0.5", ErrMalformed},
		{"no format prefix", "cpu_utilization=0.5", ErrMalformed},
		{"a prefix without its space", "TEXTcpu_utilization=0.5", ErrMalformed},
		{"TEXT without a separator", "TEXT not-a-list-of-pairs", ErrMalformed},
		{"TEXT with an empty value", "TEXT cpu_utilization=", ErrMalformed},
		{"TEXT with an empty name", "TEXT =0.5", ErrMalformed},
		{"TEXT with an empty value of an unknown name", "TEXT named_metrics.foo=", ErrMalformed},
		{"TEXT with a quoted number", `TEXT cpu_utilization="0.7"`, ErrMalformed},
		{"TEXT with a word", "TEXT eps=many", ErrMalformed},
		{"TEXT with a negative value", "TEXT cpu_utilization=-1", ErrMalformed},
		{"TEXT with NaN", "TEXT cpu_utilization=NaN", ErrMalformed},
		{"TEXT with infinity", "TEXT rps_fractional=+Inf", ErrMalformed},
		{"TEXT with a number past float64", "TEXT rps_fractional=1e400", ErrMalformed},
		{"TEXT with a field named twice", "TEXT cpu_utilization=0.7, cpu_utilization=0.8", ErrMalformed},
		{"TEXT with a field named twice, once by colon", "TEXT eps=1, eps:1", ErrMalformed},
		{"JSON that is not JSON", "JSON not-a-valid-json-string", ErrMalformed},
		{"JSON cut short", `JSON {"cpu_utilization": 0.7`, ErrMalformed},
		{"JSON that is not an object", `JSON [0.7]`, ErrMalformed},
		{"JSON with a string value", `JSON {"cpu_utilization": "0.7"}`, ErrMalformed},
		{"JSON with an object value", `JSON {"eps": {}}`, ErrMalformed},
		{"JSON with a negative value", `JSON {"eps": -1}`, ErrMalformed},
		{"JSON with a number past float64", `JSON {"eps": 1e999}`, ErrMalformed},
		{"JSON with a field in both spellings", `JSON {"cpuUtilization": 0.1, "cpu_utilization": 0.1}`, ErrMalformed},
		{"JSON with data after the object", `JSON {} {}`, ErrMalformed},
		{"JSON with a broken unknown field", `JSON {"foo": [1,}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.value)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %+v, %v; want an error wrapping %v", tt.value, r, err, tt.want)
			}
			if r != (Report{}) {
				t.Errorf("Parse(%q) returned %+v with its error, want the zero Report", tt.value, r)
			}
		})
	}
}

func TestParseErrorsAreShort(t *testing.T) {
	long := strings.Repeat("x", 1<<16)
	for _, v := range []string{long, "TEXT " + long, "TEXT eps=" + long, "JSON " + long} {
		_, err := Parse(v)
		if err == nil || len(err.Error()) > 200 {
			t.Errorf("Parse of a %d-byte value: error %d bytes long, want a short error", len(v), len(err.Error()))
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"the zero report", Report{}, "TEXT"},
		{"one field", Report{EPS: 2}, "TEXT eps=2"},
		{"every field, in Report's order",
			Report{CPUUtilization: 0.3, MemUtilization: 0.8, ApplicationUtilization: 0.5, RPS: 10, EPS: 1},
			"TEXT cpu_utilization=0.3, mem_utilization=0.8, application_utilization=0.5, rps_fractional=10, eps=1"},
		{"the shortest exact decimal", Report{RPS: 1.0 / 3, CPUUtilization: 1e-9},
			"TEXT cpu_utilization=1e-09, rps_fractional=0.3333333333333333"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.r); got != tt.want {
				t.Errorf("Format(%+v) = %q, want %q", tt.r, got, tt.want)
			}
			if got, err := Parse(tt.want); err != nil || got != tt.r {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.want, got, err, tt.r)
			}
		})
	}
}

func TestAppendFormatAllocatesNothing(t *testing.T) {
	r := Report{CPUUtilization: 0.3, MemUtilization: 0.8, ApplicationUtilization: 0.5, RPS: 1234.5678, EPS: 1}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendFormat(buf[:0], r) }); n != 0 {
		t.Errorf("AppendFormat allocates %v times, want 0", n)
	}
}

func TestParseTextAllocatesNothing(t *testing.T) {
	v := "TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, eps=1, application_utilization=0.5, named_metrics.foo=123"
	if n := testing.AllocsPerRun(100, func() { Parse(v) }); n != 0 {
		t.Errorf("Parse of a TEXT value allocates %v times, want 0", n)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is a
// valid report, and that Format's output parses back to the same report.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, eps=1, application_utilization=0.5, named_metrics.foo=123",
		"TEXT cpu_utilization:0.7,eps:2",
		"TEXT",
		"TEXT ,,=,:",
		`JSON {"cpuUtilization":0.3,"rps_fractional":10,"named_metrics":{"a":1},"eps":null}`,
		`JSON {"eps": 1e999}`,
		"JSON [",
		"BIN CQAAAAAAAOA/",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r, err := Parse(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Parse(%q): error %v wraps neither sentinel", value, err)
			}
			if r != (Report{}) {
				t.Fatalf("Parse(%q) returned %+v with its error", value, r)
			}
			return
		}
		for f := range nfields {
			if x := *r.ptr(f); !(x >= 0) || math.IsInf(x, 0) || math.Signbit(x) {
				t.Fatalf("Parse(%q) accepted %s=%v", value, names[f], x)
			}
		}
		text := Format(r)
		back, err := Parse(text)
		if err != nil || back != r {
			t.Fatalf("Parse(Format(%+v)) = Parse(%q) = %+v, %v", r, text, back, err)
		}
		if again := Format(back); again != text {
			t.Fatalf("Format is not stable: %q then %q", text, again)
		}
	})
}
