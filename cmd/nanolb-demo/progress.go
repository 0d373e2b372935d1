package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// progressBar shows one phase's progress. On a terminal it redraws a bar in
// place; elsewhere (a pipe, a CI log) it prints a dot per tenth, so the log
// stays plain text.
type progressBar struct {
	w     io.Writer
	tty   bool
	label string
	shown int // tenths printed (plain) or the last percent drawn (tty)
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newProgressBar starts the bar of phase i of n.
func newProgressBar(w io.Writer, tty bool, i, n int, label string) *progressBar {
	p := &progressBar{w: w, tty: tty, label: fmt.Sprintf("[%d/%d] %-26s", i, n, label), shown: -1}
	if !tty {
		fmt.Fprint(w, p.label, " ")
	}
	p.update(0)
	return p
}

// update draws the fraction f (0..1) done.
func (p *progressBar) update(f float64) {
	f = min(max(f, 0), 1)
	if p.tty {
		pct := int(100 * f)
		if pct == p.shown {
			return
		}
		p.shown = pct
		const width = 30
		full := int(f * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%", p.label, strings.Repeat("#", full), strings.Repeat(".", width-full), pct)
		return
	}
	for tenths := int(10 * f); p.shown < tenths; p.shown++ {
		if p.shown >= 0 {
			fmt.Fprint(p.w, ".")
		}
	}
}

// finish completes the bar and ends its line with note.
func (p *progressBar) finish(note string) {
	p.update(1)
	fmt.Fprintln(p.w, " "+note)
}
