package main

import (
	"context"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// eventKind is a change in an endpoint's health as the timeline sees it.
type eventKind uint8

const (
	evEject     eventKind = iota + 1 // taken out for a cooldown
	evProbe                          // a probe lease was handed out
	evReinstate                      // a probe succeeded: back in
)

// event is one change of one backend, At seconds into the phase. An
// ejection carries the pool's reason for it.
type event struct {
	At      float64
	Backend int
	Kind    eventKind
	Reason  lb.EjectReason // evEject only
}

// stateSample is every backend's state at one poll, At seconds into the phase.
type stateSample struct {
	At     float64
	States []lb.State
}

// timeline records a nanolb pool's ejections, probes and reinstatements.
//
// It polls Pool.Endpoints every interval and infers the changes between
// two polls from State and Until, so a probe that starts and ends between
// two polls is still counted (as a probe and a reinstatement, or a probe and
// an ejection when the cooldown was renewed).
//
// EVENTS API: when lb's Pool.Subscribe lands, record events from it here
// instead of polling; the samples can stay for the state bands.
type timeline struct {
	samples []stateSample
	events  []event
}

// count returns how many events of kind k the timeline holds.
func (t *timeline) count(k eventKind) int {
	n := 0
	for _, e := range t.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// pollTimeline polls pool until ctx is done and returns what it saw. addrs
// gives each backend's index; start is the phase's time zero.
func pollTimeline(ctx context.Context, pool *lb.Pool, addrs []string, start time.Time, every time.Duration) *timeline {
	index := make(map[string]int, len(addrs))
	for i, a := range addrs {
		index[a] = i
	}
	t := &timeline{}
	prev := make([]lb.EndpointStatus, len(addrs))
	for i := range prev {
		prev[i].State = lb.Up
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		now := time.Now()
		at := now.Sub(start).Seconds()
		sample := stateSample{At: at, States: make([]lb.State, len(addrs))}
		for _, st := range pool.Endpoints() {
			i, ok := index[st.Addr]
			if !ok {
				continue
			}
			sample.States[i] = st.State
			t.events = append(t.events, transitions(prev[i], st, i, at)...)
			prev[i] = st
		}
		t.samples = append(t.samples, sample)
		select {
		case <-ctx.Done():
			return t
		case <-tick.C:
		}
	}
}

// transitions infers the events between two snapshots of backend i.
func transitions(was, is lb.EndpointStatus, i int, at float64) []event {
	ev := func(kinds ...eventKind) []event {
		out := make([]event, len(kinds))
		for j, k := range kinds {
			out[j] = event{At: at, Backend: i, Kind: k}
			if k == evEject {
				out[j].Reason = is.Reason
			}
		}
		return out
	}
	switch was.State {
	case lb.Up:
		switch is.State {
		case lb.Ejected:
			return ev(evEject)
		case lb.Probing:
			return ev(evEject, evProbe)
		}
	case lb.Ejected:
		switch is.State {
		case lb.Up:
			return ev(evProbe, evReinstate)
		case lb.Probing:
			return ev(evProbe)
		case lb.Ejected:
			if !is.Until.Equal(was.Until) { // a probe failed between polls
				return ev(evProbe, evEject)
			}
		}
	case lb.Probing:
		switch is.State {
		case lb.Up:
			return ev(evReinstate)
		case lb.Ejected:
			return ev(evEject)
		case lb.Probing:
			if !is.Until.Equal(was.Until) { // a new probe lease
				return ev(evProbe)
			}
		}
	}
	return nil
}
