package lbhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/lb"
)

// BenchmarkRoundTrip measures what the Transport adds to a real round trip:
// client=plain is an http.Client sending straight to a loopback server,
// client=lbhttp the same client and base transport through a Transport
// over a one-endpoint pool. Compare them with benchstat; the difference is
// the Transport's time and allocations per request.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	pool, err := lb.New(lb.Config{}, srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	clients := []struct {
		name string
		url  string
		rt   func(base http.RoundTripper) http.RoundTripper
	}{
		{"plain", srv.URL + "/", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"lbhttp", "http://service/", func(base http.RoundTripper) http.RoundTripper {
			return &Transport{Pool: pool, Base: base}
		}},
	}
	for _, c := range clients {
		b.Run("client="+c.name, func(b *testing.B) {
			base := http.DefaultTransport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			getLoop(b, &http.Client{Transport: c.rt(base)}, c.url)
		})
	}
}

// getLoop is both benchmarks' body: a GET of url through client, its body
// read and closed, b.Loop times.
func getLoop(b *testing.B, client *http.Client, url string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// cannedTripper answers every request at once with a small 200 response,
// without a network: BenchmarkOverhead's stand-in for the base transport.
type cannedTripper struct{}

func (cannedTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2, Request: req}, nil
}

// BenchmarkOverhead isolates the Transport's own cost from the network's:
// both clients send to a base that answers in memory, so client=lbhttp
// minus client=plain is the time and allocations the Transport adds per
// request (pick, request copy, body wrapper, lease end), without the
// loopback round trip's noise. Divide it by BenchmarkRoundTrip's
// client=plain for the share of a real round trip.
func BenchmarkOverhead(b *testing.B) {
	pool, err := lb.New(lb.Config{}, "10.0.0.1:80", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	clients := []struct {
		name string
		url  string
		rt   http.RoundTripper
	}{
		{"plain", "http://10.0.0.1:80/", cannedTripper{}},
		{"lbhttp", "http://service/", &Transport{Pool: pool, Base: cannedTripper{}}},
	}
	for _, c := range clients {
		b.Run("client="+c.name, func(b *testing.B) {
			getLoop(b, &http.Client{Transport: c.rt}, c.url)
		})
	}
}
