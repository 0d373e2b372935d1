package discovery

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/lb"
)

// LocalityFromEnv reads NANOLB_ZONE and NANOLB_CLIENT_INDEX, and falls back
// to a StatefulSet-style host name for the index. Not parallel: t.Setenv.
func TestLocalityFromEnv(t *testing.T) {
	const unset = "\x00unset" // not a value the environment can hold
	for _, tc := range []struct {
		name        string
		zone, index string
		host        string // "" with hostErr: the host name cannot be read
		hostErr     bool
		want        Locality
		bad         bool // want an error wrapping ErrConfig
	}{
		{name: "nothing set and a host name without a number has no locality",
			zone: unset, index: unset, host: "laptop", want: Locality{}},
		{name: "a zone and an index are read",
			zone: "us-east-1a", index: "7", host: "users-3", want: Locality{Zone: "us-east-1a", Client: 7, HasClient: true}},
		{name: "the index variable wins over the host name",
			zone: unset, index: "0", host: "users-3", want: Locality{Client: 0, HasClient: true}},
		{name: "empty variables count as unset",
			zone: "", index: "", host: "users-3", want: Locality{Client: 3, HasClient: true}},
		{name: "a StatefulSet pod's host name gives its ordinal",
			zone: unset, index: unset, host: "users-12", want: Locality{Client: 12, HasClient: true}},
		{name: "only the host name's first label counts",
			zone: unset, index: unset, host: "users-4.users.prod.svc.cluster.local", want: Locality{Client: 4, HasClient: true}},
		{name: "a number in a later label is no index",
			zone: unset, index: unset, host: "users.rack-4", want: Locality{}},
		{name: "a host name ending in letters after the dash has no index",
			zone: unset, index: unset, host: "users-7d9f8b6c4-x2x7q", want: Locality{}},
		{name: "a host name ending in a dash has no index",
			zone: unset, index: unset, host: "users-", want: Locality{}},
		{name: "a host name that cannot be read gives no index and no error",
			zone: "b", index: unset, hostErr: true, want: Locality{Zone: "b"}},
		{name: "the largest index is read",
			zone: unset, index: "18446744073709551615", want: Locality{Client: 1<<64 - 1, HasClient: true}},
		{name: "a zone of lb.MaxZoneLen bytes is read",
			zone: strings.Repeat("z", lb.MaxZoneLen), index: unset, host: "h", want: Locality{Zone: strings.Repeat("z", lb.MaxZoneLen)}},
		{name: "an index over 2^64-1 is an error", zone: unset, index: "18446744073709551616", bad: true},
		{name: "a negative index is an error", zone: unset, index: "-1", bad: true},
		{name: "a signed index is an error", zone: unset, index: "+1", bad: true},
		{name: "an index with white space is an error", zone: unset, index: " 1", bad: true},
		{name: "an index that is a name is an error", zone: unset, index: "users-3", bad: true},
		{name: "a zone over lb.MaxZoneLen bytes is an error", zone: strings.Repeat("z", lb.MaxZoneLen+1), index: "1", bad: true},
		{name: "a zone ending in a newline is an error", zone: "us-east-1a\n", index: "1", bad: true},
		{name: "a zone with a control character is an error", zone: "us\teast", index: "1", bad: true},
		{name: "a zone of invalid UTF-8 is an error", zone: "us\xffeast", index: "1", bad: true},
		{name: "a bad zone is an error even with an index from the host name", zone: " a", index: unset, host: "users-3", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, v := range map[string]string{EnvZone: tc.zone, EnvClientIndex: tc.index} {
				if v == unset {
					unsetenv(t, name)
				} else {
					t.Setenv(name, v)
				}
			}
			testHookHostname = func() (string, error) {
				if tc.hostErr {
					return "", errors.New("no host name for the test")
				}
				return tc.host, nil
			}
			defer func() { testHookHostname = nil }()
			got, err := LocalityFromEnv()
			if tc.bad {
				if !errors.Is(err, ErrConfig) || got != (Locality{}) {
					t.Fatalf("LocalityFromEnv() = %+v, %v; want an error wrapping ErrConfig", got, err)
				}
				t.Log(err)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LocalityFromEnv() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// unsetenv unsets name for the rest of the test; t.Setenv first, so that
// the test restores it.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}
