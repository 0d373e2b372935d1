package discovery

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/miekg/dns"
)

// zone is a real DNS server on 127.0.0.1 (UDP and TCP) whose records a test
// changes while it runs.
type zone struct {
	Addr string // "127.0.0.1:port"

	mu   sync.Mutex
	a    map[string][]string // name → IPv4 addresses
	aaaa map[string][]string // name → IPv6 addresses
	srv  map[string][]*dns.SRV
	mode string // "" answers, "servfail", "silent" never answers
	// rcodes overrides the answer to one question: name and type to rcode.
	rcodes map[question]int

	queries atomic.Int64 // SRV, A and AAAA questions answered or not
}

// startZone starts a zone server and stops it when the test ends.
func startZone(t *testing.T) *zone {
	t.Helper()
	z := &zone{a: map[string][]string{}, aaaa: map[string][]string{}, srv: map[string][]*dns.SRV{},
		rcodes: map[question]int{}}
	// One port for UDP and TCP: try a few until the TCP port is free too.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if try == 20 {
				t.Fatal(err)
			}
		}
	}
	z.Addr = pc.LocalAddr().String()
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			s.Shutdown()
			<-done
		})
	}
	return z
}

func (z *zone) setMode(mode string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.mode = mode
}

// question is a name and a query type.
type question struct {
	name  string
	qtype uint16
}

// setRcode makes the zone answer name's qtype question with rcode and no
// records, whatever it holds; dns.RcodeSuccess restores the records.
func (z *zone) setRcode(name string, qtype uint16, rcode int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(z.rcodes, question{name, qtype})
		return
	}
	z.rcodes[question{name, qtype}] = rcode
}

// setA replaces name's A records (IPv4) or AAAA records (IPv6).
func (z *zone) setA(name string, ips ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	var v4, v6 []string
	for _, ip := range ips {
		if strings.Contains(ip, ":") {
			v6 = append(v6, ip)
		} else {
			v4 = append(v4, ip)
		}
	}
	z.a[name], z.aaaa[name] = v4, v6
}

// srvRec is one SRV record: priority, weight, port, target.
type srvRec struct {
	prio, weight, port uint16
	target             string
}

func (z *zone) setSRV(name string, recs ...srvRec) {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []*dns.SRV
	for _, r := range recs {
		out = append(out, &dns.SRV{
			Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
			Priority: r.prio, Weight: r.weight, Port: r.port, Target: r.target,
		})
	}
	z.srv[name] = out
}

// ServeDNS answers from the zone: NOERROR with no records for a known name
// without records of the asked type, NXDOMAIN for an unknown name.
func (z *zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	z.queries.Add(1)
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	switch z.mode {
	case "silent":
		return
	case "servfail":
		m.SetRcode(req, dns.RcodeServerFailure)
		w.WriteMsg(m)
		return
	}
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if rcode, ok := z.rcodes[question{name, q.Qtype}]; ok {
		m.Rcode = rcode
		w.WriteMsg(m)
		return
	}
	_, knownA := z.a[name]
	_, knownAAAA := z.aaaa[name]
	_, knownSRV := z.srv[name]
	if !knownA && !knownAAAA && !knownSRV {
		m.Rcode = dns.RcodeNameError
	}
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET}
	switch q.Qtype {
	case dns.TypeA:
		for _, ip := range z.a[name] {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.ParseIP(ip)})
		}
	case dns.TypeAAAA:
		for _, ip := range z.aaaa[name] {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(ip)})
		}
	case dns.TypeSRV:
		for _, r := range z.srv[name] {
			m.Answer = append(m.Answer, r)
		}
	}
	w.WriteMsg(m)
}

// noLeaks fails the test if goroutines started during it are still running
// a few seconds after it ends (its cleanups run first: register it first).
// Tests that use it must not run in parallel.
func noLeaks(t *testing.T) {
	t.Helper()
	testkit.NoGoroutinesLeft(t, 5*time.Second)
}
