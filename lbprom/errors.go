package lbprom

import "errors"

// ErrOption wraps every rejection of an argument to NewCollector or
// NewPoolCollector: a nil registry or pool, an empty pool name, or
// subscription options lb rejects (then lb.ErrConfig is wrapped too).
var ErrOption = errors.New("lbprom: invalid option")
