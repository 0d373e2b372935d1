package discovery

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

func TestNewDNSRejectsAZoneTooLong(t *testing.T) {
	long := strings.Repeat("z", lb.MaxZoneLen+1)
	if _, err := NewDNS(DNSConfig{Host: "a.test.", Port: 80, Zone: long}); !errors.Is(err, ErrConfig) {
		t.Fatalf("NewDNS with a zone of %d bytes = %v, want an error wrapping ErrConfig", len(long), err)
	}
	if _, err := NewDNS(DNSConfig{Host: "a.test.", Port: 80, Zone: long[1:]}); err != nil {
		t.Fatalf("NewDNS with a zone of lb.MaxZoneLen bytes: %v", err)
	}
}

// Each DNS stamps its zone on what it finds, by Host and by SRV, and a
// Union of one SRV name per zone answers with the zones' endpoints
// together, each in its zone.
func TestDNSZonesJoinedByUnion(t *testing.T) {
	noLeaks(t)
	z := startZone(t)
	z.setA("a1.nanolb.test.", "127.0.0.1")
	z.setA("a2.nanolb.test.", "127.0.0.2", "::1")
	z.setA("b1.nanolb.test.", "127.0.0.3")
	z.setSRV("_http._tcp.zone-a.nanolb.test.", srvRec{10, 2, 8001, "a1.nanolb.test."}, srvRec{10, 1, 8002, "a2.nanolb.test."})
	z.setSRV("_http._tcp.zone-b.nanolb.test.", srvRec{10, 1, 8003, "b1.nanolb.test."})
	zoneA := mustDNS(t, DNSConfig{SRV: "_http._tcp.zone-a.nanolb.test.", Server: z.Addr, Zone: "zone-a"})
	zoneB := mustDNS(t, DNSConfig{SRV: "_http._tcp.zone-b.nanolb.test.", Server: z.Addr, Zone: "zone-b"})
	byHost := mustDNS(t, DNSConfig{Host: "b1.nanolb.test.", Port: 9000, Server: z.Addr, Zone: "zone-c"})

	for _, tc := range []struct {
		name string
		res  Resolver
		want []lb.Endpoint
	}{
		{"an SRV name's endpoints are all in its zone", zoneA, []lb.Endpoint{
			{Addr: "127.0.0.1:8001", Weight: 2, Zone: "zone-a"},
			{Addr: "127.0.0.2:8002", Weight: 1, Zone: "zone-a"},
			{Addr: "[::1]:8002", Weight: 1, Zone: "zone-a"},
		}},
		{"a host's endpoints are all in its zone", byHost, []lb.Endpoint{{Addr: "127.0.0.3:9000", Weight: 1, Zone: "zone-c"}}},
		{"a union of two zones answers with both, in order", Union{zoneB, zoneA}, []lb.Endpoint{
			{Addr: "127.0.0.3:8003", Weight: 1, Zone: "zone-b"},
			{Addr: "127.0.0.1:8001", Weight: 2, Zone: "zone-a"},
			{Addr: "127.0.0.2:8002", Weight: 1, Zone: "zone-a"},
			{Addr: "[::1]:8002", Weight: 1, Zone: "zone-a"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveWithin(t, tc.res, 5*time.Second)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	t.Run("a zone whose name has no records adds nothing", func(t *testing.T) {
		empty := mustDNS(t, DNSConfig{SRV: "_http._tcp.zone-x.nanolb.test.", Server: z.Addr, Zone: "zone-x"})
		got, err := resolveWithin(t, Union{empty, zoneB}, 5*time.Second)
		if want := []lb.Endpoint{{Addr: "127.0.0.3:8003", Weight: 1, Zone: "zone-b"}}; err != nil || !slices.Equal(got, want) {
			t.Errorf("Resolve = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("one zone's SERVFAIL fails the union", func(t *testing.T) {
		z.setMode("servfail")
		defer z.setMode("")
		got, err := resolveWithin(t, Union{zoneA, zoneB}, 5*time.Second)
		if got != nil || !errors.Is(err, ErrResolve) {
			t.Fatalf("Resolve = %v, %v; want no endpoints and an error wrapping ErrResolve", got, err)
		}
		t.Log(err)
	})
}

func TestUnion(t *testing.T) {
	failing := ResolverFunc(func(context.Context) ([]lb.Endpoint, error) { return nil, errors.New("registry down") })
	a := Static{{Addr: "10.0.0.1:80", Zone: "a"}}
	b := Static{{Addr: "10.0.0.2:80", Weight: 3, Zone: "b"}}
	for _, tc := range []struct {
		name string
		u    Union
		want []lb.Endpoint // nil: want an error wrapping ErrResolve
	}{
		{"an empty union answers with no endpoints", Union{}, []lb.Endpoint{}},
		{"empty answers make an empty answer", Union{Static{}, Static{}}, []lb.Endpoint{}},
		{"answers are joined in order", Union{b, a}, []lb.Endpoint{b[0], a[0]}},
		{"one failure fails the union", Union{a, failing, b}, nil},
		{"an address in two answers fails the union", Union{a, Static{{Addr: "10.0.0.1:80", Zone: "b"}}}, nil},
		{"an address twice in one answer fails the union", Union{Static{a[0], a[0]}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.u.Resolve(t.Context())
			if tc.want == nil {
				if got != nil || !errors.Is(err, ErrResolve) {
					t.Fatalf("Resolve = %v, %v; want no endpoints and an error wrapping ErrResolve", got, err)
				}
				t.Log(err)
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || got == nil {
				t.Errorf("Resolve = %#v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
