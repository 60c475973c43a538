package aliexpresssim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"time"
)

// app is a registered application.
type app struct {
	key, secret string
	day         string // quota day
	used        int
	buckets     map[string]*simBucket
}

// token is an access token with its refresh token.
type token struct {
	appKey, account string
	access, refresh string
	expires         time.Time
	refreshExpires  time.Time
	revoked         bool
}

// grant is an authorization code waiting to be exchanged.
type grant struct {
	appKey, account string
	expires         time.Time
}

// Token is an issued access token.
type Token struct {
	// AccessToken and RefreshToken are the secrets.
	AccessToken, RefreshToken string
	// Account is the AliExpress buyer account the token acts for.
	Account string
	// ExpiresAt and RefreshExpiresAt are when they lapse.
	ExpiresAt, RefreshExpiresAt time.Time
}

// ErrUnknown: a control named an app, token, product or order the
// simulator does not have.
var ErrUnknown = errors.New("aliexpresssim: unknown")

// AddApp registers an app key and its secret.
func (s *Sim) AddApp(key, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[key] = &app{key: key, secret: secret, buckets: map[string]*simBucket{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// issue makes a token. Callers hold mu.
func (s *Sim) issue(now time.Time, appKey, account string) *token {
	t := &token{
		appKey: appKey, account: account,
		access:         "50000" + randomHex(20),
		refresh:        "50001" + randomHex(20),
		expires:        now.Add(s.cfg.TokenTTL),
		refreshExpires: now.Add(s.cfg.RefreshTTL),
	}
	s.tokens[t.access] = t
	s.refreshes[t.refresh] = t
	return t
}

func (t *token) public() Token {
	return Token{AccessToken: t.access, RefreshToken: t.refresh, Account: t.account, ExpiresAt: t.expires, RefreshExpiresAt: t.refreshExpires}
}

// IssueToken issues a token for account under appKey, as if the merchant
// had authorized the app.
func (s *Sim) IssueToken(appKey, account string) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[appKey]; !ok {
		return Token{}, ErrUnknown
	}
	return s.issue(s.cfg.Now(), appKey, account).public(), nil
}

// AuthCode returns an authorization code for account, to exchange at
// /rest/auth/token/create within 30 minutes.
func (s *Sim) AuthCode(appKey, account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "3_" + appKey + "_" + randomHex(12)
	s.codes[code] = grant{appKey: appKey, account: account, expires: s.cfg.Now().Add(30 * time.Minute)}
	return code
}

// ExpireToken makes an access token lapse now.
func (s *Sim) ExpireToken(accessToken string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[accessToken]
	if !ok {
		return ErrUnknown
	}
	t.expires = s.cfg.Now()
	return nil
}

// RevokeToken revokes an access token and its refresh token, as a
// merchant who removes the app's authorization.
func (s *Sim) RevokeToken(accessToken string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[accessToken]
	if !ok {
		return ErrUnknown
	}
	t.revoked = true
	return nil
}

// tokenResult is the flat body of /rest/auth/token/*.
func tokenResult(now time.Time, t *token) map[string]any {
	return map[string]any{
		"access_token":             t.access,
		"refresh_token":            t.refresh,
		"expire_time":              t.expires.UnixMilli(),
		"refresh_token_valid_time": t.refreshExpires.UnixMilli(),
		"expires_in":               int64(t.expires.Sub(now).Seconds()),
		"refresh_expires_in":       int64(t.refreshExpires.Sub(now).Seconds()),
		"account":                  t.account,
		"user_id":                  "2000" + t.account,
		"account_platform":         "buyerApp",
		"sp":                       "ae",
		"code":                     "0",
	}
}

func (s *Sim) tokenCreate(now time.Time, a *app, p url.Values) (map[string]any, *apiError) {
	code := p.Get("code")
	if code == "" {
		return nil, errMissing("code")
	}
	g, ok := s.codes[code]
	if !ok || g.appKey != a.key || now.After(g.expires) {
		return nil, &apiError{code: "InvalidCode", msg: "The authorization code is invalid or expired."}
	}
	delete(s.codes, code)
	return tokenResult(now, s.issue(now, a.key, g.account)), nil
}

func (s *Sim) tokenRefresh(now time.Time, a *app, p url.Values) (map[string]any, *apiError) {
	rt := p.Get("refresh_token")
	if rt == "" {
		return nil, errMissing("refresh_token")
	}
	old, ok := s.refreshes[rt]
	if !ok || old.appKey != a.key || old.revoked || now.After(old.refreshExpires) {
		return nil, &apiError{code: "IllegalRefreshToken", msg: "The refresh token is invalid or expired."}
	}
	delete(s.refreshes, rt)
	return tokenResult(now, s.issue(now, a.key, old.account)), nil
}
