// Package lbhttp puts an lb.Pool under net/http: a Transport that picks an
// endpoint for each request, sends it there, reports how it went, and
// retries failed idempotent requests on another endpoint.
//
// Settings are Transport's fields, as with net/http's Transport: set them
// before the first request; a zero field means its default. There are no
// functional options.
//
// # Model
//
// For each attempt the Transport leases an endpoint from its pool, replaces
// the host of the request's URL with the endpoint's address (scheme, path
// and query stay) and sends the request through its Base round tripper.
// The lease ends exactly once:
//
//   - on a transport error, at once;
//   - otherwise when the response body is read to EOF, fails, or is closed,
//     whichever comes first; a response that has no body (to HEAD, a 204
//     or 304 status, http.NoBody) ends it at once.
//
// A 101 Switching Protocols response's body stays an io.ReadWriteCloser
// (the upgraded connection), and closing it ends the lease.
//
// So a request counts as in flight on its endpoint until the caller is done
// with the response, as the pool's load-aware policies need, and it counts
// once: a caller that closes the body twice, or reads past EOF, ends
// nothing more.
//
// # Outcomes
//
// Classify turns each attempt into the outcome passed to lb.Lease.Done.
// By default (DefaultClassify) a transport error and a 5xx status are
// failures and everything else succeeds. Whatever Classify says, a
// transport error after the request's context ended is neutral (neither
// success nor failure) if the context was cancelled and a failure if its
// deadline passed, as the endpoint held the attempt past it; a response
// that came is judged by Classify even if the context ended since. An
// error while reading the body is a failure, or neutral when the context
// was cancelled. No attempt is sent once the context has ended, so an
// endpoint is never charged for a request it did not get.
//
// # Retries
//
// A failed attempt is retried, up to MaxAttempts in all, when the request
// may be sent twice (GET, HEAD, OPTIONS, TRACE, an Idempotency-Key header,
// or any method with RetryNonIdempotent), its body can be replayed (no
// body, or Request.GetBody set), its context is live, and the retry budget
// has a token. A retry goes to an endpoint this request has not tried
// while one is up (lb.Pool.PickExcept). Before the retry is sent, the
// failed attempt's response body is closed and its lease ended. An HTTP/1
// body is read first, so that its connection can be reused, but only up
// to 64 KiB and for at most 10 ms: a body announced longer is closed at
// once and one slower to come when the 10 ms are up, which costs the
// connection and not the caller's deadline (an HTTP/2 body is closed at
// once: closing a stream keeps its connection). If the request's context
// ends before the retry is sent, nothing more is sent and RoundTrip
// returns the context's error (the failed response is closed by then).
// When retries run out, the caller gets the last attempt's response or
// error, exactly as without a balancer: a 5xx is a response, not an error.
//
// The retry budget keeps retries from multiplying an outage, as Envoy's and
// Finagle's budgets do: each request adds RetryRatio of a token to a
// bucket (0.2: retries may add 20% to the load), the bucket also refills at
// RetryMinPerSecond tokens a second so a quiet client can still retry, and
// each retry takes a whole token, given back if the retry is not sent (no
// endpoint to take it, or the context ended). The bucket holds at most ten
// seconds of RetryMinPerSecond and starts full.
//
// # Hedging
//
// With Transport.HedgeAfter or HedgeExtraLoad, a request that may be
// retried (the rule above) and has not answered within the hedge delay is
// sent again, as a hedge, to an endpoint it has not tried, up to MaxHedges
// attempts in flight ("The Tail at Scale"; Finagle's backup requests). The
// delay is HedgeAfter, or the latency percentile that costs about
// HedgeExtraLoad extra requests (0.01: the 99th percentile of the
// Transport's recent first attempts; HedgeAfter until enough are seen).
// The first attempt to succeed, or to end with an outcome that is not a
// retryable failure, answers the request; the attempts still in flight are
// cancelled and their leases end as cancelled, never as failures: losing a
// race says nothing of an endpoint (they end when the cancelled attempts
// come back, just after RoundTrip returns). An attempt that fails while
// another is in flight ends with its failure, and its place may take a
// hedge after the delay; one that fails alone is retried at once as above.
// A request the budget refuses a hedge hedges no more. Hedges and retries take
// tokens from the same budget and count against the same MaxAttempts, so
// in an outage where every endpoint is slow hedges add at most the budget's
// share. HedgeStats counts hedges sent, hedges that won and hedges the
// budget refused. A request that may not be retried is never hedged; send
// an Idempotency-Key header to hedge a POST.
//
// # Waiting for capacity
//
// A pool with lb.Config.MaxConcurrency leases no endpoint past its limit.
// By default a request that finds every endpoint at it fails at once;
// with Transport.Wait its first attempt queues in the pool
// (lb.Pool.PickWait) until a lease frees or the request's context ends.
// Only the first attempt waits: a retry takes room elsewhere or is not
// sent. Wait is a choice, not inferred from the pool, because failing fast
// and queueing both have their callers: a proxy that sheds load wants the
// error, a batch client wants the wait.
//
// # Throttling
//
// With Transport.Throttle, a client whose endpoints reject attempts as
// overloaded sheds attempts itself before they reach the wire, by the
// client-side adaptive throttling of the Google SRE book ("Handling
// Overload"): over the last two minutes it counts attempts and accepts,
// and refuses an attempt with probability max(0, (attempts − K × accepts)
// ÷ (attempts + 1)), K being ThrottleK (2 by default). So while endpoints
// accept fewer than one attempt in K, what is sent falls to about K times
// what they accept, and the endpoints spend little on rejections.
// Transport.ThrottleStats reads the counts (lbprom.NewThrottleCollector
// exports them).
//
// Every attempt counts, retries included. A 429 or 503 response and a
// transport error (an endpoint that cannot be reached takes nothing) are
// rejections; any other response, a 500 among them, is an accept: the
// endpoint did the work. An attempt not sent (no endpoint to lease, the
// context ended before it went) and a transport error after the context
// ended count for nothing. A refused first attempt fails with an error
// wrapping ErrThrottled and leases nothing, so no endpoint is charged; a
// refused retry is not sent, and the caller gets the attempt before, as
// when the retry budget is out. Refused attempts count as attempts, so a
// client whose endpoints accept nothing sends almost nothing until they
// do; the option costs a clock read per attempt, and nothing when off.
//
// # Load reports
//
// A backend can tell its clients how loaded it is in an
// endpoint-load-metrics response header, in the fields of ORCA's load
// report (gRFC A51) as Envoy's client_side_weighted_round_robin reads
// them:
//
//	Endpoint-Load-Metrics: TEXT cpu_utilization=0.3, application_utilization=0.5, rps_fractional=120, eps=2
//
// The Transport reads the header of every attempt's response, retries' and
// hedges' included, and passes the report to that attempt's lease
// (lb.Lease.ReportLoad): rps_fractional becomes lb.Load.RPS, eps EPS, and
// cpu_utilization, mem_utilization and application_utilization the
// utilizations. A pool with lb.Config.LoadWeights weighs its endpoints by
// these reports; any other pool ignores them. The TEXT and JSON formats
// are read (JSON with the proto3 field names, lowerCamel or snake_case);
// named metrics and names not known are skipped. A header that cannot be
// read (malformed, a negative, NaN or infinite value, or the BIN protobuf
// format, which this module does not read) never fails a request: the
// report is dropped and Transport.LoadReportErrors counts it. A response
// without the header costs one map lookup.
//
// On the server side, ReportLoad wraps a handler to write the header on
// every response: utilizations from a function of the server's choosing,
// and, unless that function gives them, the handler's own requests and
// 5xx answers per second over the last LoadReportWindow.
//
// # Errors
//
// When the first attempt gets no lease, RoundTrip sends nothing and
// returns an error saying why, wrapping lb's: lb.ErrSaturated (every
// endpoint at its limit, without Wait), lb.ErrQueueFull
// (lb.Config.MaxWaiters requests wait already), lb.ErrShed (the request
// waited past lb.Config.WaitTarget in a standing queue), lb.ErrClosed
// (the pool was closed while or before the request waited), the context's
// error (context.DeadlineExceeded also when lb.Config.MaxWait ran out),
// or lb.ErrNoEndpoint; a request the throttle refused returns an error
// wrapping ErrThrottled. When the request's context has ended before an
// attempt is sent (a deadline that passes as Wait's lease is granted, or
// while a failed response is closed before its retry), RoundTrip sends
// nothing more and returns an error wrapping the context's error.
// http.Client wraps these errors in a *url.Error; errors.Is sees through
// both.
package lbhttp
