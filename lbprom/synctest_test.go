package lbprom_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gatherText serves one scrape of reg with promhttp into a recorder (no
// network: this runs inside a synctest bubble) and parses the text format.
func gatherText(t *testing.T, reg *prometheus.Registry) families {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	f, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func check(t *testing.T, f families, ws ...want) {
	t.Helper()
	for _, w := range ws {
		if v, ok := f.get(w.name, w.labels...); !ok || v != w.value {
			t.Errorf("want %v, have %g (present %v)", w, v, ok)
		}
	}
}

// On the bubble's fake clock, exactly: gauges are exact at the scrape, the
// event counters trail the pool by the subscription's Interval (default
// 100 ms), and the cooldown and probe run on the pool's own timers.
func TestCountersTrailByOneIntervalOnAFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := lb.NewRegistry()
		pool, err := reg.Ensure("api", lb.Config{Policy: lb.RoundRobin, EjectAfter: 1, EjectFor: time.Second,
			NoJitter: true}, addrA, addrB)
		if err != nil {
			t.Fatal(err)
		}
		c, err := lbprom.NewCollector(reg, lbprom.WithPools("api")) // lb's default pace
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		preg := prometheus.NewPedanticRegistry()
		preg.MustRegister(c)

		failUntil(t, pool, addrB, lb.Ejected)
		f := gatherText(t, preg)
		check(t, f, stateIs("api", addrB, "ejected")...)         // read at the scrape
		check(t, f, counters("api", addrB, 0, 0, 0, 0, 0, 0)...) // not delivered yet

		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		check(t, gatherText(t, preg), counters("api", addrB, 1, 0, 0, 0, 0, 0)...)

		// 900 ms later the cooldown ends; the next Picks probe addrB.
		time.Sleep(900 * time.Millisecond)
		synctest.Wait()
		l, err := pool.Pick()
		if err != nil || !l.Probe() || l.Endpoint() != addrB {
			t.Fatalf("Pick after the cooldown: %s probe %v, %v; want the probe of %s", l.Endpoint(), l.Probe(), err, addrB)
		}
		l.Done(nil)
		f = gatherText(t, preg)
		check(t, f, stateIs("api", addrB, "up")...)
		check(t, f, counters("api", addrB, 1, 0, 0, 0, 0, 0)...)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		check(t, gatherText(t, preg), counters("api", addrB, 1, 0, 1, 0, 0, 1)...)
	})
}

// A standing PickWait queue's shed waits are counted: three callers wait
// 150 ms (past the 100 ms interval) behind the one slot; when it frees,
// the newest gets it and the two older ones, past the 5 ms target, are
// shed.
func TestShedWaitsAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := lb.NewRegistry()
		pool, err := reg.Ensure("adm", lb.Config{MaxConcurrency: 1}, addrA)
		if err != nil {
			t.Fatal(err)
		}
		c, err := lbprom.NewCollector(reg, lbprom.WithPools("adm"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		preg := prometheus.NewPedanticRegistry()
		preg.MustRegister(c)

		held, err := pool.Pick()
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				l, err := pool.PickWait(context.Background())
				l.Done(nil)
				errs <- err
			}()
			synctest.Wait() // queued, in order
		}
		time.Sleep(150 * time.Millisecond)
		held.Done(nil)
		shed := 0
		for range 3 {
			if err := <-errs; errors.Is(err, lb.ErrShed) {
				shed++
			} else if err != nil {
				t.Fatalf("PickWait: %v", err)
			}
		}
		if shed != 2 {
			t.Fatalf("%d waits shed, want 2", shed)
		}
		check(t, gatherText(t, preg), want{"nanolb_pool_wait_shed_total", []string{"pool=adm"}, 2})
	})
}
