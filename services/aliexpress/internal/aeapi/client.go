// Package aeapi is the AliExpress Open Platform adapter: it signs and sends
// calls (through pkg/connector/client, so rate limits, retries and
// redaction are shared with every connector), reads AliExpress's response
// quirks, refreshes the access token when it lapses, and returns typed
// results or *APIError.
package aeapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
)

// API names.
const (
	MethodOrderCreate = "aliexpress.ds.order.create"
	MethodOrderGet    = "aliexpress.trade.ds.order.get"
	MethodTrackingGet = "aliexpress.ds.order.tracking.get"
	PathTokenRefresh  = "/auth/token/refresh"
)

// Config configures a Client. Secrets are never logged nor put in errors.
type Config struct {
	// BaseURL is the gateway, "https://api-sg.aliexpress.com" or a simulator.
	BaseURL string
	// AppKey and AppSecret identify the app; AppSecret signs.
	AppKey, AppSecret string
	// AccessToken and RefreshToken act for the merchant's buyer account.
	AccessToken, RefreshToken string
	// Language of tracking texts; default "en_US".
	Language string
	// Now is the clock of timestamps; default time.Now.
	Now func() time.Time
	// HTTP is the outbound client; default one with the default Config.
	HTTP *client.Client
	// OnCalls is told how many HTTP attempts each call made (the daily
	// API budget counts them).
	OnCalls func(n int)
	// OnHealth is told when a business call works (nil), or when
	// AliExpress refuses the credentials (Auth(), after a refresh was
	// tried) or the app's call limits (QuotaExhausted() or Throttled(),
	// after the retries).
	OnHealth func(err *APIError)
}

// Client calls AliExpress. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *client.Client
	mu      sync.Mutex
	access  string
	refresh string
}

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.Language == "" {
		cfg.Language = "en_US"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := cfg.HTTP
	if h == nil {
		h = client.New(client.Config{})
	}
	return &Client{cfg: cfg, http: h, access: cfg.AccessToken, refresh: cfg.RefreshToken}
}

// Sign is AliExpress's signature: every parameter but sign, sorted by name,
// as name1value1name2value2..., with apiPath in front for /rest APIs (""
// for /sync), HMAC-SHA256 keyed with the app secret, upper-case hex.
func Sign(secret, apiPath string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(apiPath))
	for _, k := range keys {
		mac.Write([]byte(k))
		mac.Write([]byte(params.Get(k)))
	}
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// Classify is the client.Classifier of AliExpress: StatusClassifier, then
// an error_response inside an HTTP 200 becomes an *APIError, retryable
// when it is a rate limit or a server-side failure.
func Classify(resp *client.Response) error {
	if err := client.StatusClassifier(resp); err != nil {
		return err
	}
	var body struct {
		ErrorResponse *struct {
			Code      Code   `json:"code"`
			Msg       string `json:"msg"`
			SubCode   string `json:"sub_code"`
			SubMsg    string `json:"sub_msg"`
			RequestID string `json:"request_id"`
		} `json:"error_response"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return client.Retryable(fmt.Errorf("%w: not JSON: %w", ErrMalformed, err), 0)
	}
	if body.ErrorResponse == nil {
		return nil
	}
	er := body.ErrorResponse
	e := &APIError{Code: string(er.Code), Msg: er.Msg, SubCode: er.SubCode, SubMsg: er.SubMsg, RequestID: er.RequestID}
	switch {
	case e.QuotaExhausted():
		return client.Permanent(e)
	case e.Throttled():
		return client.Retryable(e, time.Second)
	case e.Transient():
		return client.Retryable(e, 0)
	}
	return client.Permanent(e)
}

func (c *Client) tokens() (access, refresh string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.access, c.refresh
}

// call sends a signed call to /sync (path "") or /rest<path> and returns
// the body. A business call whose token lapsed is retried once after a
// refresh.
func (c *Client) call(ctx context.Context, method, path string, biz url.Values) ([]byte, error) {
	body, err := c.send(ctx, method, path, biz)
	var ae *APIError
	if path == "" && errors.As(err, &ae) && ae.Expired() {
		if _, refresh := c.tokens(); refresh != "" {
			if rerr := c.Refresh(ctx); rerr == nil {
				body, err = c.send(ctx, method, path, biz)
			}
		}
	}
	if c.cfg.OnHealth != nil && path == "" {
		switch {
		case err == nil:
			c.cfg.OnHealth(nil)
		case errors.As(err, &ae) && (ae.Auth() || ae.QuotaExhausted() || ae.Throttled()):
			c.cfg.OnHealth(ae)
		}
	}
	return body, err
}

func (c *Client) send(ctx context.Context, method, path string, biz url.Values) ([]byte, error) {
	p := url.Values{}
	for k, v := range biz {
		p[k] = v
	}
	p.Set("app_key", c.cfg.AppKey)
	p.Set("timestamp", strconv.FormatInt(c.cfg.Now().UnixMilli(), 10))
	p.Set("sign_method", "sha256")
	p.Set("format", "json")
	p.Set("v", "2.0")
	target := strings.TrimRight(c.cfg.BaseURL, "/")
	if path == "" {
		access, _ := c.tokens()
		p.Set("method", method)
		p.Set("access_token", access)
		target += "/sync?method=" + url.QueryEscape(method)
	} else {
		target += "/rest" + path
	}
	p.Set("sign", Sign(c.cfg.AppSecret, path, p))
	form := url.Values{}
	for k, v := range p {
		if k != "method" || path != "" {
			form[k] = v
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := c.http.Do(ctx, req, client.WithKey("aliexpress:"+c.cfg.AppKey+":"+method), client.WithClassifier(Classify))
	if c.cfg.OnCalls != nil {
		n := 0
		var ce *client.Error
		switch {
		case resp != nil:
			n = resp.Attempts
		case errors.As(err, &ce):
			n = ce.Attempts
		}
		c.cfg.OnCalls(n)
	}
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// result decodes {"<method>_response": {"result": ...}} into out.
func result(method string, body []byte, out any) error {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return malformed(method, err.Error())
	}
	raw, ok := env[responseKey(method)]
	if !ok {
		return malformed(method, "no "+responseKey(method))
	}
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Result) == 0 {
		return malformed(method, "no result")
	}
	dec := json.NewDecoder(bytes.NewReader(r.Result))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return malformed(method, err.Error())
	}
	return nil
}

// Refresh exchanges the refresh token for a new access token.
func (c *Client) Refresh(ctx context.Context) error {
	_, refresh := c.tokens()
	if refresh == "" {
		return errors.New("aliexpress: no refresh token")
	}
	body, err := c.send(ctx, PathTokenRefresh, PathTokenRefresh, url.Values{"refresh_token": {refresh}})
	if err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return malformed(PathTokenRefresh, "no access_token")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.access = tok.AccessToken
	if tok.RefreshToken != "" {
		c.refresh = tok.RefreshToken
	}
	return nil
}
