package lbetcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nanolb/nanolb/lb"
)

// value is the JSON form of an endpoint:
// {"addr":"10.0.0.1:8080","weight":2,"zone":"us-east-1a"}. Fields it does
// not name are ignored, so a registrant may store metadata beside them.
type value struct {
	Addr   string `json:"addr"`
	Weight int    `json:"weight,omitempty"`
	Zone   string `json:"zone,omitempty"`
}

// ParseValue maps the value of one key under the prefix to an endpoint. It
// accepts a JSON object, {"addr":"10.0.0.1:8080","weight":2,"zone":"a"}
// (the weight and the zone optional); a JSON string, "10.0.0.1:8080"; or a
// bare address, 10.0.0.1:8080, the last two without a zone (see Layout in
// etcd in the package documentation for the rules). Anything else is an
// error wrapping ErrValue; for a JSON object, one naming the field at
// fault.
func ParseValue(b []byte) (lb.Endpoint, error) {
	b = bytes.TrimSpace(b)
	var v value
	switch {
	case len(b) == 0:
		return lb.Endpoint{}, fmt.Errorf("%w: empty", ErrValue)
	case b[0] == '{':
		return parseObject(b)
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

// parseObject is ParseValue for a JSON object, each error naming its field.
func parseObject(b []byte) (lb.Endpoint, error) {
	var v value
	if err := json.Unmarshal(b, &v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			want := "an integer"
			if te.Type.Kind() == reflect.String {
				want = "a string"
			}
			return lb.Endpoint{}, fmt.Errorf("%w: field %q holds a JSON %s, not %s", ErrValue, te.Field, te.Value, want)
		}
		return lb.Endpoint{}, fmt.Errorf("%w: %w", ErrValue, err)
	}
	ep := lb.Endpoint{Addr: strings.TrimSpace(v.Addr), Weight: v.Weight, Zone: v.Zone}
	if err := checkAddr(ep.Addr); err != nil {
		return lb.Endpoint{}, fmt.Errorf("%w: field \"addr\": %w", ErrValue, err)
	}
	if err := checkWeight(ep.Weight); err != nil {
		return lb.Endpoint{}, fmt.Errorf("%w: field \"weight\": %w", ErrValue, err)
	}
	if err := checkZone(ep.Zone); err != nil {
		return lb.Endpoint{}, fmt.Errorf("%w: field \"zone\": %w", ErrValue, err)
	}
	return ep, nil
}

// FormatValue returns the JSON value Register stores for ep, the first
// form ParseValue accepts: {"addr":"10.0.0.1:8080","weight":2,"zone":"a"},
// with the weight left out when it is 0 and the zone when it is "". An
// endpoint ParseValue would reject is an error wrapping ErrConfig.
func FormatValue(ep lb.Endpoint) ([]byte, error) {
	if err := checkEndpoint(ep); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	b, err := json.Marshal(value{Addr: ep.Addr, Weight: ep.Weight, Zone: ep.Zone})
	if err != nil { // strings of valid UTF-8 and an int always marshal
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return b, nil
}

// checkEndpoint reports what is wrong with ep, or nil.
func checkEndpoint(ep lb.Endpoint) error {
	if err := checkAddr(ep.Addr); err != nil {
		return err
	}
	if err := checkWeight(ep.Weight); err != nil {
		return err
	}
	return checkZone(ep.Zone)
}

// checkAddr reports what is wrong with an endpoint's address, or nil.
func checkAddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("no address")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port: %w", addr, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("address %q lacks a host or a port", addr)
	}
	if !utf8.ValidString(addr) || strings.IndexFunc(addr, badRune) >= 0 {
		return fmt.Errorf("address %q holds invalid UTF-8, white space or a control character", addr)
	}
	return nil
}

// checkWeight reports what is wrong with an endpoint's weight, or nil.
func checkWeight(w int) error {
	if w < 0 || w > lb.MaxWeight {
		return fmt.Errorf("weight %d is outside 0..%d", w, lb.MaxWeight)
	}
	return nil
}

// checkZone reports what is wrong with an endpoint's zone, or nil. A zone
// must survive a JSON round trip: valid UTF-8, within lb.MaxZoneLen.
func checkZone(zone string) error {
	if len(zone) > lb.MaxZoneLen {
		return fmt.Errorf("zone of %d bytes, over %d", len(zone), lb.MaxZoneLen)
	}
	if !utf8.ValidString(zone) {
		return fmt.Errorf("zone %q is not valid UTF-8", zone)
	}
	return nil
}

// badRune reports a rune no address holds.
func badRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
