package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/nanolb/nanolb/lb"
)

// DNSConfig says what a DNS resolver looks up, and where.
//
// Exactly one of Host and SRV is set. With Host, the answer is every A and
// AAAA address of Host, each at Port. With SRV, it is the SRV records of
// that name: only the lowest priority that has a target is used (the other
// priorities are fallbacks, and a client that resolves cannot judge when
// the preferred targets are down: the Pool's passive health ejects them one
// by one instead); each target's addresses (A and AAAA) become endpoints at
// the record's port, weighted by the record's weight (0 counts as 1, the
// Pool's least weight). A record whose target is "." (no service) is
// ignored.
type DNSConfig struct {
	// Host is the name to look up for A and AAAA records. A trailing dot
	// makes it absolute; otherwise resolv.conf's search list applies.
	Host string
	// Port is the port of every endpoint found for Host: 1..65535. It must
	// be zero with SRV, whose records carry their own ports.
	Port int
	// SRV is the SRV name to look up, such as "_http._tcp.example.com.".
	SRV string
	// Server is the DNS server's "host:port", such as "10.0.0.2:53". Empty
	// means the system's resolvers (resolv.conf).
	Server string
	// Network restricts addresses: "ip4", "ip6", or "ip" (both; the
	// default, also meant by "").
	Network string
	// Zone is stamped on every endpoint found (lb.Endpoint.Zone), since
	// DNS records carry no zone: publish one name per zone and join their
	// resolvers with Union. "" means no zone; at most lb.MaxZoneLen bytes.
	Zone string
}

// DNS is a Resolver that looks endpoints up in DNS through net.Resolver.
// Create one with NewDNS.
//
// An answer with no records (NXDOMAIN, or a name without A, AAAA or SRV
// records) is an empty answer, not an error: a Runner keeps the last good
// set unless Config.AllowEmpty. Any other failure (SERVFAIL, a refusal or
// a timeout, of the A or the AAAA question alone too, a target that does
// not resolve, an SRV port 0) fails the whole resolve: DNS never answers
// with part of a set. The A and AAAA questions are two lookups, so a
// relative name walks the search list once for each; a SERVFAIL or a
// timeout on the way ends the walk with an error (with Server empty and
// cgo resolving, the C library walks it its own way). An address found
// twice (two SRV records for one target and port, or two targets sharing
// an address) becomes one endpoint whose weight is the sum.
type DNS struct {
	cfg DNSConfig
	res *net.Resolver
}

// NewDNS validates cfg and returns its resolver. Bad input is an error
// wrapping ErrConfig.
func NewDNS(cfg DNSConfig) (*DNS, error) {
	switch {
	case cfg.Host == "" && cfg.SRV == "":
		return nil, fmt.Errorf("%w: DNSConfig needs Host or SRV", ErrConfig)
	case cfg.Host != "" && cfg.SRV != "":
		return nil, fmt.Errorf("%w: DNSConfig has both Host %q and SRV %q", ErrConfig, cfg.Host, cfg.SRV)
	case cfg.Host != "" && (cfg.Port < 1 || cfg.Port > 65535):
		return nil, fmt.Errorf("%w: DNSConfig.Port %d for Host %q is outside 1..65535", ErrConfig, cfg.Port, cfg.Host)
	case cfg.SRV != "" && cfg.Port != 0:
		return nil, fmt.Errorf("%w: DNSConfig.Port must be 0 with SRV (records carry ports), got %d", ErrConfig, cfg.Port)
	}
	if len(cfg.Zone) > lb.MaxZoneLen {
		return nil, fmt.Errorf("%w: DNSConfig.Zone is %d bytes, over %d", ErrConfig, len(cfg.Zone), lb.MaxZoneLen)
	}
	switch cfg.Network {
	case "":
		cfg.Network = "ip"
	case "ip", "ip4", "ip6":
	default:
		return nil, fmt.Errorf("%w: DNSConfig.Network %q is not ip, ip4 or ip6", ErrConfig, cfg.Network)
	}
	// StrictErrors: without it, Go's resolver answers with the A records
	// alone when the AAAA question fails (or the reverse), and moves on
	// along the search list past a failed name.
	d := &DNS{cfg: cfg, res: &net.Resolver{StrictErrors: true}}
	if cfg.Server != "" {
		if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
			return nil, fmt.Errorf("%w: DNSConfig.Server %q: %w", ErrConfig, cfg.Server, err)
		}
		d.res = &net.Resolver{PreferGo: true, StrictErrors: true, Dial: dialServer(cfg.Server)}
	}
	return d, nil
}

// Resolve looks the name up and returns its endpoints, sorted by address.
func (d *DNS) Resolve(ctx context.Context) ([]lb.Endpoint, error) {
	if d.cfg.SRV != "" {
		return d.resolveSRV(ctx)
	}
	addrs, err := d.lookupAddrs(ctx, d.cfg.Host)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int, len(addrs))
	for _, a := range addrs {
		addWeight(m, netip.AddrPortFrom(a, uint16(d.cfg.Port)).String(), 1)
	}
	return endpointsOf(m, d.cfg.Zone), nil
}

// lookupAddrs returns host's addresses; none for NXDOMAIN or no records.
// With both families it asks for each on its own and fails if either
// fails: a combined lookup answers with one family alone when the other's
// question is refused, even with StrictErrors.
func (d *DNS) lookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if d.cfg.Network != "ip" {
		return d.lookupFamily(ctx, d.cfg.Network, host)
	}
	var v6 []netip.Addr
	var err6 error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v6, err6 = d.lookupFamily(ctx, "ip6", host)
	}()
	v4, err4 := d.lookupFamily(ctx, "ip4", host)
	<-done
	if err := errors.Join(err4, err6); err != nil {
		return nil, err
	}
	return append(v4, v6...), nil
}

// lookupFamily returns host's addresses of network ("ip4" or "ip6"); none
// for NXDOMAIN or no records.
func (d *DNS) lookupFamily(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := d.res.LookupNetIP(ctx, network, host)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: DNS lookup of %s (%s)%s: %w", ErrResolve, host, recordType[network], d.via(), err)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// recordType names the records a network's lookup asks for.
var recordType = map[string]string{"ip4": "A", "ip6": "AAAA"}

func (d *DNS) resolveSRV(ctx context.Context) ([]lb.Endpoint, error) {
	_, recs, err := d.res.LookupSRV(ctx, "", "", d.cfg.SRV)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: DNS SRV lookup of %s%s: %w", ErrResolve, d.cfg.SRV, d.via(), err)
	}
	recs = slices.DeleteFunc(recs, func(s *net.SRV) bool { return s.Target == "." || s.Target == "" })
	if len(recs) == 0 {
		return nil, nil
	}
	lowest := slices.MinFunc(recs, func(a, b *net.SRV) int { return int(a.Priority) - int(b.Priority) }).Priority
	recs = slices.DeleteFunc(recs, func(s *net.SRV) bool { return s.Priority != lowest })
	for _, s := range recs {
		if s.Port == 0 {
			return nil, fmt.Errorf("%w: DNS SRV %s: target %s has port 0", ErrResolve, d.cfg.SRV, s.Target)
		}
	}
	// Look the targets up concurrently; one failure fails the whole answer.
	addrs := make([][]netip.Addr, len(recs))
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, s := range recs {
		wg.Go(func() {
			addrs[i], errs[i] = d.lookupAddrs(ctx, strings.TrimSuffix(s.Target, ".")+".")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := make(map[string]int)
	for i, s := range recs {
		if len(addrs[i]) == 0 {
			return nil, fmt.Errorf("%w: DNS SRV %s: target %s has no address", ErrResolve, d.cfg.SRV, s.Target)
		}
		for _, a := range addrs[i] {
			addWeight(m, netip.AddrPortFrom(a, s.Port).String(), max(int(s.Weight), 1))
		}
	}
	return endpointsOf(m, d.cfg.Zone), nil
}

// dialServer returns a net.Resolver's Dial that sends every query to
// server. Each connection is closed when the lookup's context ends: without
// that, net's resolver, whose context outlives a caller that gave up, would
// keep reading from a server that never answers for resolv.conf's timeout
// (5 s by default), a goroutine left behind after Runner.Close.
func dialServer(server string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	var dialer net.Dialer
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, server)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		if u, ok := c.(*net.UDPConn); ok {
			// net's resolver tells UDP from TCP by net.PacketConn.
			return &udpConn{UDPConn: u, stop: stop}, nil
		}
		return &streamConn{Conn: c, stop: stop}, nil
	}
}

// udpConn and streamConn end their context.AfterFunc on Close.
type udpConn struct {
	*net.UDPConn
	stop func() bool
}

func (c *udpConn) Close() error { c.stop(); return c.UDPConn.Close() }

type streamConn struct {
	net.Conn
	stop func() bool
}

func (c *streamConn) Close() error { c.stop(); return c.Conn.Close() }

// via names the configured server for error messages: net's own errors
// name resolv.conf's server even when Dial sends the query elsewhere.
func (d *DNS) via() string {
	if d.cfg.Server == "" {
		return ""
	}
	return " via " + d.cfg.Server
}

// notFound reports whether err says the name has no records of the type.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// addWeight adds w to addr's weight, capped at lb.MaxWeight.
func addWeight(m map[string]int, addr string, w int) {
	m[addr] = min(m[addr]+w, lb.MaxWeight)
}

// endpointsOf returns m's endpoints in zone, sorted by address, so that
// equal answers compare equal.
func endpointsOf(m map[string]int, zone string) []lb.Endpoint {
	out := make([]lb.Endpoint, 0, len(m))
	for a, w := range m {
		out = append(out, lb.Endpoint{Addr: a, Weight: w, Zone: zone})
	}
	slices.SortFunc(out, func(a, b lb.Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}
