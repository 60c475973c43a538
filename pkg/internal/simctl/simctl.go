// Package simctl serves the platform simulators' control and inspection
// API: small JSON endpoints under /_sim/ that let a harness in another
// process act as customer, merchant or seller and read what the platform
// received.
package simctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Prefix is the path every control endpoint lives under.
const Prefix = "/_sim/"

// maxBody bounds a control request's body.
const maxBody = 1 << 20

// Func answers one control request: the value is written as JSON (nil:
// 204 No Content), an error as 409 Conflict with its text, or as 400 when
// it wraps ErrBadRequest.
type Func func(r *http.Request) (any, error)

// ErrBadRequest marks a request the endpoint cannot read.
var ErrBadRequest = errors.New("bad request")

// Handle registers f on mux under pattern ("GET /_sim/orders").
func Handle(mux *http.ServeMux, pattern string, f Func) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		switch {
		case errors.Is(err, ErrBadRequest):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusConflict)
		case v == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		}
	})
}

// Decode reads the request's JSON body into v.
func Decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: read body: %w", ErrBadRequest, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: decode body: %w", ErrBadRequest, err)
	}
	return nil
}
