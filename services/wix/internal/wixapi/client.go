// Package wixapi calls the Wix eCommerce REST API (Orders and Order
// Fulfillments) for the connector, through the shared outbound client
// (pkg/connector/client): one token bucket per app instance keeps the
// connector under Wix's 200 requests a minute, 429 Retry-After pauses the
// instance's bucket, 5xx and timeouts are retried with backoff and jitter.
package wixapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
)

// DefaultBaseURL is Wix's API host.
const DefaultBaseURL = "https://www.wixapis.com"

// DefaultRequestsPerMinute is the connector's own budget per app instance,
// below Wix's 200: a token bucket lets its burst through on top of its
// rate in any one window, and requests reach Wix a little later or
// earlier than they leave (Limit(170) lets at most 178 through in any
// minute).
const DefaultRequestsPerMinute = 170

// Limit is the token bucket of n requests per window (Wix: a minute) per
// app instance, with a burst of n/20, so no sliding window holds more than
// 1.05 n requests.
func Limit(n int, window time.Duration) client.Limit {
	return client.Limit{Rate: float64(n) / window.Seconds(), Burst: max(1, float64(n)/20)}
}

// Site is what a call needs to act on a store's site.
type Site struct {
	// SiteID is the site's id (sent as wix-site-id with an API key).
	SiteID string
	// InstanceID is the app instance on the site: the rate limiting key.
	InstanceID string
	// Credential is the instance's OAuth access token, or an API key.
	Credential config.Secret
	// APIKey marks Credential as an API key: wix-site-id is sent too.
	APIKey bool
	// Slug names the store in metrics (its connection health); optional.
	Slug string
}

// Config configures a Client.
type Config struct {
	// BaseURL is Wix's API host (a simulator's URL in tests); default
	// DefaultBaseURL.
	BaseURL string
	// Limit is each app instance's token bucket; default
	// Limit(DefaultRequestsPerMinute, time.Minute).
	Limit client.Limit
	// MaxAttempts, AttemptTimeout, MaxElapsed, BaseBackoff and MaxBackoff
	// tune the retries (pkg/connector/client defaults when zero).
	MaxAttempts             int
	AttemptTimeout          time.Duration
	MaxElapsed              time.Duration
	BaseBackoff, MaxBackoff time.Duration
	// MaxPause caps every wait Wix asks for (client.DefaultMaxPause when
	// zero).
	MaxPause time.Duration
	// HTTPClient sends the requests.
	HTTPClient *http.Client
	// Logger receives retries at debug level.
	Logger *slog.Logger
	// Health is told each site's connection health from the answers
	// (client.HealthObserver); nil: nobody.
	Health client.HealthObserver
}

// Client calls the Wix eCommerce API. It is safe for concurrent use.
type Client struct {
	base string
	c    *client.Client
}

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Limit == (client.Limit{}) {
		cfg.Limit = Limit(DefaultRequestsPerMinute, time.Minute)
	}
	return &Client{
		base: strings.TrimRight(cfg.BaseURL, "/") + "/ecom/v1",
		c: client.New(client.Config{
			HTTPClient:     cfg.HTTPClient,
			Limit:          cfg.Limit,
			Classifier:     classify,
			MaxAttempts:    cfg.MaxAttempts,
			AttemptTimeout: cfg.AttemptTimeout,
			MaxElapsed:     cfg.MaxElapsed,
			BaseBackoff:    cfg.BaseBackoff,
			MaxBackoff:     cfg.MaxBackoff,
			MaxPause:       cfg.MaxPause,
			Logger:         cfg.Logger,
			Health:         cfg.Health,
		}),
	}
}

// APIError is a call Wix refused (4xx): the status, Wix's error code
// (details.applicationError.code, or the first violated field) and
// message.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error describes the refusal: status, code and Wix's message.
func (e *APIError) Error() string {
	return fmt.Sprintf("wix %d %s: %s", e.Status, e.Code, e.Message)
}

// IsStatus reports whether err is an APIError with the status.
func IsStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

// classify is StatusClassifier, with Wix's error body read into an
// APIError for 4xx answers other than 408 and 429.
func classify(resp *client.Response) error {
	err := client.StatusClassifier(resp)
	s := resp.StatusCode
	if err == nil || s < 400 || s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests {
		return err
	}
	var body struct {
		Message string `json:"message"`
		Details struct {
			ApplicationError *struct {
				Code string `json:"code"`
			} `json:"applicationError"`
			ValidationError *struct {
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"validationError"`
		} `json:"details"`
	}
	e := &APIError{Status: s}
	if json.Unmarshal(resp.Body, &body) == nil {
		e.Message = body.Message
		switch d := body.Details; {
		case d.ApplicationError != nil:
			e.Code = d.ApplicationError.Code
		case d.ValidationError != nil && len(d.ValidationError.FieldViolations) > 0:
			e.Code = "INVALID_ARGUMENT:" + d.ValidationError.FieldViolations[0].Field
		}
	}
	return client.Permanent(e)
}

// do sends one call as the site and decodes a successful answer into out.
func (c *Client) do(ctx context.Context, site Site, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s: %w", path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request %s: %w", path, err)
	}
	if in == nil {
		req.Body, req.GetBody = http.NoBody, nil
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", site.Credential.Reveal())
	if site.APIKey {
		req.Header.Set("wix-site-id", site.SiteID)
	}
	opts := []client.Option{client.WithKey("wix:" + site.InstanceID)}
	if site.Slug != "" {
		opts = append(opts, client.WithStore(site.Slug))
	}
	resp, err := c.c.Do(ctx, req, opts...)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("decode %s answer: %w", path, err)
		}
	}
	return nil
}

// GetOrder reads an order.
func (c *Client) GetOrder(ctx context.Context, site Site, orderID string) (domain.Order, error) {
	var out struct {
		Order json.RawMessage `json:"order"`
	}
	if err := c.do(ctx, site, http.MethodGet, "/orders/"+url.PathEscape(orderID), nil, &out); err != nil {
		return domain.Order{}, fmt.Errorf("get order %s: %w", orderID, err)
	}
	o, err := domain.ParseOrder(out.Order)
	if err != nil {
		return domain.Order{}, fmt.Errorf("get order %s: %w", orderID, err)
	}
	return o, nil
}

// Page is one page of Search Orders.
type Page struct {
	Orders []domain.Order
	// Next is the cursor of the next page; empty on the last.
	Next string
}

// SearchChanged reads the orders updated at or after since, oldest change
// first, limit (1 to 100) a page; cursor continues a previous page.
func (c *Client) SearchChanged(ctx context.Context, site Site, since time.Time, cursor string, limit int) (Page, error) {
	type paging struct {
		Limit  int    `json:"limit"`
		Cursor string `json:"cursor,omitempty"`
	}
	search := map[string]any{"cursorPaging": paging{Limit: limit, Cursor: cursor}}
	if cursor == "" {
		search["filter"] = map[string]any{"updatedDate": map[string]string{"$gte": since.UTC().Format("2006-01-02T15:04:05.000Z07:00")}}
		search["sort"] = []map[string]string{{"fieldName": "updatedDate", "order": "ASC"}}
	}
	var out struct {
		Orders   []json.RawMessage `json:"orders"`
		Metadata struct {
			HasNext bool `json:"hasNext"`
			Cursors struct {
				Next string `json:"next"`
			} `json:"cursors"`
		} `json:"metadata"`
	}
	if err := c.do(ctx, site, http.MethodPost, "/orders/search", map[string]any{"search": search}, &out); err != nil {
		return Page{}, fmt.Errorf("search orders: %w", err)
	}
	var p Page
	for i, raw := range out.Orders {
		o, err := domain.ParseOrder(raw)
		if err != nil {
			return Page{}, fmt.Errorf("search orders: order %d: %w", i, err)
		}
		p.Orders = append(p.Orders, o)
	}
	if out.Metadata.HasNext {
		p.Next = out.Metadata.Cursors.Next
	}
	return p, nil
}

// ListFulfillments reads an order's fulfilments.
func (c *Client) ListFulfillments(ctx context.Context, site Site, orderID string) ([]domain.Fulfillment, error) {
	var out struct {
		OrderWithFulfillments json.RawMessage `json:"orderWithFulfillments"`
	}
	if err := c.do(ctx, site, http.MethodGet, "/fulfillments/orders/"+url.PathEscape(orderID), nil, &out); err != nil {
		return nil, fmt.Errorf("list fulfillments of %s: %w", orderID, err)
	}
	ow, err := domain.ParseOrderWithFulfillments(out.OrderWithFulfillments)
	if err != nil {
		return nil, fmt.Errorf("list fulfillments of %s: %w", orderID, err)
	}
	return ow.Fulfillments, nil
}

// fulfillmentJSON is a create call's fulfilment.
type fulfillmentJSON struct {
	LineItems    []lineJSON    `json:"lineItems"`
	TrackingInfo *trackingJSON `json:"trackingInfo,omitempty"`
}

type lineJSON struct {
	ID       string `json:"id"`
	Quantity int    `json:"quantity"`
}

type trackingJSON struct {
	TrackingNumber   string `json:"trackingNumber"`
	ShippingProvider string `json:"shippingProvider"`
	TrackingLink     string `json:"trackingLink,omitempty"`
}

// CreateFulfillment creates a fulfilment and returns its id. Wix answers
// 409 (IsStatus(err, 409)) when it exists already, which may be this very
// call's earlier attempt: a retry is therefore safe, and the caller tells
// its own from someone else's with ListFulfillments and domain.Ours.
func (c *Client) CreateFulfillment(ctx context.Context, site Site, orderID string, in domain.FulfillmentInput) (string, error) {
	f := fulfillmentJSON{LineItems: make([]lineJSON, 0, len(in.Lines))}
	for _, l := range in.Lines {
		f.LineItems = append(f.LineItems, lineJSON{ID: l.LineItemID, Quantity: l.Quantity})
	}
	if t := in.Tracking; t != nil {
		f.TrackingInfo = &trackingJSON{TrackingNumber: t.Number, ShippingProvider: t.Provider, TrackingLink: t.Link}
	}
	var out struct {
		FulfillmentID string `json:"fulfillmentId"`
	}
	path := "/fulfillments/orders/" + url.PathEscape(orderID) + "/create-fulfillment"
	if err := c.do(ctx, site, http.MethodPost, path, map[string]any{"fulfillment": f}, &out); err != nil {
		return "", fmt.Errorf("create fulfillment of %s: %w", orderID, err)
	}
	if out.FulfillmentID == "" {
		return "", fmt.Errorf("create fulfillment of %s: answer has no fulfillmentId", orderID)
	}
	return out.FulfillmentID, nil
}

// UpdateTracking replaces a fulfilment's tracking info (Wix's Update
// Fulfillment: PATCH /fulfillments/{fulfillmentId}/orders/{orderId}; its
// lines cannot change). Setting the same tracking again changes nothing,
// so a retry is safe. Wix sends no e-mail for it.
func (c *Client) UpdateTracking(ctx context.Context, site Site, orderID, fulfillmentID string, t domain.Tracking) error {
	in := map[string]any{"fulfillment": map[string]any{
		"trackingInfo": trackingJSON{TrackingNumber: t.Number, ShippingProvider: t.Provider, TrackingLink: t.Link},
	}}
	path := "/fulfillments/" + url.PathEscape(fulfillmentID) + "/orders/" + url.PathEscape(orderID)
	if err := c.do(ctx, site, http.MethodPatch, path, in, nil); err != nil {
		return fmt.Errorf("update tracking of fulfillment %s of %s: %w", fulfillmentID, orderID, err)
	}
	return nil
}
