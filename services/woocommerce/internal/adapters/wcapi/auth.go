package wcapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Auth is how the connector authenticates to a store.
type Auth string

// Authentication modes, as WooCommerce accepts them.
const (
	// AuthBasic sends the consumer key and secret as HTTP Basic
	// credentials: HTTPS only.
	AuthBasic Auth = "basic"
	// AuthQuery sends them as the consumer_key and consumer_secret query
	// parameters: HTTPS only, for servers that drop the Authorization
	// header (some Apache/CGI set-ups).
	AuthQuery Auth = "query"
	// AuthOAuth signs each request with OAuth 1.0a one-legged
	// (HMAC-SHA256): what WooCommerce requires over plain HTTP.
	AuthOAuth Auth = "oauth1"
)

// DefaultAuth is the mode WooCommerce accepts for a site URL: Basic over
// HTTPS, OAuth 1.0a over plain HTTP.
func DefaultAuth(siteURL string) Auth {
	if u, err := url.Parse(siteURL); err == nil && strings.EqualFold(u.Scheme, "https") {
		return AuthBasic
	}
	return AuthOAuth
}

// Signer is an http.RoundTripper that authenticates every request it
// sends, afresh: an OAuth 1.0a request gets a new nonce and timestamp on
// each attempt, so a retry of the same call is never refused as a replay
// (WooCommerce rejects a reused nonce). It never changes the caller's
// request.
type Signer struct {
	// Base sends the signed request; default http.DefaultTransport.
	Base http.RoundTripper
	// Mode is the authentication mode.
	Mode Auth
	// Key and Secret are the consumer key and secret.
	Key, Secret string
	// Keys, when set, gives the consumer key and secret for each request
	// instead of Key and Secret (credentials that follow their files).
	Keys func() (key, secret string)
	// Now is the clock of oauth_timestamp; default time.Now.
	Now func() time.Time
	// Nonce makes oauth_nonce; default 16 random bytes in hex.
	Nonce func() string
}

// RoundTrip implements http.RoundTripper.
func (s *Signer) RoundTrip(r *http.Request) (*http.Response, error) {
	base := s.Base
	if base == nil {
		base = http.DefaultTransport
	}
	out := r.Clone(r.Context())
	key, secret := s.Key, s.Secret
	if s.Keys != nil {
		key, secret = s.Keys()
	}
	switch s.Mode {
	case AuthBasic:
		out.SetBasicAuth(key, secret)
	case AuthQuery:
		q := out.URL.Query()
		q.Set("consumer_key", key)
		q.Set("consumer_secret", secret)
		out.URL.RawQuery = q.Encode()
	case AuthOAuth:
		now, nonce := time.Now, s.Nonce
		if s.Now != nil {
			now = s.Now
		}
		if nonce == nil {
			nonce = randomNonce
		}
		q := out.URL.Query()
		q.Set("oauth_consumer_key", key)
		q.Set("oauth_nonce", nonce())
		q.Set("oauth_signature_method", "HMAC-SHA256")
		q.Set("oauth_timestamp", strconv.FormatInt(now().Unix(), 10))
		q.Del("oauth_signature")
		baseURI := out.URL.Scheme + "://" + out.URL.Host + out.URL.EscapedPath()
		q.Set("oauth_signature", OAuthSignature(out.Method, baseURI, q, secret))
		out.URL.RawQuery = q.Encode()
	default:
		return nil, fmt.Errorf("woocommerce auth mode %q", s.Mode)
	}
	return base.RoundTrip(out)
}

func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// OAuthSignature signs a request with HMAC-SHA256 as WooCommerce checks
// it: the key is the consumer secret followed by "&" (no token secret), the
// base string is OAuthBaseString.
func OAuthSignature(method, baseURI string, params url.Values, consumerSecret string) string {
	m := hmac.New(sha256.New, []byte(consumerSecret+"&"))
	m.Write([]byte(OAuthBaseString(method, baseURI, params)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// OAuthBaseString is the OAuth 1.0a signature base string (RFC 5849
// 3.4.1): the method, the encoded base URI and the encoded, sorted
// "key=value" pairs of every parameter but oauth_signature.
func OAuthBaseString(method, baseURI string, params url.Values) string {
	type kv struct{ k, v string }
	pairs := make([]kv, 0, len(params))
	for k, vs := range params {
		if k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{percent(k), percent(v)})
		}
	}
	// By encoded name, then value (RFC 5849 3.4.1.3.2), not by the joined
	// "k=v" text: "a1" sorts after "a" although "a1=" < "a=".
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(method) + "&" + percent(baseURI) + "&" + percent(strings.Join(joined, "&"))
}

// percent is RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~.
func percent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
