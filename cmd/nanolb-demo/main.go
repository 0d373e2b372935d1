// Command nanolb-demo shows nanolb balancing real HTTP traffic and riding out
// real faults, beside bufbuild/httplb and a naive random client.
//
// It starts real HTTP servers on 127.0.0.1 that follow a fault script (the
// default, "mixed": one fast, one slow, one failing for a while then
// recovering, one dying, one flapping, one overloaded behind a concurrency
// limit), then, one phase per client, drives a bounded closed-loop load
// through each of nanolb's policies (lbhttp.Transport over an lb.Pool, with
// retries), through httplb, and through a client that picks a backend at
// random. Every phase restarts the backends and the script, so each client
// meets the same faults at the same moments.
//
// It prints a table per client (requests, errors seen by callers, p50, p99
// and p99.9 latency, each backend's share, ejections and probes) and writes
// one self-contained HTML report with, per client, the traffic share per
// backend over time, the latency percentiles over time, and the timeline of
// faults, ejections, probes and reinstatements, drawn with gonum/plot as
// inline SVG.
//
// Usage:
//
//	nanolb-demo [-scenario mixed|steady|outage|overload|gray|cold|tail|capacity] [-duration 4s] [-concurrency 16]
//	    [-clients all|p2c,round_robin,...,httplb,naive] [-max-requests 100000]
//	    [-buckets 40] [-poll 50ms] [-slow-start 20s,1%,0.5] [-hedge-after 10ms] [-hedge-extra-load 0.01]
//	    [-out out/demo/report.html]
//
// The overload scenario instead offers four backends of fixed capacity an
// open-loop load that rises past it, and prints each client's goodput.
// The gray scenario has one of ten backends fail a fifth of its requests at
// random, without retries, and prints what reached callers and that
// backend's share once outlier detection had a second to judge it. The cold
// scenario adds a sixth backend mid-phase that is slow for its first two
// seconds, and prints the callers' p99 before it joins and while it is
// slow, for P2C and least loaded without and with slow start. The tail
// scenario has one of five backends answer 1% of its requests after 200 ms,
// and prints the callers' p99.9 and what hedging cost for P2C without
// hedging, with a fixed hedge delay and at the 99th percentile. The
// capacity scenario has six backends of 1×, 2× and 4× the capacity report
// their utilization through lbhttp.ReportLoad under a steady open-loop
// load of 75% of their capacity, and prints each backend's utilization as
// its server measured it, for weighted round robin weighed by that load
// (lb.LoadWeights), P2C, weighted round robin with equal weights and
// least loaded.
//
// README.md in this directory describes the scenarios and the report.
//
// All traffic stays on the loopback interface; each phase is bounded by
// -duration and -max-requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"
)

// errFlag is wrapped by every error about a flag's value.
var errFlag = errors.New("nanolb-demo: invalid flag")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, errFlag) || errors.Is(err, errScenario) || errors.Is(err, errClient) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	opts     options
	scenario scenario
	clients  []clientSpec
	out      string
}

// parseFlags reads args into a config, rejecting out-of-range values.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("nanolb-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	scenarioName := fs.String("scenario", "mixed", "fault script: "+strings.Join(scenarioNames(), ", "))
	fs.DurationVar(&c.opts.Duration, "duration", 4*time.Second, "length of each client's phase (100ms to 10m; gray 10s, cold 5s, tail 12s, capacity 12s unless given)")
	fs.IntVar(&c.opts.Concurrency, "concurrency", 16, "callers sending at once (1 to 1024)")
	fs.IntVar(&c.opts.MaxRequests, "max-requests", 100000, "at most this many requests per phase (1 to 10,000,000)")
	fs.IntVar(&c.opts.Buckets, "buckets", 40, "time buckets per phase in the report's plots (4 to 1000)")
	fs.DurationVar(&c.opts.Poll, "poll", 50*time.Millisecond, "how often the timeline polls a nanolb pool (1ms to 1s)")
	clients := fs.String("clients", "all", "comma-separated clients: all, httplb, naive, or nanolb policies (p2c, round_robin, least_loaded, weighted_round_robin, peak_ewma, random, consistent_hash)")
	fs.StringVar(&c.out, "out", "out/demo/report.html", "where to write the HTML report")
	hedgeAfter := fs.Duration("hedge-after", tailHedgeAfter, "the hedge delay of the clients that hedge: fixed, or until the percentile is known (tail scenario; 100µs to 10s)")
	hedgeExtraLoad := fs.Float64("hedge-extra-load", tailHedgeExtraLoad, "the clients that hedge at a percentile hedge at the 1−x one, for about this share of extra requests (tail scenario; 0.001 to 0.5)")
	slowStart := fs.String("slow-start", "", "WINDOW[,MIN%[,AGGRESSION]]: the slow start of the clients that ramp (cold scenario; default "+slowStartString(coldSlowStart)+")")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errFlag, fs.Arg(0))
	}
	check := func(name string, ok bool, limits string) error {
		if !ok {
			return fmt.Errorf("%w: -%s must be %s", errFlag, name, limits)
		}
		return nil
	}
	if err := errors.Join(
		check("duration", c.opts.Duration >= 100*time.Millisecond && c.opts.Duration <= 10*time.Minute, "between 100ms and 10m"),
		check("concurrency", c.opts.Concurrency >= 1 && c.opts.Concurrency <= 1024, "between 1 and 1024"),
		check("max-requests", c.opts.MaxRequests >= 1 && c.opts.MaxRequests <= 10_000_000, "between 1 and 10,000,000"),
		check("buckets", c.opts.Buckets >= 4 && c.opts.Buckets <= 1000, "between 4 and 1000"),
		check("poll", c.opts.Poll >= time.Millisecond && c.opts.Poll <= time.Second, "between 1ms and 1s"),
		check("out", c.out != "", "a file path"),
		check("hedge-after", *hedgeAfter >= 100*time.Microsecond && *hedgeAfter <= 10*time.Second, "between 100µs and 10s"),
		check("hedge-extra-load", *hedgeExtraLoad >= 0.001 && *hedgeExtraLoad <= 0.5, "between 0.001 and 0.5"),
	); err != nil {
		return c, err
	}
	var err error
	if c.scenario, err = lookupScenario(*scenarioName); err != nil {
		return c, err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "duration" })
	if !given && c.scenario.Duration != 0 {
		c.opts.Duration = c.scenario.Duration
	}
	if d := c.scenario.minDuration(); c.opts.Duration < d {
		return c, fmt.Errorf("%w: -duration must be at least %v in scenario %s", errFlag, d, c.scenario.Name)
	}
	if c.scenario.Clients != nil && *clients == "all" {
		c.clients = slices.Clone(c.scenario.Clients)
	} else if c.clients, err = parseClients(strings.Split(*clients, ",")); err != nil {
		return c, err
	}
	for i := range c.clients {
		if c.clients[i].HedgeAfter != 0 {
			c.clients[i].HedgeAfter = *hedgeAfter
		}
		if c.clients[i].HedgeExtraLoad != 0 {
			c.clients[i].HedgeExtraLoad = *hedgeExtraLoad
		}
	}
	if *slowStart != "" {
		ss, err := parseSlowStart(*slowStart)
		if err != nil {
			return c, err
		}
		for i := range c.clients {
			if c.clients[i].SlowStart.Window != 0 {
				c.clients[i].SlowStart = ss
			}
		}
	}
	return c, nil
}

// run is the whole command: phases, table on stdout, progress on stderr,
// the report to the -out file.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	begin := time.Now()
	load := fmt.Sprintf("%d callers", c.opts.Concurrency)
	if rp := c.scenario.Ramp; rp != nil {
		load = fmt.Sprintf("open loop %.0f to %.0f requests/s", rp.From, rp.To)
		if rp.From == rp.To {
			load = fmt.Sprintf("open loop %.0f requests/s", rp.From)
		}
	}
	fmt.Fprintf(stderr, "nanolb-demo: scenario %q, %d clients, %v each, %s\n",
		c.scenario.Name, len(c.clients), c.opts.Duration, load)
	var results []*phaseResult
	var rows []summary
	for i, spec := range c.clients {
		bar := newProgressBar(stderr, tty, i+1, len(c.clients), spec.Label())
		r, err := runPhase(ctx, c.scenario, spec, c.opts, bar.update)
		if err != nil {
			bar.finish("stopped")
			return err
		}
		s := summarize(r)
		bar.finish(fmt.Sprintf("%d requests, %d errors", s.Requests, s.Errors))
		results = append(results, r)
		rows = append(rows, s)
	}
	fmt.Fprintf(stdout, "\nscenario %s: %s\n", c.scenario.Name, c.scenario.Describe)
	for _, b := range c.scenario.Backends {
		fmt.Fprintf(stdout, "  %-10s %s\n", b.Name, b.Role)
	}
	fmt.Fprintln(stdout)
	writeTable(stdout, c.scenario.Backends, rows)
	if rp := c.scenario.Ramp; rp != nil && rp.To > c.scenario.capacity() {
		capacity := c.scenario.capacity()
		from := rp.overloadedFrom(capacity) * c.opts.Duration.Seconds()
		fmt.Fprintf(stdout, "\ngoodput: successful responses completed a second; overloaded: from %.2f s on, when more than the capacity of %.0f/s is offered; latencies of successes only.\n\n", from, capacity)
		var g []goodput
		for _, r := range results {
			g = append(g, summarizeGoodput(r, capacity, from))
		}
		writeGoodputTable(stdout, g)
	}
	if b := c.scenario.grayBackend(); b >= 0 {
		fmt.Fprintf(stdout, "\ngray: %s fails %d%% of its requests at random; no retries. err %%: what callers saw; gray share: of the requests the backends received, from %g s on; ejections of %s as the timeline saw them.\n\n",
			c.scenario.Backends[b].Name, c.scenario.Backends[b].FailPercent, grayAfter, c.scenario.Backends[b].Name)
		var g []grayRow
		for _, r := range results {
			g = append(g, summarizeGray(r, b))
		}
		writeGrayTable(stdout, g)
	}
	if b := c.scenario.joiningBackend(); b >= 0 {
		spec := c.scenario.Backends[b]
		fmt.Fprintf(stdout, "\ncold: %s joins at %v and answers in %v until %v. before: requests started in the %v before it joins; cold: started while it is slow.\n\n",
			spec.Name, spec.Join, spec.ColdDelay, spec.Join+spec.Cold, coldBefore)
		var rows []coldRow
		for _, r := range results {
			rows = append(rows, summarizeCold(r, b))
		}
		writeColdTable(stdout, rows)
	}
	if b := c.scenario.tailBackend(); b >= 0 {
		spec := c.scenario.Backends[b]
		slowAt := spec.SlowDelay / 2
		fmt.Fprintf(stdout, "\ntail: %s answers %d%% of its requests after %v. p99.9 gain: nanolb p2c's p99.9 without hedging over this one's. slow drawn: requests it drew to answer slowly; slow answered: of those, answered rather than cancelled by a hedge that won; callers ≥ %v: requests whose callers waited that long; extra: requests the backends received past one per request; in flight after: the pool's leases not ended after the phase; last, whether a client that hedges met issue 30's target.\n\n",
			spec.Name, spec.SlowPercent, spec.SlowDelay, slowAt)
		var rows []tailRow
		for _, r := range results {
			rows = append(rows, summarizeTail(r, b))
		}
		writeTailTable(stdout, slowAt, rows)
	}
	if warmup := c.scenario.warmupFor(c.opts.Duration); c.scenario.reportingBackend() >= 0 && warmup > 0 {
		fmt.Fprintf(stdout, "\ncapacity: from %v to the phase's end. util: the share of a backend's workers busy, measured at the server; max/mean: the busiest backend's over the mean; share: of the requests the backends received; latencies: of requests started then, errors included; p99/P2C: over nanolb p2c's; last, whether a client met issue 32's targets. Load weights: %s.\n\n",
			warmup, loadWeightsString(demoLoadWeights))
		var rows []capacityRow
		for _, r := range results {
			rows = append(rows, summarizeCapacity(r, warmup))
		}
		writeCapacityTable(stdout, c.scenario.Backends, rows)
	}
	page, err := renderReport(c.scenario, c.opts, results, rows)
	if err != nil {
		return err
	}
	if err := writeReport(c.out, page); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nerrors: what callers saw after retries; share: of requests the backends received.\nreport: %s (%.1f s in all)\n", c.out, time.Since(begin).Seconds())
	return nil
}
