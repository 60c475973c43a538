package shopifysim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// versionPath matches the GraphQL endpoint; an optional first segment names
// the shop when the simulator serves several on one address
// ("/demo.myshopify.com/admin/api/2025-10/graphql.json").
var versionPath = regexp.MustCompile(`^(?:/([a-z0-9][a-z0-9.-]*))?/admin/api/([0-9]{4}-(?:01|04|07|10)|unstable)/graphql\.json$`)

// ServeHTTP serves the Admin GraphQL API. The shop is the path prefix, the
// Host header, or else the one whose access token the request carries.
// Paths under /_sim/ are the simulator's own controls (see controlMux).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, simctl.Prefix) {
		s.ctl.ServeHTTP(w, r)
		return
	}
	m := versionPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": "Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"errors": "Method Not Allowed"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": "Bad Request"})
		return
	}
	token := r.Header.Get("X-Shopify-Access-Token")

	s.mu.Lock()
	s.stats.Calls++
	sh := s.shops[m[1]]
	if sh == nil {
		host, _, _ := strings.Cut(r.Host, ":")
		sh = s.shops[host]
	}
	if sh == nil && token != "" {
		for _, c := range s.shops {
			if c.cfg.AccessToken == token {
				sh = c
			}
		}
	}
	if sh == nil || token == "" || token != sh.cfg.AccessToken {
		s.stats.Unauthorized++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	f := s.faults
	if len(f.Only) > 0 && !mentions(body, f.Only) {
		f = Faults{}
	}
	switch {
	case s.chance(f.TooManyRequests):
		s.stats.TooManyRequests++
		s.mu.Unlock()
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", strconv.FormatFloat(ra.Seconds(), 'f', -1, 64))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})
		return
	case s.chance(f.ServerErrors):
		s.stats.ServerErrors++
		code := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[s.rng.IntN(3)]
		s.mu.Unlock()
		writeJSON(w, code, map[string]any{"errors": http.StatusText(code)})
		return
	}
	lost, slow := s.chance(f.LostResponses), s.chance(f.SlowResponses)
	if lost {
		s.stats.LostResponses++
	} else if slow {
		s.stats.SlowResponses++
	}
	status, resp := s.graphql(sh, r.Header.Get("Content-Type"), body)
	s.mu.Unlock()

	switch {
	case lost:
		writeJSON(w, http.StatusGatewayTimeout, map[string]any{"errors": "Gateway Timeout"})
		return
	case slow:
		d := f.SlowDelay
		if d <= 0 {
			d = 10 * time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

type costStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

type cost struct {
	RequestedQueryCost float64    `json:"requestedQueryCost"`
	ActualQueryCost    *float64   `json:"actualQueryCost"`
	ThrottleStatus     costStatus `json:"throttleStatus"`
}

// graphql runs one request; s.mu is held.
func (s *Sim) graphql(sh *simShop, contentType string, body []byte) (int, any) {
	now := s.cfg.Now()
	sh.refill(now)
	status := func() costStatus {
		return costStatus{MaximumAvailable: sh.cfg.MaximumAvailable, CurrentlyAvailable: float64(int(sh.available)), RestoreRate: sh.cfg.RestoreRate}
	}
	if ct, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(ct) != "application/json" {
		s.stats.BadRequests++
		return http.StatusUnsupportedMediaType, map[string]any{"errors": "Content-Type must be application/json"}
	}
	var req struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.Query == "" {
		s.stats.BadRequests++
		return http.StatusBadRequest, map[string]any{"errors": map[string]any{"query": "Required parameter missing or invalid"}}
	}
	c, requested, errs := prepare(adminSchema, req.Query, req.OperationName, req.Variables)
	if errs != nil {
		s.stats.BadRequests++
		return http.StatusOK, map[string]any{"errors": errs}
	}
	ext := func(actual *float64) map[string]any {
		return map[string]any{"cost": cost{RequestedQueryCost: requested, ActualQueryCost: actual, ThrottleStatus: status()}}
	}
	if requested > sh.cfg.MaximumAvailable {
		s.stats.BadRequests++
		return http.StatusOK, map[string]any{
			"errors": []*gqlError{{
				Message:    "Query cost is " + strconv.Itoa(int(requested)) + ", which exceeds the single query max cost limit (" + strconv.Itoa(int(sh.cfg.MaximumAvailable)) + ").",
				Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": sh.cfg.MaximumAvailable},
			}},
			"extensions": ext(nil),
		}
	}
	if requested > sh.available {
		s.stats.Throttled++
		return http.StatusOK, map[string]any{
			"errors": []*gqlError{{
				Message:    "Throttled",
				Extensions: map[string]any{"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/limits#rate-limits"},
			}},
			"extensions": ext(nil),
		}
	}
	sh.available -= requested
	root, rootType := any(struct{}{}), "QueryRoot"
	if c.op.kind == "mutation" {
		rootType = "Mutation"
	}
	x := &executor{c: c, resolvers: s.resolvers(sh)}
	if s.stats.Operations == nil {
		s.stats.Operations = map[string]int{}
	}
	for _, f := range c.op.sel {
		s.stats.Operations[f.name]++
	}
	data := x.run(root, rootType)
	actual := x.actual
	if c.op.kind == "mutation" {
		actual = requested
	}
	actual = min(actual, requested)
	sh.available = min(sh.cfg.MaximumAvailable, sh.available+requested-actual)
	resp := map[string]any{"data": data, "extensions": ext(&actual)}
	if len(x.errs) > 0 {
		resp["errors"] = x.errs
	}
	return http.StatusOK, resp
}

// mentions reports whether a request's query names one of the root fields
// (a cheap look at the text: enough to aim faults at one operation).
func mentions(body []byte, fields []string) bool {
	var req struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(body, &req) != nil {
		return false
	}
	for _, f := range fields {
		if strings.Contains(req.Query, f) {
			return true
		}
	}
	return false
}
