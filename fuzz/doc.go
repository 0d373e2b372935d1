// Package fuzz holds the fuzz targets over nanolb's exported API: the
// hardware kernels of the root package (kernels_test.go) and the lb package.
// It has no code of its own; run a target with, for example,
//
//	go test -run '^$' -fuzz '^FuzzSelect$' -fuzztime 30s ./fuzz
//
// The seed corpora under testdata/fuzz run as ordinary tests with go test.
package fuzz
