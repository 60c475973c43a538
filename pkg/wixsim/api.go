package wixsim

import (
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// BasePath is where the eCommerce API lives under the simulator's URL, as
// under https://www.wixapis.com.
const BasePath = "/ecom/v1"

// ServeHTTP serves the eCommerce REST API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+BasePath+"/orders/{id}", s.api("getOrder", false, s.getOrder))
	m.HandleFunc("POST "+BasePath+"/orders/search", s.api("searchOrders", false, s.searchOrders))
	m.HandleFunc("POST "+BasePath+"/fulfillments/orders/{orderId}/create-fulfillment", s.api("createFulfillment", true, s.createFulfillment))
	m.HandleFunc("GET "+BasePath+"/fulfillments/orders/{orderId}", s.api("listFulfillments", false, s.listFulfillments))
	m.HandleFunc("PATCH "+BasePath+"/fulfillments/{fulfillmentId}/orders/{orderId}", s.api("updateFulfillment", true, s.updateFulfillment))
	m.HandleFunc("POST "+BasePath+"/fulfillments/orders/bulk/create-fulfillments", s.api("bulkCreateFulfillments", true, s.bulkCreateFulfillments))
	m.Handle(simctl.Prefix, s.controlMux()) // the simulator's own controls, not Wix's API
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// reply is what an endpoint answers.
type reply struct {
	status int
	body   any
}

func ok(v any) reply { return reply{status: http.StatusOK, body: v} }

func fail(status int, code, msg string) reply {
	return reply{status: status, body: ErrorBody{Message: msg, Details: ErrorDetails{ApplicationError: &ApplicationError{Code: code, Description: msg}}}}
}

func invalid(field, msg string) reply {
	return reply{status: http.StatusBadRequest, body: ErrorBody{Message: field + ": " + msg, Details: ErrorDetails{
		ValidationError: &ValidationError{FieldViolations: []FieldViolation{{Field: field, Description: msg, ViolatedRule: "VALIDATION"}}},
	}}}
}

// endpoint runs with s.mu held, for an authenticated site.
type endpoint func(site *simSite, r *http.Request, body []byte) reply

// api wraps an endpoint with what every call goes through: the body read,
// authentication, the rate limit per app instance, injected faults and
// the counters. write marks calls that change something (a lost response
// happens after the change).
func (s *Sim) api(name string, write bool, h endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "body unreadable")
			return
		}
		s.mu.Lock()
		site, rep := s.authenticate(r)
		if site == nil {
			s.mu.Unlock()
			writeJSON(w, rep.status, rep.body)
			return
		}
		if r.Method == http.MethodPost {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				s.st.BadRequests++
				s.mu.Unlock()
				writeError(w, http.StatusBadRequest, "BAD_REQUEST", "Content-Type must be application/json")
				return
			}
		}
		if wait, limited := s.admit(site.cfg.InstanceID); limited {
			s.st.RateLimited++
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, http.StatusTooManyRequests, CodeTooManyRequests, "rate limit exceeded: 200 requests per minute per app instance")
			return
		}
		f := s.f
		switch {
		case s.chance(f.TooManyRequests):
			s.st.TooManyRequests++
			s.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, CodeTooManyRequests, "too many requests")
			return
		case s.chance(f.ServerErrors):
			s.st.ServerErrors++
			status := http.StatusInternalServerError
			if s.rng.IntN(2) == 0 {
				status = http.StatusServiceUnavailable
			}
			s.mu.Unlock()
			writeError(w, status, CodeInternal, "internal error")
			return
		}
		lost := write && s.chance(f.LostResponses)
		s.st.Calls[name]++
		rep = h(site, r, body)
		switch rep.status {
		case http.StatusBadRequest:
			s.st.BadRequests++
		case http.StatusConflict:
			s.st.Conflicts++
		case http.StatusNotFound:
			s.st.NotFound++
		}
		if lost {
			s.st.LostResponses++
		}
		s.mu.Unlock()
		if lost {
			writeError(w, http.StatusGatewayTimeout, CodeUnavailable, "upstream timeout")
			return
		}
		writeJSON(w, rep.status, rep.body)
	}
}

// authenticate finds the site a request acts on: "Authorization: <OAuth
// access token>" (no scheme), or "Authorization: <API key>" with the site
// in wix-site-id. s.mu is held.
func (s *Sim) authenticate(r *http.Request) (*simSite, reply) {
	auth := r.Header.Get("Authorization")
	siteID := r.Header.Get("wix-site-id")
	deny := func(status int, code, msg string) (*simSite, reply) {
		if status == http.StatusUnauthorized {
			s.st.Unauthenticated++
		} else {
			s.st.PermissionDenied++
		}
		return nil, fail(status, code, msg)
	}
	if auth == "" {
		return deny(http.StatusUnauthorized, CodeUnauthenticated, "missing Authorization header")
	}
	if site, ok := s.byToken[auth]; ok {
		if siteID != "" && siteID != site.cfg.SiteID {
			return deny(http.StatusForbidden, CodePermissionDenied, "token does not belong to site "+siteID)
		}
		return site, reply{}
	}
	if sites, ok := s.byKey[auth]; ok {
		if siteID == "" {
			return deny(http.StatusForbidden, CodePermissionDenied, "API key requests must name the site in wix-site-id")
		}
		for _, site := range sites {
			if site.cfg.SiteID == siteID {
				return site, reply{}
			}
		}
		return deny(http.StatusForbidden, CodePermissionDenied, "API key has no access to site "+siteID)
	}
	return deny(http.StatusUnauthorized, CodeUnauthenticated, "invalid token")
}

// admit counts a request of an app instance against the sliding window and
// tells how long to wait when it is over the limit. s.mu is held.
func (s *Sim) admit(instance string) (time.Duration, bool) {
	now := time.Now()
	from := now.Add(-s.cfg.RateWindow)
	calls := s.calls[instance]
	i := 0
	for i < len(calls) && !calls[i].After(from) {
		i++
	}
	calls = calls[i:]
	if len(calls) >= s.cfg.RateLimit {
		s.calls[instance] = calls
		return calls[0].Add(s.cfg.RateWindow).Sub(now), true
	}
	s.calls[instance] = append(calls, now)
	return 0, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encode"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, fail(status, code, msg).body)
}

// decodeStrict decodes a request body, refusing unknown fields as Wix's
// validation does for mistyped ones.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
