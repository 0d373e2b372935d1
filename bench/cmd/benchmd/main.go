// Command benchmd writes BENCHMARKS.md from raw `go test -bench` output: the
// machine, the Go version, the command that produced the numbers, and for
// each result file a table of median ns/op with the ratio to the reference
// floor measured in the same run, followed by benchstat's own table; then,
// if asked, the kernels table (-kernels: the same benchmarks from a normal
// build and a -tags purego build, asm against pure Go), the membership table
// (-membership: lb's BenchmarkMembership beside issue 11's targets) and
// quoted text files (-text) and Markdown files included as they are
// (-markdown), such as cmd/zonesim's tables.
//
// Usage:
//
//	benchmd -o ../BENCHMARKS.md -cmd 'make -C bench benchmarks-md' -cmd 'go test ...' \
//	    -benchstat 'go run golang.org/x/perf/cmd/benchstat@VERSION' \
//	    -kernels 'Title=asm.txt,purego.txt' -membership 'Title=membership.txt' \
//	    'Title one=path/one.txt' 'Title two=path/two.txt'
//
// With -ratios it prints only the tables, to standard output.
//
// A sanity check guards nanolb's Pick+Done rows (benchmarks named
// BenchmarkPickDone..., rows of the lb package other than its references
// and floors, and rows whose impl starts with "nanolb" in any package): a
// row that reports allocations (above 0 allocs/op in any sample) or whose
// median is more than -max-ratio (1,000) times reference (a) of the same
// benchmark (checked only where the file has one) is not a Pick+Done but a
// benchmark that timed something else, such as the pool's construction. Writing the page, benchmd refuses: it
// names those rows on standard error, writes nothing, and exits with status
// 1. With -ratios it prints the tables anyway, each such cell marked ⚠ and
// the rows listed under their table with the reason.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	switch err := run(os.Args[1:], os.Stdout, os.Stderr); {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchmd:", err)
		os.Exit(1)
	}
}

// errUsage is run's error for bad command-line arguments, after it printed
// the usage.
var errUsage = errors.New("usage")

// errSuspect is run's error when it refuses to write a page with Pick+Done
// rows that fail the sanity check.
var errSuspect = errors.New("suspect Pick+Done rows")

// run is benchmd with command-line arguments args.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the markdown here (default: standard output)")
	var commands stringList
	fs.Var(&commands, "cmd", "a command that produced the results, quoted in the page (repeatable)")
	benchstat := fs.String("benchstat", "", "benchstat command line; empty leaves benchstat tables out")
	floorList := fs.String("floor", "ref-atomic-pair,reference-two-adds,reference", "comma-separated impl names that are reference (a); the first present in a file is its floor")
	ratiosOnly := fs.Bool("ratios", false, "print only the tables, to standard output, flagging suspect rows instead of refusing them")
	maxRatio := fs.Float64("max-ratio", 1000, "a nanolb Pick+Done row above this many times reference (a) is suspect")
	var texts, markdowns, kernels, memberships stringList
	fs.Var(&texts, "text", "'Title=file': a section quoting a file's text as it is, such as the demo's table (repeatable)")
	fs.Var(&markdowns, "markdown", "'Title=file': a section of a file's Markdown as it is, such as zonesim's tables (repeatable)")
	fs.Var(&kernels, "kernels", "'Title=asm.txt,purego.txt': a table of the same benchmarks from a normal and a -tags purego build (repeatable)")
	fs.Var(&memberships, "membership", "'Title=file': a table of lb's BenchmarkMembership beside issue 11's targets (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: benchmd [flags] 'Title=results.txt'...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 && len(kernels) == 0 && len(memberships) == 0 {
		fs.Usage()
		return errUsage
	}
	floors := strings.Split(*floorList, ",")
	var sections []section
	var flagged []string
	for _, arg := range fs.Args() {
		title, path, ok := strings.Cut(arg, "=")
		if !ok {
			title, path = arg, arg
		}
		s, err := readSection(title, path, floors)
		if err != nil {
			return err
		}
		s.maxRatio = *maxRatio
		s.suspects = suspects(s, *maxRatio)
		for _, line := range suspectLines(s.suspects) {
			flagged = append(flagged, path+": "+line)
		}
		if *benchstat != "" && !*ratiosOnly {
			if s.benchstat, err = runBenchstat(*benchstat, path); err != nil {
				return err
			}
		}
		sections = append(sections, s)
	}
	var pairs []pair
	for _, arg := range kernels {
		p, err := parsePair(arg, floors)
		if err != nil {
			return err
		}
		pairs = append(pairs, p)
	}
	var members []section
	for _, arg := range memberships {
		title, path, ok := strings.Cut(arg, "=")
		if !ok || title == "" || path == "" {
			return fmt.Errorf("-membership %q: want 'Title=file'", arg)
		}
		s, err := readSection(title, path, floors)
		if err != nil {
			return err
		}
		if *benchstat != "" && !*ratiosOnly {
			if s.benchstat, err = runBenchstat(*benchstat, "-filter", ".unit:sec/op", path); err != nil {
				return err
			}
		}
		members = append(members, s)
	}
	if len(flagged) > 0 && !*ratiosOnly {
		fmt.Fprintf(stderr, "benchmd: refusing to publish %d Pick+Done rows that cannot be one (allocations, or above %g× reference (a)):\n", len(flagged), *maxRatio)
		for _, f := range flagged {
			fmt.Fprintln(stderr, "  "+f)
		}
		return fmt.Errorf("%w: %d rows, nothing written", errSuspect, len(flagged))
	}
	var buf bytes.Buffer
	if *ratiosOnly {
		for _, s := range sections {
			fmt.Fprintf(&buf, "%s (%s)\n\n", s.title, s.path)
			writeRatioTable(&buf, s)
			buf.WriteString("\n")
		}
		for _, p := range pairs {
			fmt.Fprintf(&buf, "%s (%s, %s)\n\n", p.title, p.asm.path, p.purego.path)
			writeKernelTable(&buf, p)
			buf.WriteString("\n")
		}
		for _, s := range members {
			fmt.Fprintf(&buf, "%s (%s)\n\n", s.title, s.path)
			writeMembershipTable(&buf, s.results)
			buf.WriteString("\n")
		}
		if len(flagged) > 0 {
			fmt.Fprintf(&buf, "%s %d Pick+Done rows flagged: benchmarks-md would refuse to publish them.\n", flagMark, len(flagged))
		}
	} else {
		writePage(&buf, commands, sections, *maxRatio)
		for _, p := range pairs {
			if *benchstat != "" {
				var err error
				if p.benchstat, err = runBenchstat(*benchstat, "-filter", ".unit:sec/op", "asm="+p.asm.path, "purego="+p.purego.path); err != nil {
					return err
				}
			}
			writeKernelSection(&buf, p)
		}
		for _, s := range members {
			writeMembershipSection(&buf, s)
		}
		for _, t := range texts {
			if err := writeText(&buf, t); err != nil {
				return err
			}
		}
		for _, m := range markdowns {
			if err := writeMarkdown(&buf, m); err != nil {
				return err
			}
		}
	}
	if *out == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "benchmd: wrote", *out)
	return nil
}

// readSection reads one results file and picks its floor.
func readSection(title, path string, floors []string) (section, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return section{}, err
	}
	s := section{title: title, path: path, results: parse(raw)}
	if len(s.results) == 0 {
		return section{}, fmt.Errorf("%s: no benchmark results", path)
	}
	s.floor = pickFloor(s.results, floors)
	return s, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, "\n") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// section is one results file and what is shown for it.
type section struct {
	title, path string
	results     []result
	floor       string
	benchstat   string
	maxRatio    float64            // the sanity check's limit, for the note under a table
	suspects    map[cellKey]string // nanolb Pick+Done rows that fail the sanity check, and why
}

// runBenchstat runs the benchstat command line on files ("path" or
// "label=path").
func runBenchstat(command string, files ...string) (string, error) {
	args := strings.Fields(command)
	cmd := exec.Command(args[0], append(args[1:], files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", command, strings.Join(files, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

// writePage writes the whole BENCHMARKS.md.
func writePage(w io.Writer, commands []string, sections []section, maxRatio float64) {
	fmt.Fprintln(w, "# nanolb benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "<!-- Generated by bench/cmd/benchmd (make -C bench benchmarks-md); do not edit by hand. -->")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "One operation everywhere: pick an endpoint, then release the pick as a success")
	fmt.Fprintln(w, "(nanolb `Pick` + `Lease.Done(nil)`; each peer's equivalent, see bench/peers/doc.go).")
	fmt.Fprintln(w, "Reference (a) is two atomic adds on a counter alone on its cache line, the floor of any")
	fmt.Fprintln(w, "balancer that counts requests in flight; every ratio is to reference (a) in the same run.")
	fmt.Fprintf(w, "No nanolb Pick+Done row below allocates or costs more than %g× reference (a): benchmd refuses to\n", maxRatio)
	fmt.Fprintln(w, "publish one that does, as a benchmark that timed something else.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| CPU | %s |\n", cpuModel())
	fmt.Fprintf(w, "| logical CPUs (nproc) | %d |\n", runtime.NumCPU())
	fmt.Fprintf(w, "| Go | %s %s/%s |\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "| date | %s |\n", time.Now().UTC().Format("2006-01-02"))
	if len(commands) > 0 {
		fmt.Fprintln(w, "\nThe numbers below come from:")
		fmt.Fprintln(w, "\n```sh")
		for _, c := range commands {
			fmt.Fprintln(w, c)
		}
		fmt.Fprintln(w, "```")
	}
	for _, s := range sections {
		fmt.Fprintf(w, "\n## %s\n\n", s.title)
		writeRatioTable(w, s)
		if s.benchstat != "" {
			fmt.Fprintf(w, "\nbenchstat `%s`:\n\n```\n%s```\n", s.path, s.benchstat)
		}
	}
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + runtime.GOARCH + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown (" + runtime.GOARCH + ")"
}

// writeText appends a section quoting a file's text verbatim: 'Title=file'.
func writeText(w *bytes.Buffer, arg string) error {
	title, raw, err := readTitled("-text", arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## %s\n\n```\n%s\n```\n", title, raw)
	return nil
}

// writeMarkdown appends a section of a file's Markdown as it is, so that
// its tables render: 'Title=file'.
func writeMarkdown(w *bytes.Buffer, arg string) error {
	title, raw, err := readTitled("-markdown", arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## %s\n\n%s\n", title, raw)
	return nil
}

// readTitled reads flag's 'Title=file' argument: the title and the file's
// text without trailing newlines, which must not be blank.
func readTitled(flag, arg string) (title string, raw []byte, err error) {
	title, path, ok := strings.Cut(arg, "=")
	if !ok || title == "" || path == "" {
		return "", nil, fmt.Errorf("%s %q: want 'Title=file'", flag, arg)
	}
	if raw, err = os.ReadFile(path); err != nil {
		return "", nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil, fmt.Errorf("%s %s: the file is empty", flag, path)
	}
	return title, bytes.TrimRight(raw, "\n"), nil
}
