// Package loadreport reads and writes the endpoint-load-metrics HTTP
// header, by which a backend reports its load to its clients in the fields
// of ORCA's OrcaLoadReport (gRFC A51), as Envoy's ORCA parser and its
// client_side_weighted_round_robin policy read it. The value starts with
// its format:
//
//	TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, eps=1
//	JSON {"cpu_utilization": 0.3, "rpsFractional": 10}
//	BIN <base64 of the OrcaLoadReport protobuf>
//
// Parse reads TEXT and JSON and rejects BIN, as this module takes no
// protobuf dependency; Format writes TEXT. Only the five scalar fields a
// Report holds are read; named_metrics, utilization and request_cost
// entries, and names this package does not know, are skipped, so a report
// from a newer backend still parses.
package loadreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Header is the header's name as net/http canonicalizes it: a lookup in an
// http.Header map with it needs no canonicalization.
const Header = "Endpoint-Load-Metrics"

// ErrMalformed wraps Parse's error for a value it cannot read: no known
// format prefix, a broken TEXT pair or JSON document, a field named twice,
// or a field's value that is not a finite, non-negative number.
var ErrMalformed = errors.New("loadreport: malformed endpoint-load-metrics")

// ErrUnsupported wraps Parse's error for a value in the BIN format (base64
// protobuf), which this package recognises but does not read.
var ErrUnsupported = errors.New("loadreport: unsupported endpoint-load-metrics format")

// Report is a backend's load, in the OrcaLoadReport fields of the same
// names. Utilizations are fractions of capacity, usually 0..1 (a CPU
// utilization may pass 1); RPS and EPS are requests and errors a second.
// A zero field is one not reported, as in ORCA's proto3 message.
type Report struct {
	CPUUtilization         float64 // cpu_utilization
	MemUtilization         float64 // mem_utilization
	ApplicationUtilization float64 // application_utilization
	RPS                    float64 // rps_fractional
	EPS                    float64 // eps
}

// The format prefixes, each followed by one space.
const (
	prefixText = "TEXT"
	prefixJSON = "JSON"
	prefixBin  = "BIN"
)

// field is one of Report's fields, by index in fields.
type field int

const (
	cpu field = iota
	mem
	app
	rps
	eps
	nfields
)

// names are the fields' TEXT names, in Format's order.
var names = [nfields]string{"cpu_utilization", "mem_utilization", "application_utilization", "rps_fractional", "eps"}

// ptr is r's field f.
func (r *Report) ptr(f field) *float64 {
	switch f {
	case cpu:
		return &r.CPUUtilization
	case mem:
		return &r.MemUtilization
	case app:
		return &r.ApplicationUtilization
	case rps:
		return &r.RPS
	default:
		return &r.EPS
	}
}

// Parse reads a header value. TEXT is a comma-separated list of name=value
// pairs (Envoy also takes name:value, and so does Parse), blanks around
// names, values and commas ignored. JSON is an object whose fields take
// the proto3 JSON names, lowerCamel or snake_case (cpuUtilization or
// cpu_utilization), with number or null values. A field named twice, in
// either spelling, is an error, as in Envoy. Blanks around the whole value
// are ignored, so "TEXT" alone is an empty report. Every error wraps
// ErrMalformed or ErrUnsupported.
func Parse(value string) (Report, error) {
	v := trim(value)
	format, rest, _ := strings.Cut(v, " ")
	switch format {
	case prefixText:
		return parseText(rest)
	case prefixJSON:
		return parseJSON(rest)
	case prefixBin:
		return Report{}, fmt.Errorf("%w: BIN (base64 protobuf)", ErrUnsupported)
	}
	if len(format) > 8 {
		format = format[:8] + "…"
	}
	return Report{}, fmt.Errorf("%w: format %q is not TEXT, JSON or BIN", ErrMalformed, format)
}

// parseText reads TEXT's pairs.
func parseText(s string) (Report, error) {
	var r Report
	var seen [nfields]bool
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ",")
		pair = trim(pair)
		if pair == "" {
			continue // empty list elements, as HTTP lists allow
		}
		i := strings.IndexAny(pair, "=:")
		if i < 0 {
			return Report{}, fmt.Errorf("%w: %q is not name=value", ErrMalformed, clip(pair))
		}
		name, val := trim(pair[:i]), trim(pair[i+1:])
		if name == "" || val == "" {
			return Report{}, fmt.Errorf("%w: %q has an empty name or value", ErrMalformed, clip(pair))
		}
		f, ok := textField(name)
		if !ok {
			continue
		}
		if seen[f] {
			return Report{}, fmt.Errorf("%w: %s named twice", ErrMalformed, names[f])
		}
		seen[f] = true
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return Report{}, fmt.Errorf("%w: %s=%q is not a number", ErrMalformed, names[f], clip(val))
		}
		if err := set(&r, f, x); err != nil {
			return Report{}, err
		}
	}
	return r, nil
}

// textField is the field a TEXT name stands for.
func textField(name string) (field, bool) {
	for f, n := range names {
		if name == n {
			return field(f), true
		}
	}
	return 0, false
}

// jsonField is the field a JSON name stands for, by its proto3 JSON name
// or its proto field name.
func jsonField(name string) (field, bool) {
	switch name {
	case "cpuUtilization":
		return cpu, true
	case "memUtilization":
		return mem, true
	case "applicationUtilization":
		return app, true
	case "rpsFractional":
		return rps, true
	}
	return textField(name)
}

// set checks x and stores it in r's field f.
func set(r *Report, f field, x float64) error {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Errorf("%w: %s=%v is not finite", ErrMalformed, names[f], x)
	case x < 0:
		return fmt.Errorf("%w: %s=%v is negative", ErrMalformed, names[f], x)
	case x == 0:
		x = 0 // not -0
	}
	*r.ptr(f) = x
	return nil
}

// parseJSON reads JSON's object, token by token, so a field's spellings
// are matched exactly and a field named twice is seen.
func parseJSON(s string) (Report, error) {
	var r Report
	var seen [nfields]bool
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	malformed := func(err error) (Report, error) {
		return Report{}, fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	if tok, err := dec.Token(); err != nil {
		return malformed(err)
	} else if tok != json.Delim('{') {
		return malformed(errors.New("not an object"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err)
		}
		name, _ := tok.(string) // More and Token guarantee a key here
		f, known := jsonField(name)
		if !known {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return malformed(err)
			}
			continue
		}
		if seen[f] {
			return Report{}, fmt.Errorf("%w: %s named twice", ErrMalformed, names[f])
		}
		seen[f] = true
		if tok, err = dec.Token(); err != nil {
			return malformed(err)
		}
		switch v := tok.(type) {
		case nil: // proto3 JSON: null is the field's default
		case json.Number:
			x, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return Report{}, fmt.Errorf("%w: %s=%s is out of range", ErrMalformed, names[f], clip(string(v)))
			}
			if err := set(&r, f, x); err != nil {
				return Report{}, err
			}
		default:
			return Report{}, fmt.Errorf("%w: %s is not a number", ErrMalformed, names[f])
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed(errors.New("data after the object"))
	}
	return r, nil
}

// Format writes r as a TEXT value, its non-zero fields in the order of
// Report's fields, with the shortest decimal that parses back to the same
// float64. The zero Report is "TEXT". r's fields should be finite and
// non-negative, as Parse would reject the value otherwise.
func Format(r Report) string {
	return string(AppendFormat(make([]byte, 0, 128), r))
}

// AppendFormat appends Format(r) to b and returns the extended buffer.
func AppendFormat(b []byte, r Report) []byte {
	b = append(b, prefixText...)
	sep := " "
	for f := range nfields {
		x := *r.ptr(f)
		if x == 0 {
			continue
		}
		b = append(b, sep...)
		b = append(b, names[f]...)
		b = append(b, '=')
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
		sep = ", "
	}
	return b
}

// trim drops the blanks (space, tab) HTTP allows around values.
func trim(s string) string {
	return strings.Trim(s, " \t")
}

// clip shortens s for an error message, as a header may be long.
func clip(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
