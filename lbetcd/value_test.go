package lbetcd_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbetcd"
)

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     lb.Endpoint
	}{
		{"a JSON object with a weight", `{"addr":"127.0.0.1:8080","weight":2}`, lb.Endpoint{Addr: "127.0.0.1:8080", Weight: 2}},
		{"a JSON object without a weight weighs 0 (1)", `{"addr":"10.0.0.1:80"}`, lb.Endpoint{Addr: "10.0.0.1:80"}},
		{"a JSON object with a zone", `{"addr":"h:1","weight":3,"zone":"us-east-1a"}`, lb.Endpoint{Addr: "h:1", Weight: 3, Zone: "us-east-1a"}},
		{"a JSON object with an empty zone has none", `{"addr":"h:1","zone":""}`, lb.Endpoint{Addr: "h:1"}},
		{"a JSON object with a null zone has none", `{"addr":"h:1","zone":null}`, lb.Endpoint{Addr: "h:1"}},
		{"a zone of lb.MaxZoneLen bytes", `{"addr":"h:1","zone":"` + strings.Repeat("z", lb.MaxZoneLen) + `"}`, lb.Endpoint{Addr: "h:1", Zone: strings.Repeat("z", lb.MaxZoneLen)}},
		{"a JSON object with metadata ignores it", `{"addr":"h:1","weight":3,"zone":"a","meta":{"v":1}}`, lb.Endpoint{Addr: "h:1", Weight: 3, Zone: "a"}},
		{"a JSON string", `"10.0.0.2:9000"`, lb.Endpoint{Addr: "10.0.0.2:9000"}},
		{"a bare address", `10.0.0.3:9000`, lb.Endpoint{Addr: "10.0.0.3:9000"}},
		{"a bare address with a newline", "10.0.0.3:9000\n", lb.Endpoint{Addr: "10.0.0.3:9000"}},
		{"a bare IPv6 address", `[::1]:8080`, lb.Endpoint{Addr: "[::1]:8080"}},
		{"a host name", `users.internal:443`, lb.Endpoint{Addr: "users.internal:443"}},
		{"the largest weight", `{"addr":"h:1","weight":1048576}`, lb.Endpoint{Addr: "h:1", Weight: lb.MaxWeight}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lbetcd.ParseValue([]byte(tc.in))
			if err != nil || got != tc.want {
				t.Fatalf("ParseValue(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseValueRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"an empty value", ``},
		{"white space", " \n"},
		{"an address without a port", `10.0.0.1`},
		{"a URL", `http://10.0.0.1:80`},
		{"an empty host", `:8080`},
		{"an empty port", `10.0.0.1:`},
		{"an address with a space", `10.0.0.1 :80`},
		{"broken JSON", `{"addr":"h:1"`},
		{"a JSON object without addr", `{"weight":2}`},
		{"a negative weight", `{"addr":"h:1","weight":-1}`},
		{"a weight over MaxWeight", `{"addr":"h:1","weight":1048577}`},
		{"a fractional weight", `{"addr":"h:1","weight":1.5}`},
		{"a weight as a string", `{"addr":"h:1","weight":"2"}`},
		{"a numeric zone", `{"addr":"h:1","zone":3}`},
		{"a zone over lb.MaxZoneLen bytes", `{"addr":"h:1","zone":"` + strings.Repeat("z", lb.MaxZoneLen+1) + `"}`},
		{"a JSON string that is no address", `"nope"`},
		{"an unterminated JSON string", `"h:1`},
		{"a JSON array", `["h:1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := lbetcd.ParseValue([]byte(tc.in))
			if !errors.Is(err, lbetcd.ErrValue) {
				t.Fatalf("ParseValue(%q) = %+v, %v; want an error wrapping ErrValue", tc.in, ep, err)
			}
		})
	}
}

// A JSON object's errors name the field at fault, as the JSON spells it.
func TestParseValueNamesTheFieldOfAJSONObject(t *testing.T) {
	for _, tc := range []struct{ in, field string }{
		{`{"addr":5}`, "addr"},
		{`{"addr":["h:1"]}`, "addr"},
		{`{"addr":"h:1","weight":"2"}`, "weight"},
		{`{"addr":"h:1","weight":1.5}`, "weight"},
		{`{"addr":"h:1","weight":true}`, "weight"},
		{`{"addr":"h:1","weight":-1}`, "weight"},
		{`{"addr":"h:1","weight":1048577}`, "weight"},
		{`{"weight":2}`, "addr"},
		{`{"addr":null}`, "addr"},
		{`{"addr":"nope"}`, "addr"},
		{`{"addr":"10.0.0.1 :80"}`, "addr"},
		{`{"addr":"h:1","zone":3}`, "zone"},
		{`{"addr":"h:1","zone":{"name":"a"}}`, "zone"},
		{`{"addr":"h:1","zone":"` + strings.Repeat("z", lb.MaxZoneLen+1) + `"}`, "zone"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := lbetcd.ParseValue([]byte(tc.in))
			if !errors.Is(err, lbetcd.ErrValue) {
				t.Fatalf("ParseValue(%s): %v; want an error wrapping ErrValue", tc.in, err)
			}
			if want := fmt.Sprintf("field %q", tc.field); !strings.Contains(err.Error(), want) {
				t.Fatalf("ParseValue(%s): %q does not name %s", tc.in, err, want)
			}
		})
	}
}

func TestFormatValueRoundTrips(t *testing.T) {
	for _, ep := range []lb.Endpoint{{Addr: "127.0.0.1:8080"}, {Addr: "[::1]:1", Weight: 7}, {Addr: "h:1", Zone: "us-east-1a"}, {Addr: "h:2", Weight: 2, Zone: "zone \"b\"\n"}} {
		b, err := lbetcd.FormatValue(ep)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lbetcd.ParseValue(b)
		if err != nil || got != ep {
			t.Fatalf("ParseValue(FormatValue(%+v)) = %+v, %v (value %s)", ep, got, err, b)
		}
	}
	if b, err := lbetcd.FormatValue(lb.Endpoint{Addr: "h:1"}); string(b) != `{"addr":"h:1"}` || err != nil {
		t.Fatalf("FormatValue of weight 0 = %s, %v; want the weight left out", b, err)
	}
	if _, err := lbetcd.FormatValue(lb.Endpoint{Addr: "nope"}); !errors.Is(err, lbetcd.ErrConfig) {
		t.Fatalf("FormatValue of a bad address: %v; want ErrConfig", err)
	}
	if b, err := lbetcd.FormatValue(lb.Endpoint{Addr: "h:1", Weight: 2, Zone: "a"}); string(b) != `{"addr":"h:1","weight":2,"zone":"a"}` || err != nil {
		t.Fatalf("FormatValue with a zone = %s, %v", b, err)
	}
	for _, zone := range []string{strings.Repeat("z", lb.MaxZoneLen+1), "a\xffb"} {
		if _, err := lbetcd.FormatValue(lb.Endpoint{Addr: "h:1", Zone: zone}); !errors.Is(err, lbetcd.ErrConfig) {
			t.Fatalf("FormatValue of zone %.20q: %v; want ErrConfig", zone, err)
		}
	}
}

// FuzzParseValue: no input panics; whatever is accepted is a valid
// endpoint that lb.Pool.Set takes, and survives FormatValue and back.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{`{"addr":"127.0.0.1:8080","weight":2}`, `{"addr":"h:1","zone":"a\u0000\ud800"}`, `"h:1"`, `h:1`, `[::1]:2`, `{"weight":-1}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ep, err := lbetcd.ParseValue(b)
		if err != nil {
			if !errors.Is(err, lbetcd.ErrValue) {
				t.Fatalf("error %v does not wrap ErrValue", err)
			}
			return
		}
		pool, perr := lb.New(lb.Config{})
		if perr != nil {
			t.Fatal(perr)
		}
		if err := pool.Set(ep); err != nil {
			t.Fatalf("ParseValue accepted %+v, which Pool.Set rejects: %v", ep, err)
		}
		v, err := lbetcd.FormatValue(ep)
		if err != nil {
			t.Fatalf("FormatValue(%+v): %v", ep, err)
		}
		if back, err := lbetcd.ParseValue(v); err != nil || back != ep {
			t.Fatalf("round trip of %+v gave %+v, %v", ep, back, err)
		}
	})
}
