package lbprom

import "errors"

// ErrOption wraps every rejection of an argument to NewCollector,
// NewPoolCollector, NewThrottleCollector or NewHedgeCollector: a nil
// registry or pool, an empty pool, throttle or hedger name, a nil stats
// function, or subscription options lb rejects (then lb.ErrConfig is
// wrapped too).
var ErrOption = errors.New("lbprom: invalid option")
