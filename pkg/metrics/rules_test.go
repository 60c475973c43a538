package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dropsync/dropsync/pkg/metrics"
)

// The rules and the dashboard, relative to this package.
var (
	rulesFile          = filepath.Join("..", "..", "deploy", "observability", "prometheus", "dropsync-rules.yaml")
	prometheusRuleFile = filepath.Join("..", "..", "deploy", "k8s", "monitoring", "prometheusrule.yaml")
	dashboardFile      = filepath.Join("..", "..", "deploy", "observability", "grafana", "dropsync.json")
)

// ruleGroups is the rule file format (and a PrometheusRule's spec).
type ruleGroups struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval,omitempty"`
		Rules    []struct {
			Record      string            `yaml:"record,omitempty"`
			Alert       string            `yaml:"alert,omitempty"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for,omitempty"`
			Labels      map[string]string `yaml:"labels,omitempty"`
			Annotations map[string]string `yaml:"annotations,omitempty"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T, path string, spec bool) ruleGroups {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if spec {
		var pr struct {
			Kind string     `yaml:"kind"`
			Spec ruleGroups `yaml:"spec"`
		}
		if err := yaml.Unmarshal(b, &pr); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if pr.Kind != "PrometheusRule" {
			t.Fatalf("%s: kind %q", path, pr.Kind)
		}
		return pr.Spec
	}
	var g ruleGroups
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

// exported maps every Prometheus series name the code exports to its
// definition.
func exported() map[string]metrics.Def {
	out := map[string]metrics.Def{}
	for _, d := range metrics.Catalog {
		for _, s := range d.Series() {
			out[s] = d
		}
	}
	return out
}

// TestRulesNameExportedMetrics parses every rule expression and fails when
// one names a metric, or filters on a label, that the code does not
// export: renaming a metric breaks this test, not the alert in production.
func TestRulesNameExportedMetrics(t *testing.T) {
	g := loadRules(t, rulesFile, false)
	records := map[string]bool{}
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	alerts := 0
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			name := r.Record + r.Alert
			if (r.Record == "") == (r.Alert == "") {
				t.Errorf("rule %q: want exactly one of record and alert", name)
			}
			if r.Alert != "" {
				alerts++
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
					t.Errorf("alert %s: needs a severity label and a summary", r.Alert)
				}
			}
			checkExpr(t, name, r.Expr, records)
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts")
	}
	// The operator's alerts the issue asks for, by what they watch.
	for _, m := range []string{"dropsync_deadletter_depth", "dropsync_connection_healthy", "dropsync_consumer_pending", "dropsync_aliexpress_budget_left"} {
		found := false
		for _, grp := range g.Groups {
			for _, r := range grp.Rules {
				if r.Alert != "" && slices.Contains(metricNames(t, r.Expr), m) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("no alert on %s", m)
		}
	}
}

// TestPrometheusRuleMatchesRules keeps the Kubernetes PrometheusRule's
// groups equal to the rules file's.
func TestPrometheusRuleMatchesRules(t *testing.T) {
	a, b := loadRules(t, rulesFile, false), loadRules(t, prometheusRuleFile, true)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s and %s differ: regenerate the PrometheusRule from the rules file", prometheusRuleFile, rulesFile)
	}
}

// TestDashboardNamesExportedMetrics parses every query of the Grafana
// dashboard, the same way.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkExpr(t, p.Title, tg.Expr, nil)
			for _, n := range metricNames(t, tg.Expr) {
				seen[exported()[n].Name] = true
			}
		}
	}
	labelValues := regexp.MustCompile(`^label_values\(\s*(.*),\s*([a-z_]+)\s*\)$`)
	for _, v := range dash.Templating.List {
		q, _ := v.Query.(string)
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, q)
			continue
		}
		checkExpr(t, "variable "+v.Name, m[1], nil)
		for _, n := range metricNames(t, m[1]) {
			if d := exported()[n]; !slices.Contains(d.Labels, m[2]) {
				t.Errorf("variable %s: %s has no label %s", v.Name, n, m[2])
			}
		}
	}
	// Every metric of the catalog is on the dashboard.
	for _, d := range metrics.Catalog {
		if !seen[d.Name] {
			t.Errorf("%s (%s) is on no panel", d.Name, d.Prometheus())
		}
	}
}

// checkExpr fails when expr does not tokenize, or names a metric that is
// neither exported nor one of records, or filters a metric on a label it
// does not have.
func checkExpr(t *testing.T, where, expr string, records map[string]bool) {
	t.Helper()
	toks, err := tokenize(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return
	}
	ex := exported()
	names := 0
	for _, tk := range toks {
		if tk.metric == "" {
			continue
		}
		names++
		d, ok := ex[tk.metric]
		if !ok {
			if !records[tk.metric] {
				t.Errorf("%s: %s is not an exported metric (nor a recording rule)", where, tk.metric)
			}
			continue
		}
		for _, l := range tk.labels {
			if l == "le" && d.Kind == metrics.KindHistogram || l == "job" || l == "instance" || l == "service_name" {
				continue
			}
			if !slices.Contains(d.Labels, l) {
				t.Errorf("%s: %s has no label %s", where, tk.metric, l)
			}
		}
	}
	if names == 0 {
		t.Errorf("%s: names no metric: %q", where, expr)
	}
}

func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	toks, err := tokenize(expr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range toks {
		if tk.metric != "" {
			out = append(out, tk.metric)
		}
	}
	return out
}

// selector is a metric name in a PromQL expression with the label names
// its matchers use.
type selector struct {
	metric string
	labels []string
}

// keywords are PromQL words that are not metric names.
var keywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
}

// tokenize finds the metric selectors of a PromQL expression.
//
// It is a small tokenizer rather than github.com/prometheus/prometheus's
// promql/parser: that module's dependency graph (its go.mod requires the
// Kubernetes client, cloud SDKs and more) is far heavier than what this
// test needs, which is the metric names and the label names of matchers.
// It skips strings, numbers and durations, takes an identifier followed
// by "(" as a function or aggregation, skips the label lists of by,
// without, on, ignoring, group_left and group_right, reads the label names
// of {...} matchers, and checks that brackets balance.
func tokenize(expr string) ([]selector, error) {
	var out []selector
	var stack []byte
	i := 0
	n := len(expr)
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(j int) int {
		for j < n && strings.IndexByte(" \t\r\n", expr[j]) >= 0 {
			j++
		}
		return j
	}
	skipString := func(j int) (int, error) {
		q := expr[j]
		for j++; j < n; j++ {
			if expr[j] == '\\' && q != '`' {
				j++
				continue
			}
			if expr[j] == q {
				return j + 1, nil
			}
		}
		return j, errUnterminated
	}
	// matchers reads {name op "value", ...} from j (at "{") and returns
	// the label names and the index after "}".
	matchers := func(j int) ([]string, int, error) {
		var labels []string
		j++
		for {
			j = skipSpace(j)
			if j >= n {
				return nil, j, errUnbalanced
			}
			if expr[j] == '}' {
				return labels, j + 1, nil
			}
			if expr[j] == ',' {
				j++
				continue
			}
			if expr[j] == '"' || expr[j] == '\'' || expr[j] == '`' {
				// A quoted metric name ({"name"}): not used here.
				var err error
				if j, err = skipString(j); err != nil {
					return nil, j, err
				}
				continue
			}
			k := j
			for k < n && isPart(expr[k]) {
				k++
			}
			if k == j {
				return nil, j, errSyntax
			}
			labels = append(labels, expr[j:k])
			j = skipSpace(k)
			if j+1 < n && (expr[j:j+2] == "=~" || expr[j:j+2] == "!=" || expr[j:j+2] == "!~") {
				j += 2
			} else if j < n && expr[j] == '=' {
				j++
			} else {
				return nil, j, errSyntax
			}
			j = skipSpace(j)
			if j >= n || expr[j] != '"' && expr[j] != '\'' && expr[j] != '`' {
				return nil, j, errSyntax
			}
			var err error
			if j, err = skipString(j); err != nil {
				return nil, j, err
			}
		}
	}
	for i < n {
		c := expr[i]
		switch {
		case strings.IndexByte(" \t\r\n,+-*/%^=!<>", c) >= 0:
			i++
		case c == '"' || c == '\'' || c == '`':
			var err error
			if i, err = skipString(i); err != nil {
				return nil, err
			}
		case c == '(':
			stack = append(stack, ')')
			i++
		case c == ')':
			if len(stack) == 0 || stack[len(stack)-1] != ')' {
				return nil, errUnbalanced
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '[':
			// A range or subquery duration: [5m], [$__rate_interval], [1h:5m].
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, errUnbalanced
			}
			i += j + 1
		case c == '{':
			// Matchers without a metric name: {job="x"}.
			_, j, err := matchers(i)
			if err != nil {
				return nil, err
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			for i < n && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case c == '$':
			// A Grafana variable outside a string.
			for i++; i < n && (isPart(expr[i]) || expr[i] == '{' || expr[i] == '}'); i++ {
			}
		case isStart(c):
			j := i
			for j < n && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := skipSpace(j)
			switch {
			case keywords[strings.ToLower(word)]:
				lw := strings.ToLower(word)
				if lw == "offset" {
					// offset <duration>
					k = skipSpace(k)
					for k < n && (isPart(expr[k]) || expr[k] == '-') {
						k++
					}
					i = k
					continue
				}
				if k < n && expr[k] == '(' && lw != "and" && lw != "or" && lw != "unless" && lw != "bool" {
					// A label list: skip to its ")".
					e := strings.IndexByte(expr[k:], ')')
					if e < 0 {
						return nil, errUnbalanced
					}
					i = k + e + 1
					continue
				}
				i = j
			case k < n && expr[k] == '(':
				i = j // a function or an aggregation; "(" comes next
			case aggregationModifier(expr[k:]):
				i = j // sum by (leg) (...): the modifier's list is skipped next
			default:
				sel := selector{metric: word}
				i = j
				if k < n && expr[k] == '{' {
					labels, e, err := matchers(k)
					if err != nil {
						return nil, err
					}
					sel.labels = labels
					i = e
				}
				out = append(out, sel)
			}
		default:
			return nil, errSyntax
		}
	}
	if len(stack) != 0 {
		return nil, errUnbalanced
	}
	return out, nil
}

// aggregationModifier reports whether rest starts with "by (" or
// "without (", which follows an aggregation operator.
func aggregationModifier(rest string) bool {
	for _, kw := range []string{"by", "without"} {
		if r, ok := strings.CutPrefix(strings.ToLower(rest), kw); ok && strings.HasPrefix(strings.TrimLeft(r, " \t\r\n"), "(") {
			return true
		}
	}
	return false
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

const (
	errUnterminated = tokenError("unterminated string")
	errUnbalanced   = tokenError("unbalanced brackets")
	errSyntax       = tokenError("syntax error")
)

// TestTokenize pins the tokenizer on the forms the rules and the
// dashboard use.
func TestTokenize(t *testing.T) {
	tests := []struct {
		expr string
		want []selector
		err  bool
	}{
		{`up`, []selector{{metric: "up"}}, false},
		{`sum by (leg, le) (rate(a_bucket{leg="x",le="300"}[5m]))`, []selector{{metric: "a_bucket", labels: []string{"leg", "le"}}}, false},
		{`histogram_quantile(0.95, sum(rate(b_bucket{store=~"$store"}[$__rate_interval]))) > 2 and c offset 5m`, []selector{{metric: "b_bucket", labels: []string{"store"}}, {metric: "c"}}, false},
		{`max by (account) (x) / max by (account) (y) < 0.1`, []selector{{metric: "x"}, {metric: "y"}}, false},
		{`a * on (job) group_left (store) b`, []selector{{metric: "a"}, {metric: "b"}}, false},
		{`(1 - dropsync:x:ratio_rate1h) > 14.4 * 0.01`, []selector{{metric: "dropsync:x:ratio_rate1h"}}, false},
		{`sum(rate(a[5m])`, nil, true},
		{`a{b="c}`, nil, true},
		{`a{b}`, nil, true},
	}
	for _, tt := range tests {
		got, err := tokenize(tt.expr)
		if (err != nil) != tt.err {
			t.Errorf("tokenize(%q): error %v, want error %v", tt.expr, err, tt.err)
			continue
		}
		if !tt.err && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenize(%q) = %+v, want %+v", tt.expr, got, tt.want)
		}
	}
}

// TestDocumented: every metric of the catalog is in the package's table
// and in the README's "Metrics and SLOs".
func TestDocumented(t *testing.T) {
	for _, f := range []string{"doc.go", filepath.Join("..", "..", "README.md")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range metrics.Catalog {
			if !strings.Contains(string(b), d.Prometheus()) {
				t.Errorf("%s does not document %s", f, d.Prometheus())
			}
		}
	}
}
