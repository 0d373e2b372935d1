package lb_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nanolb/nanolb/lb"
)

func Example() {
	pool, err := lb.New(lb.Config{Policy: lb.RoundRobin}, "10.0.0.1:8080", "10.0.0.2:8080")
	if err != nil {
		panic(err)
	}
	for range 3 {
		lease, err := pool.Pick()
		if err != nil {
			panic(err)
		}
		fmt.Println("send to", lease.Endpoint())
		lease.Done(nil) // the request succeeded
	}
	// Output:
	// send to 10.0.0.1:8080
	// send to 10.0.0.2:8080
	// send to 10.0.0.1:8080
}

// Failures eject an endpoint; Pick then goes to the others until its
// cooldown ends and a probe lets it back in.
func ExampleLease_Done() {
	pool, _ := lb.New(lb.Config{Policy: lb.RoundRobin, EjectAfter: 2, EjectFor: time.Second, MaxEjectedPercent: 50},
		"good:80", "bad:80")
	for failures := 0; failures < 2; {
		lease, _ := pool.Pick()
		if lease.Endpoint() == "bad:80" {
			lease.Done(errors.New("connection refused"))
			failures++
			continue
		}
		lease.Done(nil)
	}
	for _, e := range pool.Endpoints() {
		fmt.Println(e.Addr, e.State, "streak", e.Streak)
	}
	lease, _ := pool.Pick()
	fmt.Println("next pick:", lease.Endpoint())
	lease.Done(nil)
	// Output:
	// good:80 up streak 0
	// bad:80 ejected streak 2
	// next pick: good:80
}

func ExamplePool_Add() {
	pool, _ := lb.New(lb.Config{}, "10.0.0.1:8080")
	_ = pool.Add("10.0.0.2:8080", "10.0.0.1:8080") // the present address is left as it is
	_ = pool.Remove("10.0.0.1:8080")
	for _, e := range pool.Endpoints() {
		fmt.Println(e.Addr, e.State)
	}
	err := pool.Add("")
	fmt.Println(errors.Is(err, lb.ErrAddress))
	// Output:
	// 10.0.0.2:8080 up
	// true
}

func ExampleRegistry() {
	reg := lb.NewRegistry()
	// Ensure is create-once: calling it on every request is cheap and never
	// undoes a Remove or a config.
	if _, err := reg.Ensure("users", lb.Config{}, "10.0.0.1:8080"); err != nil {
		panic(err)
	}
	pool, ok := reg.Get("users")
	if !ok {
		panic("no users pool")
	}
	lease, err := pool.Pick()
	if err != nil {
		panic(err)
	}
	fmt.Println(lease.Endpoint())
	lease.Done(nil)

	_, ok = reg.Get("orders")
	fmt.Println(ok)
	// Output:
	// 10.0.0.1:8080
	// false
}

// PickWait waits for a slot instead of failing when every endpoint is at
// Config.MaxConcurrency, first in first out, up to its context's deadline.
func ExamplePool_PickWait() {
	pool, _ := lb.New(lb.Config{MaxConcurrency: 1}, "10.0.0.1:8080")
	first, _ := pool.Pick()
	_, err := pool.Pick()
	fmt.Println(errors.Is(err, lb.ErrSaturated))

	go func() {
		time.Sleep(10 * time.Millisecond) // the first request finishes
		first.Done(nil)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	second, err := pool.PickWait(ctx) // handed the slot first.Done frees
	fmt.Println(second.Endpoint(), err)
	second.Done(nil)
	fmt.Println(pool.Stats().Grants)
	// Output:
	// true
	// 10.0.0.1:8080 <nil>
	// 1
}

// Subscribe delivers what happened, in batches, without ever slowing the
// pool down.
func ExamplePool_Subscribe() {
	pool, _ := lb.New(lb.Config{EjectAfter: 1, MaxEjectedPercent: 50}, "10.0.0.1:8080", "10.0.0.2:8080")
	sub, err := pool.Subscribe(lb.SubscribeOptions{Interval: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for {
		lease, _ := pool.Pick()
		if lease.Endpoint() == "10.0.0.2:8080" {
			lease.Done(errors.New("connection refused"))
			break
		}
		lease.Done(nil)
	}
	batch := <-sub.C()
	for _, e := range batch.Events {
		fmt.Println(e.Kind, e.Addr, "streak", e.Streak, "dropped", batch.Dropped)
	}
	// Output:
	// ejected 10.0.0.2:8080 streak 1 dropped 0
}

// A Shard pool sends every key to its one shard, and ErrShardDown while
// that shard is out; Scatter asks every shard at once.
func ExampleScatter() {
	shards, _ := lb.New(lb.Config{Policy: lb.Shard}, "shard-0:7000", "shard-1:7000", "shard-2:7000")
	lease, err := shards.PickKey("instance-42")
	if err != nil {
		panic(err) // errors.Is(err, lb.ErrShardDown) while its shard is out
	}
	fmt.Println("instance-42 lives on", lease.Endpoint())
	lease.Done(nil)

	results, err := lb.Scatter(context.Background(), shards, func(ctx context.Context, endpoint string) (string, error) {
		return "count from " + endpoint, nil // a real call would ask the shard
	}, lb.ScatterOptions{})
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Println(r.Value)
	}
	// Output:
	// instance-42 lives on shard-2:7000
	// count from shard-0:7000
	// count from shard-1:7000
	// count from shard-2:7000
}

// An explicit layout fixes the shard numbers: a shard whose address is not
// in the pool (here, one discovery dropped) is empty, its keys get
// ErrShardDown, and no other key moves.
func ExampleNewShardLayout() {
	layout, err := lb.NewShardLayout("db-0:5432", "db-1:5432", "db-2:5432")
	if err != nil {
		panic(err)
	}
	pool, _ := lb.New(lb.Config{Policy: lb.Shard, Shards: layout, MaxEjectedPercent: 100}, "db-0:5432", "db-2:5432")
	for _, key := range []string{"user-1", "user-2", "user-3"} {
		lease, err := pool.PickKey(key)
		if errors.Is(err, lb.ErrShardDown) {
			fmt.Println(key, "-> its shard is down")
			continue
		}
		fmt.Println(key, "->", lease.Endpoint())
		lease.Done(nil)
	}
	// Output:
	// user-1 -> db-0:5432
	// user-2 -> its shard is down
	// user-3 -> db-2:5432
}

// A backend that fails a fifth of its requests at random rarely fails five
// in a row, so consecutive failures miss it; outlier detection (on by
// default, here judged every half second) ejects it by its success rate.
func ExampleOutlier() {
	addrs := make([]string, 10)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.0.%d:8080", i+1)
	}
	pool, err := lb.New(lb.Config{Policy: lb.RoundRobin, Outlier: lb.Outlier{Interval: 500 * time.Millisecond}}, addrs...)
	if err != nil {
		panic(err)
	}
	gray, served := addrs[9], 0
	for range 2000 {
		l, _ := pool.Pick()
		if l.Endpoint() == gray {
			if served++; served%5 == 0 {
				l.Done(errors.New("500"))
				continue
			}
		}
		l.Done(nil)
	}
	time.Sleep(600 * time.Millisecond)
	for { // the next failure after the interval runs the evaluation
		l, _ := pool.Pick()
		if l.Endpoint() == gray {
			l.Done(errors.New("500"))
			break
		}
		l.Done(nil)
	}
	for _, e := range pool.Endpoints() {
		if e.State != lb.Up {
			fmt.Printf("%s %v by %v: %.0f%% of %d requests succeeded\n", e.Addr, e.State, e.Reason, 100*e.SuccessRate, e.Requests)
		}
	}
	// Output:
	// 10.0.0.10:8080 ejected by success_rate: 80% of 201 requests succeeded
}

// Slow start ramps an endpoint that joins a serving pool from a tenth of
// its share; the pool's first endpoints do not ramp.
func ExampleSlowStart() {
	pool, err := lb.New(lb.Config{Policy: lb.Random, SlowStart: lb.SlowStart{Window: time.Minute}}, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	time.Sleep(1100 * time.Millisecond) // joining a pool that has served a second
	_ = pool.Add("10.0.0.4:8080")
	newcomer := 0
	for range 100000 {
		l, _ := pool.Pick()
		if l.Endpoint() == "10.0.0.4:8080" {
			newcomer++
		}
		l.Done(nil)
	}
	fmt.Println("newcomer's share under 5%:", newcomer < 5000, "(a full share would be 25%)")
	// Output:
	// newcomer's share under 5%: true (a full share would be 25%)
}

// LoadWeights gives each endpoint a share of picks in proportion to the
// capacity its load reports imply, RPS / utilization: here 100, 200 and
// 400 requests a second at full load. The blackout is shortened from its
// 10 s default for the example.
func ExampleLoadWeights() {
	pool, err := lb.New(lb.Config{
		Policy:      lb.WeightedRoundRobin,
		LoadWeights: lb.LoadWeights{Enabled: true, BlackoutPeriod: time.Millisecond, UpdatePeriod: 100 * time.Millisecond},
	}, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080")
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	capacity := map[string]float64{"10.0.0.1:8080": 100, "10.0.0.2:8080": 200, "10.0.0.3:8080": 400}
	for reported := map[string]bool{}; len(reported) < 3; { // answers from each, with their load reports
		lease, _ := pool.Pick()
		reported[lease.Endpoint()] = true
		lease.ReportLoad(lb.Load{RPS: capacity[lease.Endpoint()] / 2, CPUUtilization: 0.5})
		lease.Done(nil)
	}
	time.Sleep(300 * time.Millisecond) // an update after the blackout
	picks := map[string]int{}
	for range 70000 {
		lease, _ := pool.Pick()
		picks[lease.Endpoint()]++
		lease.Done(nil)
	}
	for _, e := range pool.Endpoints() {
		fmt.Printf("%s weight %.0f, %.1f%% of picks\n", e.Addr, e.LoadWeight, 100*float64(picks[e.Addr])/70000)
	}
	// Output:
	// 10.0.0.1:8080 weight 100, 14.3% of picks
	// 10.0.0.2:8080 weight 200, 28.6% of picks
	// 10.0.0.3:8080 weight 400, 57.1% of picks
}
