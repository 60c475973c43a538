// Package wcapi is the WooCommerce adapter: the REST API v3 and the
// Shipment Tracking extension of one store, called through
// pkg/connector/client (so retries with backoff and jitter, 429 and
// Retry-After, and credential redaction are the ones every connector
// shares), authenticated by a Signer that signs each attempt afresh.
//
// Calls WooCommerce would carry out twice if sent twice (adding a
// tracking item, adding a note) are marked client.NotIdempotent: they are
// retried only when the store certainly did not act (429, 503, a refused
// connection); the caller reads the order again before trying once more.
// Setting an order's status is idempotent (WooCommerce acts on a status
// change only), so it is retried freely.
package wcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// API path prefixes under the site URL.
const (
	RESTPath     = "/wp-json/wc/v3"
	TrackingPath = "/wp-json/wc-shipment-tracking/v3"
)

// MaxPerPage is the largest page WooCommerce serves.
const MaxPerPage = 100

// Errors of a call the store answered with a 4xx. *APIError matches them
// with errors.Is.
var (
	// ErrNotFound: 404 (an unknown order, a route the store does not have).
	ErrNotFound = errors.New("woocommerce: not found")
	// ErrAuth: 401 or 403, the credentials are refused.
	ErrAuth = errors.New("woocommerce: credentials refused")
	// ErrRefused: any other 4xx, the store refused the request.
	ErrRefused = errors.New("woocommerce: request refused")
)

// APIError is WooCommerce's JSON error {"code", "message", "data":
// {"status"}}.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is WooCommerce's error code, e.g. "woocommerce_rest_shop_order_invalid_id".
	Code string
	// Message is WooCommerce's text.
	Message string
}

// Error describes the error.
func (e *APIError) Error() string {
	return fmt.Sprintf("woocommerce %d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches ErrNotFound, ErrAuth and ErrRefused by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrRefused:
		return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusNotFound &&
			e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden
	}
	return false
}

// classify is the client.Classifier of WooCommerce: 5xx, 408 and 429 as
// StatusClassifier says (retryable); any other failure is a permanent
// *APIError read from the body.
func classify(resp *client.Response) error {
	err := client.StatusClassifier(resp)
	s := resp.StatusCode
	if err == nil || s >= 500 || s == http.StatusTooManyRequests || s == http.StatusRequestTimeout {
		return err
	}
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	return client.Permanent(&APIError{Status: s, Code: body.Code, Message: body.Message})
}

// Config configures a Client.
type Config struct {
	// SiteURL is the store's home URL ("https://shop.example").
	SiteURL string
	// Auth is the authentication mode; default DefaultAuth(SiteURL).
	Auth Auth
	// ConsumerKey and ConsumerSecret are the REST API keys.
	ConsumerKey, ConsumerSecret string
	// Keys, when set, gives the REST API keys for each request instead
	// (credentials that follow their files, re-read when replaced).
	Keys func() (key, secret string)
	// RateKey keys the rate limiter ("woocommerce:<slug>").
	RateKey string
	// Outbound configures the shared outbound client; its HTTPClient's
	// transport, if any, sends the signed requests.
	Outbound client.Config
	// Now and Nonce feed the OAuth signer (tests); defaults time.Now and
	// random.
	Now   func() time.Time
	Nonce func() string
}

// Client calls one store. It is safe for concurrent use.
type Client struct {
	base    string
	rateKey string
	http    *client.Client
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.SiteURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("woocommerce site url %q is not absolute", cfg.SiteURL)
	}
	mode := cfg.Auth
	if mode == "" {
		mode = DefaultAuth(cfg.SiteURL)
	}
	if (mode == AuthBasic || mode == AuthQuery) && !strings.EqualFold(u.Scheme, "https") {
		return nil, fmt.Errorf("woocommerce auth %s needs an https site url: over plain http WooCommerce accepts OAuth 1.0a only", mode)
	}
	out := cfg.Outbound
	var base http.RoundTripper
	hc := &http.Client{}
	if out.HTTPClient != nil {
		base = out.HTTPClient.Transport
		hc.Timeout = out.HTTPClient.Timeout
	}
	hc.Transport = &Signer{Base: base, Mode: mode, Key: cfg.ConsumerKey, Secret: cfg.ConsumerSecret, Keys: cfg.Keys, Now: cfg.Now, Nonce: cfg.Nonce}
	out.HTTPClient = hc
	out.Classifier = classify
	key := cfg.RateKey
	if key == "" {
		key = u.Host
	}
	return &Client{base: strings.TrimRight(cfg.SiteURL, "/"), rateKey: key, http: client.New(out)}, nil
}

// call sends one request and decodes the JSON answer into out (when not
// nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any, opts ...client.Option) (*client.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	base := []client.Option{client.WithKey(c.rateKey)}
	if slug, ok := strings.CutPrefix(c.rateKey, "woocommerce:"); ok {
		base = append(base, client.WithStore(slug))
	}
	resp, err := c.http.Do(ctx, req, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

func orderPath(id int64) string { return RESTPath + "/orders/" + strconv.FormatInt(id, 10) }

// Order reads one order.
func (c *Client) Order(ctx context.Context, id int64) (domain.Order, error) {
	var raw json.RawMessage
	if _, err := c.call(ctx, http.MethodGet, orderPath(id), nil, nil, &raw); err != nil {
		return domain.Order{}, err
	}
	return domain.ParseOrder(raw)
}

// Page is one page of orders.
type Page struct {
	// Orders are the page's orders that parsed.
	Orders []domain.Order
	// Invalid counts orders on the page that did not parse.
	Invalid int
	// TotalPages is X-WP-TotalPages.
	TotalPages int
}

// Modified lists, oldest change first, the orders of status ("any" for
// every status but trash, "trash") modified after since: one page of
// MaxPerPage. modified_after is sent in UTC with dates_are_gmt=true;
// without it WooCommerce would read the time in the site's zone.
func (c *Client) Modified(ctx context.Context, since time.Time, status string, page int) (Page, error) {
	q := url.Values{
		"modified_after": {since.UTC().Format("2006-01-02T15:04:05")},
		"dates_are_gmt":  {"true"},
		"orderby":        {"modified"},
		"order":          {"asc"},
		"per_page":       {strconv.Itoa(MaxPerPage)},
		"page":           {strconv.Itoa(page)},
		"status":         {status},
	}
	var raw []json.RawMessage
	resp, err := c.call(ctx, http.MethodGet, RESTPath+"/orders", q, nil, &raw)
	if err != nil {
		return Page{}, err
	}
	var p Page
	p.TotalPages, _ = strconv.Atoi(resp.Header.Get("X-WP-TotalPages"))
	for _, r := range raw {
		o, err := domain.ParseOrder(r)
		if err != nil {
			p.Invalid++
			continue
		}
		p.Orders = append(p.Orders, o)
	}
	return p, nil
}

// Refunds reads an order's refunds with their line items.
func (c *Client) Refunds(ctx context.Context, id int64) ([]domain.RefundDetail, error) {
	var raw []struct {
		ID             int64   `json:"id"`
		DateCreatedGMT *string `json:"date_created_gmt"`
		Amount         string  `json:"amount"`
		LineItems      []struct {
			ProductID   int64 `json:"product_id"`
			VariationID int64 `json:"variation_id"`
			Quantity    int   `json:"quantity"`
			MetaData    []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"meta_data"`
		} `json:"line_items"`
	}
	if _, err := c.call(ctx, http.MethodGet, orderPath(id)+"/refunds", nil, nil, &raw); err != nil {
		return nil, err
	}
	out := make([]domain.RefundDetail, 0, len(raw))
	for _, r := range raw {
		created, _ := domain.ParseTime(r.DateCreatedGMT)
		d := domain.RefundDetail{ID: r.ID, Created: created, Amount: r.Amount}
		for _, li := range r.LineItems {
			item := domain.RefundLineItem{ProductID: li.ProductID, VariationID: li.VariationID, Quantity: li.Quantity}
			for _, m := range li.MetaData {
				if m.Key != "_refunded_item_id" {
					continue
				}
				var s string
				if json.Unmarshal(m.Value, &s) == nil {
					item.RefundedItemID, _ = strconv.ParseInt(s, 10, 64)
				} else {
					_ = json.Unmarshal(m.Value, &item.RefundedItemID)
				}
			}
			d.Items = append(d.Items, item)
		}
		out = append(out, d)
	}
	return out, nil
}

// Providers reads the providers the store's Shipment Tracking extension
// knows. installed is false when the store does not have the extension
// (WordPress answers 404 rest_no_route).
func (c *Client) Providers(ctx context.Context, orderID int64) (p domain.Providers, installed bool, err error) {
	var raw map[string]map[string]string
	_, err = c.call(ctx, http.MethodGet, TrackingPath+"/orders/"+strconv.FormatInt(orderID, 10)+"/shipment-trackings/providers", nil, nil, &raw)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "rest_no_route" {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p = domain.Providers{}
	for _, byName := range raw {
		for name := range byName {
			p[domain.SanitizeTitle(name)] = name
		}
	}
	return p, true, nil
}

// Trackings lists an order's Shipment Tracking items.
func (c *Client) Trackings(ctx context.Context, orderID int64) ([]domain.TrackingItem, error) {
	var raw []struct {
		ID       string `json:"tracking_id"`
		Provider string `json:"tracking_provider"`
		Link     string `json:"tracking_link"`
		Number   string `json:"tracking_number"`
	}
	if _, err := c.call(ctx, http.MethodGet, TrackingPath+"/orders/"+strconv.FormatInt(orderID, 10)+"/shipment-trackings", nil, nil, &raw); err != nil {
		return nil, err
	}
	out := make([]domain.TrackingItem, 0, len(raw))
	for _, r := range raw {
		out = append(out, domain.TrackingItem{ID: r.ID, Number: r.Number, Provider: r.Provider, Link: r.Link})
	}
	return out, nil
}

// AddTracking adds one Shipment Tracking item. It is not idempotent: read
// the order's items again before retrying a failure.
func (c *Client) AddTracking(ctx context.Context, orderID int64, w domain.TrackingWrite) error {
	body := map[string]string{"tracking_number": w.Number, "date_shipped": w.DateShipped}
	if w.Provider != "" {
		body["tracking_provider"] = w.Provider
	} else {
		body["custom_tracking_provider"] = w.CustomProvider
		body["custom_tracking_link"] = w.CustomLink
	}
	_, err := c.call(ctx, http.MethodPost, TrackingPath+"/orders/"+strconv.FormatInt(orderID, 10)+"/shipment-trackings", nil, body, nil, client.NotIdempotent())
	return err
}

// Notes lists an order's notes.
func (c *Client) Notes(ctx context.Context, orderID int64) ([]domain.Note, error) {
	var raw []struct {
		ID   int64  `json:"id"`
		Note string `json:"note"`
	}
	if _, err := c.call(ctx, http.MethodGet, orderPath(orderID)+"/notes", url.Values{"type": {"any"}}, nil, &raw); err != nil {
		return nil, err
	}
	out := make([]domain.Note, len(raw))
	for i, r := range raw {
		out[i] = domain.Note{ID: r.ID, Text: r.Note}
	}
	return out, nil
}

// DeleteNote deletes an order note for good (notes have no trash, so
// force=true is required). A note already gone is not an error.
func (c *Client) DeleteNote(ctx context.Context, orderID, noteID int64) error {
	path := orderPath(orderID) + "/notes/" + strconv.FormatInt(noteID, 10)
	_, err := c.call(ctx, http.MethodDelete, path, url.Values{"force": {"true"}}, nil, nil)
	return ignoreGone(err)
}

// DeleteTracking deletes one Shipment Tracking item. An item already gone
// is not an error.
func (c *Client) DeleteTracking(ctx context.Context, orderID int64, trackingID string) error {
	path := TrackingPath + "/orders/" + strconv.FormatInt(orderID, 10) + "/shipment-trackings/" + url.PathEscape(trackingID)
	_, err := c.call(ctx, http.MethodDelete, path, nil, nil, nil)
	return ignoreGone(err)
}

// ignoreGone makes a 404 of a DELETE a success: what was to go is gone,
// so a retried delete is safe.
func ignoreGone(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// AddNote adds an order note; customer true e-mails it to the customer.
// It is not idempotent: read the notes again before retrying a failure.
func (c *Client) AddNote(ctx context.Context, orderID int64, text string, customer bool) error {
	body := map[string]any{"note": text, "customer_note": customer}
	_, err := c.call(ctx, http.MethodPost, orderPath(orderID)+"/notes", nil, body, nil, client.NotIdempotent())
	return err
}

// SetStatus sets an order's status and returns the order. Setting the
// status it has changes nothing in WooCommerce (no e-mail), so a retry is
// safe.
func (c *Client) SetStatus(ctx context.Context, orderID int64, status string) (domain.Order, error) {
	var raw json.RawMessage
	if _, err := c.call(ctx, http.MethodPut, orderPath(orderID), nil, map[string]string{"status": status}, &raw); err != nil {
		return domain.Order{}, err
	}
	return domain.ParseOrder(raw)
}

// CompletedEmailEnabled reads whether the store sends its "Completed
// order" customer e-mail (WooCommerce > Settings > Emails).
func (c *Client) CompletedEmailEnabled(ctx context.Context) (bool, error) {
	var raw struct {
		Value string `json:"value"`
	}
	if _, err := c.call(ctx, http.MethodGet, RESTPath+"/settings/email_customer_completed_order/enabled", nil, nil, &raw); err != nil {
		return false, err
	}
	return raw.Value == "yes", nil
}
