package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pretendMissing reports whether NANOLB_PRETEND_MISSING (a comma-separated
// list, e.g. "qemu,chromium") names tool, so a fresh clone without it can be
// simulated on a machine that has it.
func pretendMissing(tool string) bool {
	for _, t := range strings.Split(os.Getenv("NANOLB_PRETEND_MISSING"), ",") {
		if strings.TrimSpace(t) == tool {
			return true
		}
	}
	return false
}

// requireAll reports whether a missing tool must fail the test rather than
// skip it: in CI, or when NANOLB_REQUIRE_ALL=1.
func requireAll() bool {
	return os.Getenv("CI") == "true" || os.Getenv("NANOLB_REQUIRE_ALL") == "1"
}

// findChromium returns the browser to drive: $NANOLB_CHROMIUM, else the
// first of chromium, chromium-browser, google-chrome on PATH. Without one
// the test skips, saying how to install it, or fails under requireAll.
func findChromium(t *testing.T) string {
	t.Helper()
	if !pretendMissing("chromium") {
		if p := os.Getenv("NANOLB_CHROMIUM"); p != "" {
			return p
		}
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
	}
	msg := "chromium not found: the report's browser test needs it; install it with `apt-get install chromium` (Debian/Ubuntu) or set NANOLB_CHROMIUM to a Chrome or Chromium binary"
	if requireAll() {
		t.Fatal(msg + " (CI=true or NANOLB_REQUIRE_ALL=1: a skipped leg fails)")
	}
	t.Skip(msg)
	return ""
}

// chromium runs the browser headless on the file at page with extra flags
// and returns its stdout and stderr.
func chromium(t *testing.T, bin, page string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0",
	}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// consoleLines returns the page's console messages from chromium's log;
// the report writes none, so any is an error (an uncaught exception, a
// resource that failed to load).
func consoleLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			out = append(out, line)
		}
	}
	return out
}

// externalRef finds src, href and url() values that leave the file.
var externalRef = regexp.MustCompile(`(?i)(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)([^"'#)\s>][^"')\s>]*)`)

// repoOut is the repository's ignored out/ directory.
func repoOut(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "out", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleCheckCatchesAPageError proves the console check can fail: a
// page that throws is caught.
func TestConsoleCheckCatchesAPageError(t *testing.T) {
	bin := findChromium(t)
	page := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><script>throw new Error("deliberate");</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, log := chromium(t, bin, page, "--dump-dom")
	lines := consoleLines(log)
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "Uncaught Error: deliberate") {
		t.Fatalf("console check missed a thrown error; console lines: %q", lines)
	}
}

// TestReportRendersInABrowser runs a short demo, opens its report in
// headless chromium, and checks that the page ran its script with no
// console message, that every plot of every client is an SVG in the
// rendered DOM, that the file references nothing outside itself, and that
// its screenshot is a real picture (saved under out/demo).
func TestReportRendersInABrowser(t *testing.T) {
	bin := findChromium(t)
	page := filepath.Join(t.TempDir(), "report.html")
	clients := []string{"p2c", "httplb", "naive"}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"-duration", "1s", "-concurrency", "8", "-max-requests", "20000",
		"-clients", strings.Join(clients, ","), "-out", page,
	}, &stdout, &stderr, false)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if refs := externalRef.FindAllStringSubmatch(string(raw), -1); len(refs) > 0 {
		t.Errorf("report references %d things outside itself, first %q", len(refs), refs[0][1])
	}

	dom, log := chromium(t, bin, page, "--dump-dom")
	if lines := consoleLines(log); len(lines) > 0 {
		t.Errorf("console messages while rendering the report:\n%s", strings.Join(lines, "\n"))
	}
	want := 3*len(clients) + 2 // each client's three, and the two comparing them
	if !strings.Contains(dom, fmt.Sprintf(`data-plots-drawn="%d"`, want)) {
		t.Errorf("the page's script did not report %d plots drawn (it sets data-plots-drawn on <body>)", want)
	}
	overview := between(dom, `id="overview"`, `<p class="note">`)
	for _, kind := range []string{"errors", "throughput"} {
		fig := between(overview, fmt.Sprintf(`data-plot="%s"`, kind), "</figure>")
		if !strings.Contains(fig, "<svg") || !strings.Contains(fig, "<path") {
			t.Errorf("the overview's %s plot is not an SVG with paths in the rendered DOM", kind)
		}
		for _, c := range clients {
			if !strings.Contains(fig, ">"+(clientSpecLabel(c))+"<") {
				t.Errorf("the overview's %s plot does not name %s", kind, c)
			}
		}
	}
	for i := range clients {
		section := between(dom, fmt.Sprintf(`id="phase-%d"`, i), "</section>")
		for _, kind := range []string{"share", "latency", "timeline"} {
			fig := between(section, fmt.Sprintf(`data-plot="%s"`, kind), "</figure>")
			if !strings.Contains(fig, "<svg") || !strings.Contains(fig, "<path") {
				t.Errorf("client %s: the %s plot is not an SVG with paths in the rendered DOM", clients[i], kind)
			}
		}
	}

	shot := filepath.Join(repoOut(t), "browser-test.png")
	_ = os.Remove(shot)
	chromium(t, bin, page, "--screenshot="+shot, "--window-size=1400,1800", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if n := colours(img); n < 16 {
		t.Errorf("screenshot has %d distinct colours: the page looks blank", n)
	}
	t.Logf("screenshot: %s", shot)
}

// clientSpecLabel is the label the report gives the client named name.
func clientSpecLabel(name string) string {
	specs, err := parseClients([]string{name})
	if err != nil || len(specs) != 1 {
		return name
	}
	return specs[0].Label()
}

// between returns the text of s from the first from to the next to after
// it, or "" if from is absent.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// colours counts distinct colours in img, up to 1,000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
