package lbetcd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nanolb/nanolb/lb"
)

// value is the JSON form of an endpoint: {"addr":"10.0.0.1:8080","weight":2}.
// Fields it does not name are ignored, so a registrant may store metadata
// beside them.
type value struct {
	Addr   string `json:"addr"`
	Weight int    `json:"weight,omitempty"`
}

// ParseValue maps the value of one key under the prefix to an endpoint. It
// accepts three forms:
//
//   - a JSON object, {"addr":"10.0.0.1:8080","weight":2}: "addr" is
//     required, "weight" is optional (absent or 0 means 1), other fields are
//     ignored;
//   - a JSON string, "10.0.0.1:8080";
//   - a bare address, 10.0.0.1:8080 (surrounding white space is trimmed),
//     as go-zero and many hand-written registrants store it.
//
// The address must be host:port with both parts non-empty (net.SplitHostPort
// rules: an IPv6 host in brackets) in valid UTF-8 without white space or
// control characters, and the weight must be in 0..lb.MaxWeight. Anything else is an error wrapping ErrValue.
func ParseValue(b []byte) (lb.Endpoint, error) {
	b = bytes.TrimSpace(b)
	var v value
	switch {
	case len(b) == 0:
		return lb.Endpoint{}, fmt.Errorf("%w: empty", ErrValue)
	case b[0] == '{':
		if err := json.Unmarshal(b, &v); err != nil {
			return lb.Endpoint{}, fmt.Errorf("%w: %w", ErrValue, err)
		}
	case b[0] == '"':
		if err := json.Unmarshal(b, &v.Addr); err != nil {
			return lb.Endpoint{}, fmt.Errorf("%w: %w", ErrValue, err)
		}
	default:
		v.Addr = string(b)
	}
	ep := lb.Endpoint{Addr: strings.TrimSpace(v.Addr), Weight: v.Weight}
	if err := checkEndpoint(ep); err != nil {
		return lb.Endpoint{}, fmt.Errorf("%w: %w", ErrValue, err)
	}
	return ep, nil
}

// FormatValue returns the JSON value Register stores for ep, the first
// form ParseValue accepts: {"addr":"10.0.0.1:8080","weight":2}, with the
// weight left out when it is 0. An endpoint ParseValue would reject is an
// error wrapping ErrConfig.
func FormatValue(ep lb.Endpoint) ([]byte, error) {
	if err := checkEndpoint(ep); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	b, err := json.Marshal(value{Addr: ep.Addr, Weight: ep.Weight})
	if err != nil { // a string and an int always marshal
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return b, nil
}

// checkEndpoint reports what is wrong with ep, or nil.
func checkEndpoint(ep lb.Endpoint) error {
	if ep.Addr == "" {
		return fmt.Errorf("no address")
	}
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %w", ep.Addr, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("address %q lacks a host or a port", ep.Addr)
	}
	if !utf8.ValidString(ep.Addr) || strings.IndexFunc(ep.Addr, badRune) >= 0 {
		return fmt.Errorf("address %q holds invalid UTF-8, white space or a control character", ep.Addr)
	}
	if ep.Weight < 0 || ep.Weight > lb.MaxWeight {
		return fmt.Errorf("weight %d is outside 0..%d", ep.Weight, lb.MaxWeight)
	}
	return nil
}

// badRune reports a rune no address holds.
func badRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
