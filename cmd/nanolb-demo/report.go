package main

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// reportData is what the HTML template shows.
type reportData struct {
	Generated string
	GoVersion string
	CPUs      int
	Scenario  scenario
	Options   options
	Backends  []backendSpec
	Rows      []summary
	// NanolbSetup says how the nanolb clients are configured.
	NanolbSetup string
	Overview    []template.HTML // plots comparing the clients
	Phases      []phaseView
}

// phaseView is one client's section: its row and its three plots.
type phaseView struct {
	Label    string
	ID       string
	Row      summary
	FirstErr string
	Plots    []template.HTML
}

// renderReport draws every phase's plots and returns the whole
// self-contained HTML page: inline CSS, inline SVG, one inline script, no
// reference to anything outside the file.
func renderReport(sc scenario, opts options, results []*phaseResult, rows []summary) ([]byte, error) {
	d := reportData{
		Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
		Scenario:  sc,
		Options:   opts,
		Backends:  sc.Backends,
		Rows:      rows,

		NanolbSetup: nanolbSetup(sc),
	}
	for _, o := range []struct {
		name, title, unit string
		value             func(summary) float64
		format            func(float64) string
	}{
		{"errors", "errors seen by callers", "% of requests", func(s summary) float64 { return 100 * s.ErrorRate() },
			func(v float64) string { return fmt.Sprintf("%.3f%%", v) }},
		{"throughput", "requests completed", "requests per second", func(s summary) float64 { return float64(s.Requests) / opts.Duration.Seconds() },
			func(v float64) string { return fmt.Sprintf("%.0f/s", v) }},
	} {
		p, err := overviewPlot(o.title, o.unit, rows, o.value, o.format)
		if err != nil {
			return nil, err
		}
		s, err := svgOf(p, plotW, plotH)
		if err != nil {
			return nil, err
		}
		d.Overview = append(d.Overview, template.HTML(`<figure class="plot" data-plot="`+o.name+`">`+s+`</figure>`))
	}
	for i, r := range results {
		v := phaseView{Label: r.Spec.Label(), ID: fmt.Sprintf("phase-%d", i), Row: rows[i], FirstErr: r.FirstErr}
		share, err := sharePlot(r)
		if err != nil {
			return nil, err
		}
		lat, err := latencyPlot(r, opts.Buckets)
		if err != nil {
			return nil, err
		}
		tl, err := timelinePlot(r)
		if err != nil {
			return nil, err
		}
		for _, p := range []struct {
			name string
			svg  func() (string, error)
		}{
			{"share", func() (string, error) { return svgOf(share, plotW, plotH) }},
			{"latency", func() (string, error) { return svgOf(lat, plotW, plotH) }},
			{"timeline", func() (string, error) { return svgOf(tl, plotW, plotH) }},
		} {
			s, err := p.svg()
			if err != nil {
				return nil, err
			}
			// The SVG comes from gonum's renderer, not from input.
			v.Plots = append(v.Plots, template.HTML(`<figure class="plot" data-plot="`+p.name+`">`+s+`</figure>`))
		}
		d.Phases = append(d.Phases, v)
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("nanolb-demo: report template: %w", err)
	}
	return buf.Bytes(), nil
}

// nanolbSetup says how scenario sc configures the nanolb clients.
func nanolbSetup(sc scenario) string {
	attempts := "3 attempts, retry budget 20%"
	if sc.Attempts == 1 {
		attempts = "1 attempt, no retries"
	} else if sc.Attempts > 1 {
		attempts = fmt.Sprintf("%d attempts, retry budget 20%%", sc.Attempts)
	}
	config := "lb.Config{EjectFor: 250ms, MaxEjectFor: 2s, MaxEjectedPercent: 50}, other fields default"
	if sc.LBDefaults {
		config = "lb's default Config (outlier detection on), only the policy and any slow start set"
	}
	for _, c := range sc.Clients {
		if c.LoadWeights {
			config += "; load weights: " + loadWeightsString(demoLoadWeights)
			break
		}
	}
	return "lbhttp.Transport (" + attempts + ") over " + config
}

// writeReport writes page to path, creating its directory.
func writeReport(path string, page []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("nanolb-demo: report directory: %w", err)
	}
	if err := os.WriteFile(path, page, 0o644); err != nil {
		return fmt.Errorf("nanolb-demo: write report: %w", err)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":   ms,
	"pct":  func(x float64) string { return fmt.Sprintf("%.1f", 100*x) },
	"pct3": func(x float64) string { return fmt.Sprintf("%.3f", 100*x) },
	"dash": countOrDash,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nanolb demo: {{.Scenario.Name}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
#script th, #script td { text-align: left; }
td.role { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5em; }
figure.plot { margin: 0; }
figure.plot svg { max-width: 100%; height: auto; }
.note { color: #555; font-size: 0.9em; }
.err { color: #a00; }
</style>
</head>
<body>
<h1>nanolb demo: scenario “{{.Scenario.Name}}”</h1>
<p class="note">{{.Generated}} · {{.GoVersion}} · {{.CPUs}} CPUs · each client ran its own phase of {{.Options.Duration}} against freshly started backends on 127.0.0.1 following the same script, {{with .Scenario.Ramp}}with requests started in an open loop {{if eq .From .To}}at {{printf "%.0f" .From}}{{else}}at a rate rising from {{.From}} to {{.To}}{{end}} a second{{if .Poisson}} (Poisson arrivals){{end}}, each with a deadline of {{.Deadline}}{{else}}with {{.Options.Concurrency}} callers in a closed loop{{end}} (at most {{.Options.MaxRequests}} requests a phase).</p>
<p>{{.Scenario.Describe}}.</p>
<table id="script">
<tr><th>backend</th><th>script</th></tr>
{{range .Backends}}<tr><td>{{.Name}}</td><td class="role">{{.Role}}</td></tr>
{{end}}</table>
<p class="note">nanolb clients: {{.NanolbSetup}}.
httplb: bufbuild/httplb with its power-of-two picker and active health checks of /health every 100 ms; no retries.
naive: a random backend per request, no health, no retries.
Errors are what callers saw: a transport error or a status other than 200, after any retries.</p>
<h2>Results</h2>
<table id="summary">
<tr><th>client</th><th>requests</th><th>errors</th><th>err %</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th>{{range .Backends}}<th>{{.Name}} %</th>{{end}}<th>ejections</th><th>probes</th><th>reinstated</th></tr>
{{range .Rows}}<tr><td>{{.Label}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{pct3 .ErrorRate}}</td><td>{{ms .P50}}</td><td>{{ms .P99}}</td><td>{{ms .P999}}</td>{{range .Share}}<td>{{pct .}}</td>{{end}}<td>{{dash .Ejections}}</td><td>{{dash .Probes}}</td><td>{{dash .Reinstatements}}</td></tr>
{{end}}</table>
<div class="plots" id="overview">{{range .Overview}}{{.}}{{end}}</div>
<p class="note">Share: of the requests the backends received (retries included). Timeline legend: pale red, the script makes the backend answer 500; pink, it fails some requests at random; grey, the backend is down, or not yet in the clients' lists; yellow, it is slow (while cold, or for some of its requests); dark red bar, nanolb has it ejected; orange, a probe is out; blue triangle, a probe; green circle, reinstated. Ejections and probes are read by polling the pool every {{.Options.Poll}}.</p>
{{range .Phases}}<section class="phase" id="{{.ID}}">
<h2>{{.Label}}</h2>
<p class="note">{{.Row.Requests}} requests, {{.Row.Errors}} errors seen by callers ({{pct3 .Row.ErrorRate}}%){{if .FirstErr}}, for example <span class="err">{{.FirstErr}}</span>{{end}}.</p>
<div class="plots">{{range .Plots}}{{.}}{{end}}</div>
</section>
{{end}}
<p class="note" id="plot-count">plots: rendering…</p>
<script>
(function () {
  var figures = document.querySelectorAll("figure.plot");
  var drawn = 0;
  figures.forEach(function (f) { if (f.querySelector("svg")) { drawn++; } });
  document.getElementById("plot-count").textContent = "plots: " + drawn + " of " + figures.length + " drawn";
  document.body.setAttribute("data-plots-drawn", String(drawn));
})();
</script>
</body>
</html>
`))
