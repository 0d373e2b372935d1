package discovery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// received takes every event waiting on ch without blocking.
func received(ch <-chan Event) []Event {
	var out []Event
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestEventsReportFailedResolvesAndTheRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("backend down")
		res := &script{answer: func(_ context.Context, n int) ([]lb.Endpoint, error) {
			if n >= 2 && n <= 4 {
				return nil, boom
			}
			return eps("a:1", "b:1"), nil
		}}
		cfg := Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Second, NoJitter: true}
		r := mustStart(t, newPool(t), res, cfg)
		synctest.Wait()
		if got := received(r.Events()); len(got) != 0 {
			t.Fatalf("events after a first good resolve: %+v, want none", got)
		}
		start := time.Now()
		r.ResolveNow()                // call 2 fails; 3 and 4 after 1 s and 2 s more
		time.Sleep(7*time.Second + 1) // call 5, after 4 s more, succeeds
		got := received(r.Events())
		want := []struct {
			kind     EventKind
			after    time.Duration
			failures int
		}{
			{EventResolveFailed, 0, 1},
			{EventResolveFailed, time.Second, 2},
			{EventResolveFailed, 3 * time.Second, 3},
			{EventRecovered, 7 * time.Second, 3},
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
		}
		for i, w := range want {
			e := got[i]
			if e.Kind != w.kind || e.Time.Sub(start) != w.after || e.Failures != w.failures || e.Dropped != 0 {
				t.Errorf("event %d: %v after %v, %d failures, %d dropped; want %v after %v, %d failures",
					i, e.Kind, e.Time.Sub(start), e.Failures, e.Dropped, w.kind, w.after, w.failures)
			}
			if w.kind == EventResolveFailed && (!errors.Is(e.Err, ErrResolve) || !errors.Is(e.Err, boom)) {
				t.Errorf("event %d: Err %v, want one wrapping ErrResolve and the backend's error", i, e.Err)
			}
			if w.kind == EventRecovered && (e.Err != nil || e.Endpoints != 2) {
				t.Errorf("recovery event: Err %v, %d endpoints; want nil and 2", e.Err, e.Endpoints)
			}
		}
		r.Close()
		if _, ok := <-r.Events(); ok {
			t.Error("Events delivered after Close; want the channel closed")
		}
	})
}

func TestEventsNeverWaitForTheReaderAndCountWhatTheyDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := &script{answer: func(context.Context, int) ([]lb.Endpoint, error) { return nil, errors.New("down") }}
		cfg := Config{RetryAfter: time.Second, MaxRetryAfter: time.Second, NoJitter: true}
		r := mustStart(t, newPool(t), res, cfg)
		const unread = EventBuffer + 7
		time.Sleep((unread-1)*time.Second + time.Second/2) // resolves at 0, 1, ... s, all failing
		synctest.Wait()
		if n := res.calls(); n != unread {
			t.Fatalf("%d resolves with nobody reading events, want %d: the Runner waited", n, unread)
		}
		got := received(r.Events())
		if len(got) != EventBuffer || got[0].Failures != 1 || got[EventBuffer-1].Failures != EventBuffer {
			t.Fatalf("%d events buffered, want the first %d", len(got), EventBuffer)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got = received(r.Events())
		if len(got) != 1 || got[0].Failures != unread+1 || got[0].Dropped != unread-EventBuffer {
			t.Fatalf("next event %+v, want failure %d with %d dropped", got, unread+1, unread-EventBuffer)
		}
	})
}

func TestEventsReportFailedWatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &fakeWatcher{
			script:  &script{answer: always(eps("a:1")...)},
			fails:   2,
			changed: make(chan func()),
		}
		r := mustStart(t, newPool(t), w, Config{StartupEvery: time.Hour, Every: time.Hour, RetryAfter: time.Second, NoJitter: true})
		<-w.changed // the third Watch runs
		synctest.Wait()
		got := received(r.Events())
		if len(got) != 2 {
			t.Fatalf("events %+v, want two failed watches", got)
		}
		for i, e := range got {
			if e.Kind != EventWatchFailed || !errors.Is(e.Err, ErrResolve) || !strings.Contains(e.Err.Error(), "lost") {
				t.Errorf("event %d: %v %v, want watch_failed wrapping ErrResolve and the Watch's error", i, e.Kind, e.Err)
			}
		}
		if d := got[1].Time.Sub(got[0].Time); d != time.Second {
			t.Errorf("second watch failed %v after the first, want the 1 s retry delay", d)
		}
	})
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventResolveFailed: "resolve_failed", EventWatchFailed: "watch_failed", EventRecovered: "recovered",
		0: "EventKind(0)", 200: "EventKind(200)",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
