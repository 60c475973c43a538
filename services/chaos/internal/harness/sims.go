package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// httpClient talks to the simulators' control APIs and the health
// endpoints.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// getJSON GETs url into v, retrying for up to wait (a simulator starting).
func getJSON(ctx context.Context, url string, v any, wait time.Duration) error {
	return poll(ctx, wait, func() error { return do(ctx, http.MethodGet, url, nil, v) })
}

// postJSON POSTs in as JSON to url and decodes the answer into out (if
// not nil).
func postJSON(ctx context.Context, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return do(ctx, http.MethodPost, url, body, out)
}

// postForm POSTs a form (the AliExpress simulator's controls).
func postForm(ctx context.Context, u string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(req, nil)
}

func do(ctx context.Context, method, url string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(req, out)
}

func send(req *http.Request, out any) error {
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
