package main

import (
	"bytes"
	"strings"
	"testing"
)

// The issue's targets at 1,000 clients, 300 backends, subsets of 30.
// Skipped with -short: the rolling restarts take a while.
func TestRulesMeetTheIssueTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size simulation")
	}
	c := config{clients: 1000, backends: 300, k: 30, seed: 1}
	got := map[string]stats{}
	for _, r := range rules(c.seed) {
		got[r.name] = simulate(c, r)
	}
	if s := got["deterministic"]; s.max > 1.05 {
		t.Errorf("deterministic max/mean %.3f, target 1.05", s.max)
	}
	if s := got["ring"]; s.max > 1.25 || s.rollMax > 1.25 {
		t.Errorf("ring max/mean %.3f, rolling worst %.3f, target 1.25", s.max, s.rollMax)
	}
	for _, name := range []string{"ring", "rendezvous"} {
		s := got[name]
		if s.addX > 2 || s.removeX > 2 || s.rollX > 2 {
			t.Errorf("%s churn: add %.2f×, remove %.2f×, rolling %.2f× the minimum, target 2×", name, s.addX, s.removeX, s.rollX)
		}
	}
	// Random subsets: the SRE book reports loads from 0.63 to 1.21 of
	// the mean; with one draw of 300 backends the extremes land near there.
	if s := got["random"]; s.max < 1.1 || s.max > 1.45 || s.min < 0.55 || s.min > 0.9 {
		t.Errorf("random max/mean %.3f, min/mean %.3f: far from the book's 0.63-1.21", s.max, s.min)
	}
	// The deterministic rule reshuffles on every change: far more churn.
	if s := got["deterministic"]; s.addX < 10 {
		t.Errorf("deterministic add churn %.2f× the minimum; expected a reshuffle", s.addX)
	}
}

func TestRunPrintsATableRowPerRule(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run([]string{"-clients", "40", "-backends", "20", "-k", "4"}, &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	for _, name := range []string{"| random |", "| deterministic |", "| rendezvous |", "| ring |"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("no row %q in:\n%s", name, out.String())
		}
	}
	// 40 clients of 4 in 20 backends: two full rounds, exact balance.
	if !strings.Contains(out.String(), "| deterministic | 1.000 | 1.000 | 1.000 |") {
		t.Errorf("deterministic not exact at 40/20/4:\n%s", out.String())
	}
}

func TestRunRejectsBadSizes(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run([]string{"-k", "300", "-backends", "300"}, &out, &errw); code != 2 {
		t.Fatalf("k = backends: exit %d, want 2", code)
	}
}
