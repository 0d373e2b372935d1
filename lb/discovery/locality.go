package discovery

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nanolb/nanolb/lb"
)

// The environment variables LocalityFromEnv reads.
const (
	// EnvZone is this client's zone, for lb.Zones.Local.
	EnvZone = "NANOLB_ZONE"
	// EnvClientIndex is this client's index in its fleet, a decimal
	// integer, for lb.Subset.Client.
	EnvClientIndex = "NANOLB_CLIENT_INDEX"
)

// Locality is this client's place in its fleet, as LocalityFromEnv reads
// it: its zone and its index among the fleet's clients.
type Locality struct {
	// Zone is the client's zone, for lb.Zones.Local; "" if unknown.
	Zone string
	// Client is the client's index, for lb.Subset.Client; meaningful only
	// when HasClient.
	Client uint64
	// HasClient reports whether an index was found.
	HasClient bool
}

// testHookHostname, when set, stands in for os.Hostname.
var testHookHostname func() (string, error)

// LocalityFromEnv reads this client's Locality from the environment, so a
// deployment sets a client's zone and index without code of its own.
//
// Zone is NANOLB_ZONE; unset or empty means "". It must be valid UTF-8 of
// at most lb.MaxZoneLen bytes, without control characters or white space
// around it.
//
// Client is NANOLB_CLIENT_INDEX, a decimal integer in 0..2⁶⁴-1. When that
// is unset or empty, it is the number after the last '-' of the host
// name's first label, if it ends so, as a Kubernetes StatefulSet's pods
// do: host "users-3" (or "users-3.users.prod.svc") is client 3. Otherwise
// HasClient is false. A host name such as "ip-10-0-0-7" ends in a number
// too: set NANOLB_CLIENT_INDEX where host names are not ordinals.
//
// A malformed NANOLB_ZONE or NANOLB_CLIENT_INDEX is an error wrapping
// ErrConfig; a host name that cannot be read or holds no index is not an
// error, only no index.
func LocalityFromEnv() (Locality, error) {
	var loc Locality
	if z := os.Getenv(EnvZone); z != "" {
		if err := checkZone(z); err != nil {
			return Locality{}, fmt.Errorf("%w: %s: %w", ErrConfig, EnvZone, err)
		}
		loc.Zone = z
	}
	if s := os.Getenv(EnvClientIndex); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Locality{}, fmt.Errorf("%w: %s=%q is not a decimal integer in 0..%d", ErrConfig, EnvClientIndex, s, uint64(1<<64-1))
		}
		loc.Client, loc.HasClient = n, true
		return loc, nil
	}
	hostname := os.Hostname
	if testHookHostname != nil {
		hostname = testHookHostname
	}
	if host, err := hostname(); err == nil {
		loc.Client, loc.HasClient = ordinal(host)
	}
	return loc, nil
}

// checkZone reports what is wrong with a zone's name, or nil.
func checkZone(z string) error {
	switch {
	case len(z) > lb.MaxZoneLen:
		return fmt.Errorf("%d bytes, over %d", len(z), lb.MaxZoneLen)
	case !utf8.ValidString(z):
		return fmt.Errorf("%q is not valid UTF-8", z)
	case strings.IndexFunc(z, unicode.IsControl) >= 0:
		return fmt.Errorf("%q holds a control character", z)
	case strings.TrimSpace(z) != z:
		return fmt.Errorf("%q has white space around it", z)
	}
	return nil
}

// ordinal returns the number after the last '-' of host's first label,
// and whether there is one.
func ordinal(host string) (uint64, bool) {
	label, _, _ := strings.Cut(host, ".")
	i := strings.LastIndexByte(label, '-')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(label[i+1:], 10, 64)
	return n, err == nil
}
