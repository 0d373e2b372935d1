package lbhttp

import (
	"fmt"
	"net/http"
)

// DefaultClassify is the outcome Transport reports when Classify is nil: a
// transport error is a failure (the error itself), a 5xx status is a
// failure (an error naming the status), anything else a success. A
// Classify of one's own can call it for the cases it does not change, as
// ExampleTransport does to count 429 as a failure.
func DefaultClassify(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	if resp != nil && resp.StatusCode >= 500 {
		return statusError(resp.StatusCode)
	}
	return nil
}

// statusError is the failure DefaultClassify reports for a 5xx status.
type statusError int

func (e statusError) Error() string {
	return fmt.Sprintf("lbhttp: status %d %s", int(e), http.StatusText(int(e)))
}
