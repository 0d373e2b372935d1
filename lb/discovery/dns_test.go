package discovery

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
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

// TestDNSNeverAnswersWithPartOfASet fails one family's question of a
// dual-stack name: the resolve must fail rather than answer with the other
// family's addresses alone, for a Host and for an SRV target.
func TestDNSNeverAnswersWithPartOfASet(t *testing.T) {
	noLeaks(t)
	z := startZone(t)
	const (
		host = "dual.nanolb.test."
		name = "_http._tcp.dual.nanolb.test."
	)
	z.setA(host, "127.0.0.1", "::1")
	z.setA("v4.nanolb.test.", "127.0.0.2")
	z.setSRV(name, srvRec{10, 1, 8001, host}, srvRec{10, 1, 8002, "v4.nanolb.test."})
	byHost := mustDNS(t, DNSConfig{Host: host, Port: 8080, Server: z.Addr})
	bySRV := mustDNS(t, DNSConfig{SRV: name, Server: z.Addr})
	for _, tc := range []struct {
		name   string
		rcodes map[uint16]int // question type to rcode
	}{
		{"SERVFAIL to AAAA", map[uint16]int{dns.TypeAAAA: dns.RcodeServerFailure}},
		{"SERVFAIL to A", map[uint16]int{dns.TypeA: dns.RcodeServerFailure}},
		{"REFUSED to AAAA", map[uint16]int{dns.TypeAAAA: dns.RcodeRefused}},
		{"SERVFAIL to A and NXDOMAIN to AAAA", map[uint16]int{dns.TypeA: dns.RcodeServerFailure, dns.TypeAAAA: dns.RcodeNameError}},
	} {
		for _, r := range []struct {
			kind string
			res  Resolver
		}{{"host", byHost}, {"SRV target", bySRV}} {
			t.Run(tc.name+" of a "+r.kind+" fails the resolve", func(t *testing.T) {
				for qtype, rcode := range tc.rcodes {
					z.setRcode(host, qtype, rcode)
					defer z.setRcode(host, qtype, dns.RcodeSuccess)
				}
				got, err := resolveWithin(t, r.res, 5*time.Second)
				if len(got) != 0 || !errors.Is(err, ErrResolve) {
					t.Fatalf("Resolve = %v, %v; want no endpoints and an error wrapping ErrResolve", got, err)
				}
				t.Log(err)
			})
		}
	}
	t.Run("a Runner keeps both families and reports the error", func(t *testing.T) {
		pool := newPool(t)
		r := mustStart(t, pool, byHost, Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Hour})
		if err := r.WaitForReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		z.setRcode(host, dns.TypeAAAA, dns.RcodeServerFailure)
		defer z.setRcode(host, dns.TypeAAAA, dns.RcodeSuccess)
		before := r.Status().LastAttempt
		r.ResolveNow()
		if !waitFor(5*time.Second, func() bool { st := r.Status(); return st.LastAttempt.After(before) && !st.Resolving }) {
			t.Fatalf("no resolve reported: %+v", r.Status())
		}
		want := []string{"127.0.0.1:8080", "[::1]:8080"}
		if st := r.Status(); !errors.Is(st.LastError, ErrResolve) || !slices.Equal(addrsOf(pool), want) {
			t.Errorf("after SERVFAIL to AAAA: pool %v, status %+v; want %v kept and the error reported", addrsOf(pool), st, want)
		}
		r.Close()
	})
}
