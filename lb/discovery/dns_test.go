package discovery

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

func resolveWithin(t *testing.T, r Resolver, d time.Duration) ([]lb.Endpoint, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return r.Resolve(ctx)
}

func mustDNS(t *testing.T, cfg DNSConfig) *DNS {
	t.Helper()
	d, err := NewDNS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewDNSRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  DNSConfig
	}{
		{"neither Host nor SRV", DNSConfig{Port: 80}},
		{"both Host and SRV", DNSConfig{Host: "a.test.", Port: 80, SRV: "_x._tcp.a.test."}},
		{"Host without a port", DNSConfig{Host: "a.test."}},
		{"Host with port 65536", DNSConfig{Host: "a.test.", Port: 65536}},
		{"Host with a negative port", DNSConfig{Host: "a.test.", Port: -1}},
		{"SRV with a port", DNSConfig{SRV: "_x._tcp.a.test.", Port: 80}},
		{"an unknown network", DNSConfig{Host: "a.test.", Port: 80, Network: "tcp"}},
		{"a server without a port", DNSConfig{Host: "a.test.", Port: 80, Server: "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewDNS(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("NewDNS(%+v) = %v, want an error wrapping ErrConfig", tc.cfg, err)
			} else {
				t.Log(err)
			}
		})
	}
}

func TestDNSHost(t *testing.T) {
	noLeaks(t)
	z := startZone(t)
	z.setA("svc.nanolb.test.", "127.0.0.2", "127.0.0.1", "::1")
	for _, tc := range []struct {
		network string
		want    []lb.Endpoint
	}{
		{"", eps("127.0.0.1:8080", "127.0.0.2:8080", "[::1]:8080")},
		{"ip4", eps("127.0.0.1:8080", "127.0.0.2:8080")},
		{"ip6", eps("[::1]:8080")},
	} {
		t.Run("network "+tc.network, func(t *testing.T) {
			d := mustDNS(t, DNSConfig{Host: "svc.nanolb.test.", Port: 8080, Server: z.Addr, Network: tc.network})
			got, err := resolveWithin(t, d, 5*time.Second)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestDNSSRV(t *testing.T) {
	noLeaks(t)
	z := startZone(t)
	const name = "_http._tcp.svc.nanolb.test."
	z.setA("a.nanolb.test.", "127.0.0.1")
	z.setA("b.nanolb.test.", "127.0.0.2", "::1")
	z.setA("c.nanolb.test.", "127.0.0.3")
	d := mustDNS(t, DNSConfig{SRV: name, Server: z.Addr})
	for _, tc := range []struct {
		name string
		recs []srvRec
		want []lb.Endpoint
	}{
		{
			"only the lowest priority is used; weights carry over; each target's addresses",
			[]srvRec{{10, 5, 8001, "a.nanolb.test."}, {10, 0, 8002, "b.nanolb.test."}, {20, 50, 8003, "c.nanolb.test."}},
			[]lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 5}, {Addr: "127.0.0.2:8002", Weight: 1}, {Addr: "[::1]:8002", Weight: 1}},
		},
		{
			"a priority whose only target is \".\" is skipped",
			[]srvRec{{1, 5, 8001, "."}, {20, 7, 8003, "c.nanolb.test."}},
			[]lb.Endpoint{{Addr: "127.0.0.3:8003", Weight: 7}},
		},
		{
			"one address twice becomes one endpoint with the summed weight",
			[]srvRec{{10, 2, 8001, "a.nanolb.test."}, {10, 3, 8001, "a.nanolb.test."}},
			[]lb.Endpoint{{Addr: "127.0.0.1:8001", Weight: 5}},
		},
		{"only \".\" is an empty answer", []srvRec{{1, 0, 0, "."}}, []lb.Endpoint{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z.setSRV(name, tc.recs...)
			got, err := resolveWithin(t, d, 5*time.Second)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestDNSFailuresAndEmptyAnswers(t *testing.T) {
	noLeaks(t)
	z := startZone(t)
	const name = "_http._tcp.svc.nanolb.test."
	z.setA("a.nanolb.test.", "127.0.0.1")
	z.setA("empty.nanolb.test.")
	srv := mustDNS(t, DNSConfig{SRV: name, Server: z.Addr})
	host := mustDNS(t, DNSConfig{Host: "a.nanolb.test.", Port: 80, Server: z.Addr})

	// A UDP socket nobody reads: a server that never answers.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	for _, tc := range []struct {
		name  string
		setup func()
		res   Resolver
		empty bool // want an empty answer, not an error
		cause error
	}{
		{"an SRV record with port 0 fails the whole answer", func() {
			z.setSRV(name, srvRec{10, 1, 8001, "a.nanolb.test."}, srvRec{10, 1, 0, "a.nanolb.test."})
		}, srv, false, nil},
		{"an SRV target without an address fails the whole answer", func() {
			z.setSRV(name, srvRec{10, 1, 8001, "a.nanolb.test."}, srvRec{10, 1, 8002, "nowhere.nanolb.test."})
		}, srv, false, nil},
		{"SERVFAIL is an error", func() { z.setMode("servfail") }, host, false, nil},
		{"a server that never answers is an error when ctx ends", func() {},
			mustDNS(t, DNSConfig{Host: "a.nanolb.test.", Port: 80, Server: mute.LocalAddr().String()}), false, context.DeadlineExceeded},
		{"a name without addresses is an empty answer", func() {},
			mustDNS(t, DNSConfig{Host: "empty.nanolb.test.", Port: 80, Server: z.Addr}), true, nil},
		{"NXDOMAIN is an empty answer", func() {},
			mustDNS(t, DNSConfig{Host: "gone.nanolb.test.", Port: 80, Server: z.Addr}), true, nil},
		{"a name without SRV records is an empty answer", func() { z.setSRV(name) }, srv, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer z.setMode("")
			tc.setup()
			got, err := resolveWithin(t, tc.res, 500*time.Millisecond)
			switch {
			case tc.empty && (err != nil || len(got) != 0):
				t.Errorf("Resolve = %v, %v; want an empty answer", got, err)
			case !tc.empty && (len(got) != 0 || !errors.Is(err, ErrResolve)):
				t.Errorf("Resolve = %v, %v; want no endpoints and an error wrapping ErrResolve", got, err)
			case tc.cause != nil && !errors.Is(err, tc.cause):
				t.Errorf("Resolve error %v does not wrap %v", err, tc.cause)
			}
			t.Log(err)
		})
	}
}
