package discovery_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
)

// A Runner keeps a Pool in step with a Resolver; WaitForReady blocks until
// the first good answer is in the pool.
func ExampleStart() {
	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin})
	if err != nil {
		panic(err)
	}
	res := discovery.Static{{Addr: "10.0.0.1:8080"}, {Addr: "10.0.0.2:8080", Weight: 3}}
	r, err := discovery.Start(pool, res, discovery.Config{}) // the default schedule
	if err != nil {
		panic(err)
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForReady(ctx); err != nil {
		panic(err)
	}
	for _, e := range pool.Endpoints() {
		fmt.Println(e.Addr, "weight", e.Weight)
	}
	st := r.Status()
	fmt.Println("phase:", st.Phase, "endpoints:", st.Endpoints, "failures:", st.Failures)
	// Output:
	// 10.0.0.1:8080 weight 1
	// 10.0.0.2:8080 weight 3
	// phase: startup endpoints: 2 failures: 0
}

// A File resolver reads a JSON list; its Watch applies an edit within one
// poll interval. Rewrite the file atomically: write a temporary file, then
// rename it over the old one.
func ExampleNewFile() {
	dir, err := os.MkdirTemp("", "nanolb-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "endpoints.json")
	write := func(content string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			panic(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			panic(err)
		}
	}
	write(`[{"addr": "10.0.0.1:8080"}, {"addr": "10.0.0.2:8080", "weight": 2}]`)

	res, err := discovery.NewFile(path, 10*time.Millisecond)
	if err != nil {
		panic(err)
	}
	pool, err := lb.New(lb.Config{})
	if err != nil {
		panic(err)
	}
	r, err := discovery.Start(pool, res, discovery.Config{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForReady(ctx); err != nil {
		panic(err)
	}
	fmt.Println(pool.Len(), "endpoints")

	write(`[{"addr": "10.0.0.3:8080"}]`)
	for pool.Len() != 1 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	l, err := pool.Pick()
	if err != nil {
		panic(err)
	}
	fmt.Println("picked", l.Endpoint())
	l.Done(nil)
	// Output:
	// 2 endpoints
	// picked 10.0.0.3:8080
}

// A DNS resolver for SRV records: only the lowest priority is used, and
// each target's addresses get its record's weight. Here the DNS server is
// a real one on 127.0.0.1; leave Server empty for the system's resolvers.
func ExampleNewDNS() {
	dnsServer := startDNS(map[string][]dns.RR{
		"_http._tcp.users.example. SRV": {
			srvRecord("_http._tcp.users.example.", 10, 1, 8080, "a.users.example."),
			srvRecord("_http._tcp.users.example.", 10, 3, 8080, "b.users.example."),
			srvRecord("_http._tcp.users.example.", 20, 1, 8080, "backup.users.example."), // a fallback: not used
		},
		"a.users.example. A":    {aRecord("a.users.example.", "10.0.0.1")},
		"b.users.example. A":    {aRecord("b.users.example.", "10.0.0.2")},
		"a.users.example. AAAA": nil, // no IPv6 addresses
		"b.users.example. AAAA": nil,
	})
	defer dnsServer.Shutdown()

	res, err := discovery.NewDNS(discovery.DNSConfig{
		SRV:    "_http._tcp.users.example.",
		Server: dnsServer.PacketConn.LocalAddr().String(),
	})
	if err != nil {
		panic(err)
	}
	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin})
	if err != nil {
		panic(err)
	}
	r, err := discovery.Start(pool, res, discovery.Config{Timeout: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForReady(ctx); err != nil {
		panic(err)
	}
	for _, e := range pool.Endpoints() {
		fmt.Println(e.Addr, "weight", e.Weight)
	}
	// Output:
	// 10.0.0.1:8080 weight 1
	// 10.0.0.2:8080 weight 3
}

// DNS records carry no zone: publish one SRV name per zone, give each
// name's resolver its DNSConfig.Zone, and join them with a Union. Each
// endpoint reaches the pool with its zone, for lb.Config.Zones.
func ExampleUnion() {
	dnsServer := startDNS(map[string][]dns.RR{
		"_http._tcp.us-east-1a.users.example. SRV": {srvRecord("_http._tcp.us-east-1a.users.example.", 10, 1, 8080, "a.users.example.")},
		"_http._tcp.us-east-1b.users.example. SRV": {srvRecord("_http._tcp.us-east-1b.users.example.", 10, 1, 8080, "b.users.example.")},
		"a.users.example. A":                       {aRecord("a.users.example.", "10.0.0.1")},
		"b.users.example. A":                       {aRecord("b.users.example.", "10.0.1.1")},
		"a.users.example. AAAA":                    nil,
		"b.users.example. AAAA":                    nil,
	})
	defer dnsServer.Shutdown()

	var res discovery.Union
	for _, zone := range []string{"us-east-1a", "us-east-1b"} {
		d, err := discovery.NewDNS(discovery.DNSConfig{
			SRV:    "_http._tcp." + zone + ".users.example.",
			Server: dnsServer.PacketConn.LocalAddr().String(),
			Zone:   zone,
		})
		if err != nil {
			panic(err)
		}
		res = append(res, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps, err := res.Resolve(ctx) // what a Runner would give the pool
	if err != nil {
		panic(err)
	}
	for _, e := range eps {
		fmt.Println(e.Addr, "zone", e.Zone)
	}
	// Output:
	// 10.0.0.1:8080 zone us-east-1a
	// 10.0.1.1:8080 zone us-east-1b
}

// LocalityFromEnv gives a client its zone and its index in the fleet from
// the environment: NANOLB_ZONE and NANOLB_CLIENT_INDEX, or, without the
// latter, a StatefulSet pod's ordinal in its host name.
func ExampleLocalityFromEnv() {
	os.Setenv("NANOLB_ZONE", "us-east-1a") // as a deployment would
	os.Setenv("NANOLB_CLIENT_INDEX", "3")
	defer os.Unsetenv("NANOLB_ZONE")
	defer os.Unsetenv("NANOLB_CLIENT_INDEX")

	loc, err := discovery.LocalityFromEnv()
	if err != nil {
		panic(err)
	}
	cfg := lb.Config{Zones: lb.Zones{Local: loc.Zone}}
	if loc.HasClient {
		cfg.Subset = lb.Subset{Size: 20, Client: loc.Client}
	}
	fmt.Printf("zone %q, client %d\n", cfg.Zones.Local, cfg.Subset.Client)
	// Output:
	// zone "us-east-1a", client 3
}

// startDNS serves records over UDP on 127.0.0.1: the records listed under
// "name TYPE", NOERROR with none for a listed key without records, and
// NXDOMAIN for anything else.
func startDNS(records map[string][]dns.RR) *dns.Server {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	started := make(chan struct{})
	s := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			q := req.Question[0]
			m := new(dns.Msg)
			m.SetReply(req)
			m.Authoritative, m.RecursionAvailable = true, true
			rrs, ok := records[strings.ToLower(q.Name)+" "+dns.TypeToString[q.Qtype]]
			if !ok {
				m.Rcode = dns.RcodeNameError
			}
			m.Answer = rrs
			w.WriteMsg(m)
		})}
	go s.ActivateAndServe()
	<-started
	return s
}

// srvRecord and aRecord are DNS records with a TTL of 30 s.
func srvRecord(name string, prio, weight, port uint16, target string) dns.RR {
	return &dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 30},
		Priority: prio, Weight: weight, Port: port, Target: target}
}

func aRecord(name, ip string) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(ip)}
}

// ResolverFunc turns any lookup into a Resolver.
func ExampleResolverFunc() {
	res := discovery.ResolverFunc(func(ctx context.Context) ([]lb.Endpoint, error) {
		// Ask a registry here.
		return []lb.Endpoint{{Addr: "10.0.0.9:8080", Zone: "us-east-1a"}}, nil
	})
	eps, err := res.Resolve(context.Background())
	fmt.Println(eps, err)
	// Output:
	// [{10.0.0.9:8080 0 us-east-1a}] <nil>
}

// Events reports a Runner's failed resolves, and the success that ends a
// run of them, as they happen; the pool keeps its last good set meanwhile.
func ExampleRunner_Events() {
	pool, err := lb.New(lb.Config{})
	if err != nil {
		panic(err)
	}
	calls := 0
	res := discovery.ResolverFunc(func(context.Context) ([]lb.Endpoint, error) {
		calls++ // the Runner calls its Resolver from one goroutine
		if calls == 1 {
			return nil, fmt.Errorf("registry unreachable")
		}
		return []lb.Endpoint{{Addr: "10.0.0.1:8080"}}, nil
	})
	r, err := discovery.Start(pool, res, discovery.Config{RetryAfter: time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for e := range r.Events() {
		fmt.Println(e.Kind, e.Failures, e.Err)
		if e.Kind == discovery.EventRecovered {
			break
		}
	}
	fmt.Println(pool.Len(), "endpoint")
	// Output:
	// resolve_failed 1 discovery: resolve failed: registry unreachable
	// recovered 1 <nil>
	// 1 endpoint
}
