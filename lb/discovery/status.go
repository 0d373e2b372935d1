package discovery

import "time"

// Phase is where a Runner is in its schedule.
type Phase uint8

// Runner phases.
const (
	// PhaseStartup is the first Config.StartupFor after Start: resolves
	// every Config.StartupEvery.
	PhaseStartup Phase = iota // startup
	// PhaseRegular follows: resolves every Config.Every.
	PhaseRegular // regular
	// PhaseClosed is a Runner after Close.
	PhaseClosed // closed
)

// Status is a snapshot of a Runner, as returned by Runner.Status.
type Status struct {
	Phase Phase
	// Resolving is true while a resolve runs.
	Resolving bool
	// LastAttempt is when the latest resolve started; zero before the first.
	LastAttempt time.Time
	// LastSuccess is when the latest resolve whose answer was applied
	// ended; zero before the first.
	LastSuccess time.Time
	// LastError is the latest failed resolve's error, wrapping ErrResolve;
	// nil after a success.
	LastError error
	// Failures counts failed resolves in a row; a success resets it.
	Failures int
	// Endpoints is the size of the set last applied to the target.
	Endpoints int
	// NextAttempt is when the next scheduled resolve starts (ResolveNow
	// may start one sooner); zero while a resolve runs and after Close.
	NextAttempt time.Time
	// WatchError is the latest failed Watch's error, wrapping ErrResolve,
	// when the Resolver is a Watcher; nil while none failed.
	WatchError error
}
