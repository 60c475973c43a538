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
	PathTokenCreate   = "/auth/token/create"
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
	e, err := ParseError(resp.Body)
	if err != nil {
		return client.Retryable(err, 0)
	}
	if e == nil {
		return nil
	}
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

// ParseError reads the refusal in a response body, nil when there is
// none: {"error_response": {code, msg, sub_code, sub_msg, request_id}} of
// /sync APIs, or the top-level {code, type, message, request_id} of /rest
// APIs (token create and refresh), whose success carries code "0". Codes
// may be strings or numbers. A body that is not a JSON object is
// ErrMalformed.
func ParseError(body []byte) (*APIError, error) {
	var r struct {
		ErrorResponse *struct {
			Code      Code `json:"code"`
			Msg       Text `json:"msg"`
			Message   Text `json:"message"`
			SubCode   Code `json:"sub_code"`
			SubMsg    Text `json:"sub_msg"`
			RequestID Text `json:"request_id"`
		} `json:"error_response"`
		Code        Code            `json:"code"`
		Message     Text            `json:"message"`
		Msg         Text            `json:"msg"`
		RequestID   Text            `json:"request_id"`
		AccessToken json.RawMessage `json:"access_token"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %w", ErrMalformed, err)
	}
	if er := r.ErrorResponse; er != nil {
		e := &APIError{Code: string(er.Code), Msg: string(er.Msg), SubCode: string(er.SubCode), SubMsg: string(er.SubMsg), RequestID: string(er.RequestID)}
		if e.Msg == "" {
			e.Msg = string(er.Message)
		}
		if e.Code == "" && e.SubCode == "" {
			e.Code = "error_response"
		}
		return e, nil
	}
	if r.Code != "" && r.Code != "0" && len(r.AccessToken) == 0 {
		msg := r.Message
		if msg == "" {
			msg = r.Msg
		}
		return &APIError{Code: string(r.Code), Msg: string(msg), RequestID: string(r.RequestID)}, nil
	}
	return nil, nil
}

// result decodes {"<method>_response": {"result": ...}} into out. An
// error_response is its *APIError; a missing or null result is
// ErrMalformed.
func result(method string, body []byte, out any) error {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return malformed(method, err.Error())
	}
	if _, ok := env["error_response"]; ok {
		if e, err := ParseError(body); err == nil && e != nil {
			return e
		}
	}
	raw, ok := env[responseKey(method)]
	if !ok {
		return malformed(method, "no "+responseKey(method))
	}
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || !isObject(r.Result) {
		return malformed(method, "no result")
	}
	dec := json.NewDecoder(bytes.NewReader(r.Result))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return malformed(method, err.Error())
	}
	return nil
}

// isObject reports whether b is a JSON object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// Token is the result of token create or refresh.
type Token struct {
	AccessToken, RefreshToken string
	// ExpiresAt and RefreshExpiresAt are expire_time and
	// refresh_token_valid_time (epoch ms); zero when absent.
	ExpiresAt, RefreshExpiresAt time.Time
	// UserID and Account name the authorising AliExpress user.
	UserID, Account string
}

// ParseToken decodes the body of /auth/token/create or
// /auth/token/refresh: the token fields at the top level, numbers as
// numbers or strings; a refusal is its *APIError. A token without
// access_token is ErrMalformed.
func ParseToken(path string, body []byte) (*Token, error) {
	e, err := ParseError(body)
	if err != nil {
		return nil, malformed(path, err.Error())
	}
	if e != nil {
		return nil, e
	}
	var r struct {
		AccessToken  Text `json:"access_token"`
		RefreshToken Text `json:"refresh_token"`
		ExpireTime   ID   `json:"expire_time"`
		RefreshValid ID   `json:"refresh_token_valid_time"`
		UserID       ID   `json:"user_id"`
		Account      Text `json:"account"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, malformed(path, err.Error())
	}
	if r.AccessToken == "" {
		return nil, malformed(path, "no access_token")
	}
	t := &Token{AccessToken: string(r.AccessToken), RefreshToken: string(r.RefreshToken), UserID: string(r.UserID), Account: string(r.Account)}
	ms := func(id ID) time.Time {
		n, err := strconv.ParseInt(string(id), 10, 64)
		if err != nil || n <= 0 || n > maxMillis {
			return time.Time{}
		}
		return time.UnixMilli(n).UTC()
	}
	t.ExpiresAt, t.RefreshExpiresAt = ms(r.ExpireTime), ms(r.RefreshValid)
	return t, nil
}

// CreateToken exchanges an authorization code for tokens
// (/auth/token/create) and acts with them from then on.
func (c *Client) CreateToken(ctx context.Context, code string) (*Token, error) {
	body, err := c.send(ctx, PathTokenCreate, PathTokenCreate, url.Values{"code": {code}})
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	tok, err := ParseToken(PathTokenCreate, body)
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	c.setTokens(tok)
	return tok, nil
}

func (c *Client) setTokens(tok *Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.access = tok.AccessToken
	if tok.RefreshToken != "" {
		c.refresh = tok.RefreshToken
	}
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
	tok, err := ParseToken(PathTokenRefresh, body)
	if err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	c.setTokens(tok)
	return nil
}
