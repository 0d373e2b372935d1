package lbprom

import "github.com/prometheus/client_golang/prometheus"

// The metrics' descriptions, one per family; the package doc lists them.
var (
	poolLabels     = []string{"pool"}
	endpointLabels = []string{"pool", "endpoint"}

	descPoolInfo = prometheus.NewDesc("nanolb_pool_info",
		"Always 1, with the pool's load-balancing policy as a label.", []string{"pool", "policy"}, nil)
	descPoolEndpoints = prometheus.NewDesc("nanolb_pool_endpoints",
		"Endpoints in the pool, whatever their state.", poolLabels, nil)
	descPoolWaiting = prometheus.NewDesc("nanolb_pool_waiting",
		"PickWait callers queued for a lease now (admission under MaxConcurrency).", poolLabels, nil)
	descPoolGrants = prometheus.NewDesc("nanolb_pool_wait_grants_total",
		"Leases handed to queued PickWait callers.", poolLabels, nil)
	descPoolTimeouts = prometheus.NewDesc("nanolb_pool_wait_timeouts_total",
		"PickWait calls that ended without a lease, by their context or MaxWait.", poolLabels, nil)
	descPoolQueueFull = prometheus.NewDesc("nanolb_pool_wait_queue_full_total",
		"PickWait calls refused at once because MaxWaiters callers were queued.", poolLabels, nil)
	descPoolShed = prometheus.NewDesc("nanolb_pool_wait_shed_total",
		"PickWait calls failed with ErrShed: older than WaitTarget in a standing queue.", poolLabels, nil)
	descSubsetEndpoints = prometheus.NewDesc("nanolb_pool_subset_endpoints",
		"A subsetting pool's endpoints by kind: given (by discovery, members or not), members, and extra (members from outside the subset standing in for ejected ones); absent without Config.Subset.",
		[]string{"pool", "kind"}, nil)
	descZoneRouting = prometheus.NewDesc("nanolb_pool_zone_routing",
		"1 while the pool routes picks by zone, 0 while zone-blind (too few endpoints up, panic mode, no endpoint in the local zone); absent without Config.Zones.",
		[]string{"pool", "local_zone"}, nil)
	descZoneShare = prometheus.NewDesc("nanolb_pool_zone_pick_share",
		"The share of the pool's unkeyed picks routed to each zone (0..1), the local one included, while it routes by zone.",
		[]string{"pool", "zone"}, nil)
	descPoolSaturations = prometheus.NewDesc("nanolb_pool_saturations_total",
		"Picks that found every endpoint that is up at MaxConcurrency (ErrSaturated).", poolLabels, nil)

	descInFlight = prometheus.NewDesc("nanolb_endpoint_in_flight",
		"Leases on the endpoint not yet ended with Done.", endpointLabels, nil)
	descState = prometheus.NewDesc("nanolb_endpoint_state",
		"1 for the endpoint's passive-health state (up, ejected or probing), 0 for the others.",
		[]string{"pool", "endpoint", "state"}, nil)
	descStreak = prometheus.NewDesc("nanolb_endpoint_failure_streak",
		"The endpoint's consecutive failed requests now, ended by a success (the core keeps no failure total).",
		endpointLabels, nil)
	descConsecutiveEjections = prometheus.NewDesc("nanolb_endpoint_consecutive_ejections",
		"The endpoint's ejections in a row without a success; each doubles the cooldown.", endpointLabels, nil)
	descWeight = prometheus.NewDesc("nanolb_endpoint_weight",
		"The endpoint's weight (WeightedRoundRobin follows it).", endpointLabels, nil)
	descLimit = prometheus.NewDesc("nanolb_endpoint_concurrency_limit",
		"The endpoint's concurrency limit now: MaxConcurrency, or under AdaptiveConcurrency the limit its latency set; absent without a limit.",
		endpointLabels, nil)
	descLoadWeight = prometheus.NewDesc("nanolb_endpoint_load_weight",
		"The weight lb.LoadWeights gives the endpoint from its load reports, RPS / (utilization + EPS/RPS × penalty), or the mean of the others' while it has none; absent while no load weight is in force (without LoadWeights, during the blackout, with fewer than two endpoints weighted).",
		endpointLabels, nil)

	descSuccessRate = prometheus.NewDesc("nanolb_endpoint_success_rate",
		"Share of the endpoint's requests that succeeded (0..1) in the last interval outlier detection evaluated with requests on it; absent until the pool's first evaluation.",
		endpointLabels, nil)
	descIntervalRequests = prometheus.NewDesc("nanolb_endpoint_interval_requests",
		"The endpoint's requests, cancelled ones not counted, in the last interval outlier detection evaluated; absent until the pool's first evaluation.",
		endpointLabels, nil)

	descEjections = prometheus.NewDesc("nanolb_endpoint_ejections_total",
		"Ejections of the endpoint, after EjectAfter failures, a failed probe or as an outlier, seen since the collector started.",
		endpointLabels, nil)
	descOutlierEjections = prometheus.NewDesc("nanolb_endpoint_outlier_ejections_total",
		"Ejections of the endpoint by outlier detection, by reason (success_rate, failure_percentage), seen since the collector started; absent until the pool's first evaluation.",
		[]string{"pool", "endpoint", "reason"}, nil)
	descRefused = prometheus.NewDesc("nanolb_endpoint_ejections_refused_total",
		"Ejections the MaxEjectedPercent cap refused (the endpoint stayed up), seen since the collector started.",
		endpointLabels, nil)
	descProbes = prometheus.NewDesc("nanolb_endpoint_probes_total",
		"Probe leases handed out for the ejected endpoint, seen since the collector started.", endpointLabels, nil)
	descProbeFailures = prometheus.NewDesc("nanolb_endpoint_probe_failures_total",
		"Probes of the endpoint that failed (an ejection follows), seen since the collector started.",
		endpointLabels, nil)
	descProbeTimeouts = prometheus.NewDesc("nanolb_endpoint_probe_timeouts_total",
		"Probe windows of the endpoint that ended without an outcome, seen since the collector started.",
		endpointLabels, nil)
	descReinstatements = prometheus.NewDesc("nanolb_endpoint_reinstatements_total",
		"Successful probes that put the endpoint back up, seen since the collector started.", endpointLabels, nil)

	descDropped = prometheus.NewDesc("nanolb_events_dropped_total",
		"Pool events the collector lost because it fell behind; the event counters miss them.", nil, nil)

	allDescs = []*prometheus.Desc{
		descPoolInfo, descPoolEndpoints, descPoolWaiting, descPoolGrants, descPoolTimeouts, descPoolQueueFull, descPoolShed,
		descPoolSaturations, descSubsetEndpoints, descZoneRouting, descZoneShare, descInFlight, descState, descStreak, descConsecutiveEjections, descWeight, descLimit, descLoadWeight,
		descSuccessRate, descIntervalRequests, descEjections, descOutlierEjections, descRefused, descProbes, descProbeFailures, descProbeTimeouts, descReinstatements,
		descDropped,
	}
)

// throttleDescs are a throttle collector's descriptions, with the
// throttle's name as a constant label.
func throttleDescs(name string) (requests, accepts, rejected *prometheus.Desc) {
	l := prometheus.Labels{"throttle": name}
	requests = prometheus.NewDesc("nanolb_throttle_requests",
		"Requests the client-side throttle counted over its two-minute window, those it rejected included.", nil, l)
	accepts = prometheus.NewDesc("nanolb_throttle_accepts",
		"Requests the backends accepted over the client-side throttle's two-minute window.", nil, l)
	rejected = prometheus.NewDesc("nanolb_throttle_rejected_total",
		"Requests the client-side throttle rejected locally, never sent, since it started.", nil, l)
	return requests, accepts, rejected
}

// hedgeDescs are a hedge collector's descriptions, with the hedger's name
// as a constant label.
func hedgeDescs(name string) (sent, won, refused *prometheus.Desc) {
	l := prometheus.Labels{"hedger": name}
	sent = prometheus.NewDesc("nanolb_hedges_sent_total",
		"Hedges sent: copies of a request started because the attempts in flight had not answered within the hedge delay.", nil, l)
	won = prometheus.NewDesc("nanolb_hedges_won_total",
		"Requests a hedge answered first, with success.", nil, l)
	refused = prometheus.NewDesc("nanolb_hedges_refused_total",
		"Hedges not sent because the retry budget was empty.", nil, l)
	return sent, won, refused
}
