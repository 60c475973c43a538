package woocommercesim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NonceWindow is how long an OAuth 1.0a timestamp stays valid, and so how
// long nonces are remembered (WooCommerce: 15 minutes).
const NonceWindow = 15 * time.Minute

// apiError is WooCommerce's JSON error shape.
type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func newError(status int, code, msg string) (int, apiError) {
	return status, apiError{Code: code, Message: msg, Data: map[string]any{"status": status}}
}

// authenticate checks the request's credentials as WC_REST_Authentication
// does; s.mu is held. ok false comes with the 401 to send.
func (s *Sim) authenticate(r *http.Request) (ok bool, status int, e apiError) {
	if s.cfg.HTTPS {
		key, secret, basic := r.BasicAuth()
		if !basic {
			q := r.URL.Query()
			key, secret = q.Get("consumer_key"), q.Get("consumer_secret")
		}
		if key == "" && secret == "" {
			status, e = s.cannot(r)
			return false, status, e
		}
		if key != s.cfg.ConsumerKey {
			status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
			return false, status, e
		}
		if !hmac.Equal([]byte(secret), []byte(s.cfg.ConsumerSecret)) {
			status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
			return false, status, e
		}
		return true, 0, apiError{}
	}
	params := oauthParams(r)
	if params == nil {
		// Over plain HTTP Basic credentials and consumer_key/secret in the
		// query are ignored: the request has no user.
		status, e = s.cannot(r)
		return false, status, e
	}
	for _, p := range []string{"oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method"} {
		if params.Get(p) == "" {
			status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_missing_parameter", "Missing OAuth parameter "+p)
			return false, status, e
		}
	}
	if params.Get("oauth_consumer_key") != s.cfg.ConsumerKey {
		status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
		return false, status, e
	}
	var h func() hash.Hash
	switch params.Get("oauth_signature_method") {
	case "HMAC-SHA1":
		h = sha1.New
	case "HMAC-SHA256":
		h = sha256.New
	default:
		status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")
		return false, status, e
	}
	base := OAuthBaseString(r.Method, s.siteURL+r.URL.EscapedPath(), params)
	m := hmac.New(h, []byte(s.cfg.ConsumerSecret+"&"))
	m.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	got := strings.ReplaceAll(params.Get("oauth_signature"), " ", "+")
	if un, err := url.PathUnescape(got); err == nil {
		got = un
	}
	if !hmac.Equal([]byte(want), []byte(got)) {
		status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.")
		return false, status, e
	}
	ts, err := strconv.ParseInt(params.Get("oauth_timestamp"), 10, 64)
	now := s.cfg.Now()
	if err != nil || time.Unix(ts, 0).Before(now.Add(-NonceWindow)) {
		status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Invalid timestamp.")
		return false, status, e
	}
	for n, at := range s.nonces {
		if at.Before(now.Add(-NonceWindow)) {
			delete(s.nonces, n)
		}
	}
	nonce := params.Get("oauth_nonce")
	if _, used := s.nonces[nonce]; used {
		s.stats.NonceReused++
		status, e = newError(http.StatusUnauthorized, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
		return false, status, e
	}
	s.nonces[nonce] = time.Unix(ts, 0)
	return true, 0, apiError{}
}

// cannot is the 401 of a request with no user, worded by its method as
// WooCommerce's permission checks word it.
func (s *Sim) cannot(r *http.Request) (int, apiError) {
	switch r.Method {
	case http.MethodGet:
		return newError(http.StatusUnauthorized, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
	case http.MethodPost:
		return newError(http.StatusUnauthorized, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
	case http.MethodDelete:
		return newError(http.StatusUnauthorized, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
	}
	return newError(http.StatusUnauthorized, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
}

// oauthParams collects the request's parameters when it carries OAuth
// ones: the query's, and those of an "Authorization: OAuth ..." header.
// It returns nil when there is no oauth_ parameter at all.
func oauthParams(r *http.Request) url.Values {
	params := url.Values{}
	for k, v := range r.URL.Query() {
		params[k] = append([]string(nil), v...)
	}
	if h := r.Header.Get("Authorization"); len(h) > 6 && strings.EqualFold(h[:6], "OAuth ") {
		for _, part := range strings.Split(h[6:], ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"`)
			if un, err := url.PathUnescape(v); err == nil {
				v = un
			}
			if strings.HasPrefix(k, "oauth_") {
				params.Set(k, v)
			}
		}
	}
	for k := range params {
		if strings.HasPrefix(k, "oauth_") {
			return params
		}
	}
	return nil
}

// OAuthBaseString is the OAuth 1.0a signature base string as WooCommerce
// builds it: METHOD & encoded base URI & encoded, key-sorted "k=v" pairs
// (every parameter but oauth_signature, keys and values RFC 3986-encoded).
func OAuthBaseString(method, baseURI string, params url.Values) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range params {
		if k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{rfc3986(k), rfc3986(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = rfc3986(p.k + "=" + p.v)
	}
	return strings.ToUpper(method) + "&" + rfc3986(baseURI) + "&" + strings.Join(joined, "%26")
}

// rfc3986 percent-encodes everything but unreserved characters
// (PHP's rawurlencode).
func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}
