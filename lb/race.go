//go:build race

package lb

// raceEnabled routes the index scans through atomic loads (see scan.go).
const raceEnabled = true
