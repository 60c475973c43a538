package ports

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/services/wix/internal/app"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
)

// DefaultLeeway tolerates clock skew on the JWT's exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MinKeyBits is the smallest RSA key accepted for webhook verification.
const MinKeyBits = 2048

// ParsePublicKey reads the app's public key as the Wix app dashboard gives
// it: PEM "PUBLIC KEY" (PKIX), or "RSA PUBLIC KEY" (PKCS #1). It must be
// RSA, at least MinKeyBits.
func ParsePublicKey(pemText string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("public key: no PEM block")
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T is not RSA", k)
		}
		pub = rk
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("public key: PEM block %q: want PUBLIC KEY", block.Type)
	}
	if pub.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("public key: %d bits, want at least %d", pub.N.BitLen(), MinKeyBits)
	}
	return pub, nil
}

// Verifier verifies a Wix webhook: the body is a JWT that must be signed
// RS256 by the app's key. It runs the shared webhook.JWTVerifier, which
// checks the signature over the raw token before anything parses the
// claims, accepts only alg RS256 whatever the header says (so "none" and
// HS256 signed with the public key as an HMAC secret, the key-confusion
// attack, are refused) and checks exp and nbf; then it requires exp (a
// token without one would be valid for ever, so a captured delivery could
// be replayed at any time), refuses a token issued (iat) in the future
// beyond the leeway, and checks iss and aud when the Verifier is told
// what to expect. Every refusal wraps webhook.ErrBadSignature: 401,
// nothing published.
//
// Wix documents its webhook claims as {data, iat, exp} only: no iss or
// aud (dev.wix.com "Webhook structure", "Verify requests received from
// Wix"), so the connector's configuration has no expected issuer or
// audience and the service leaves both empty; Issuer and Audience are
// here for a Wix that starts setting them.
//
// The replay window: a token is accepted only between its iat and its exp
// (each within the leeway) and, when MaxAge is set, no longer than MaxAge
// after its iat. Wix signs a delivery once and retries the same token for
// about two days (its sample token lives 300,000 s), so MaxAge must cover
// that; the service sets it to DROPSYNC_WIX_JWT_MAX_AGE, at most the
// dedupe record's life, so a replayed token is refused, or still answered
// from the dedupe record, never published again.
type Verifier struct {
	jwt webhook.JWTVerifier
	// MaxAge, when set, refuses a token without iat or issued more than
	// MaxAge (plus the leeway) ago, whatever its exp says.
	MaxAge time.Duration
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be the token's aud or one of its auds.
	Audience string
}

// NewVerifier returns a Verifier for the app's public key; leeway
// tolerates clock skew (DefaultLeeway when 0); now is the clock (nil:
// time.Now).
func NewVerifier(key *rsa.PublicKey, leeway time.Duration, now func() time.Time) Verifier {
	if leeway <= 0 {
		leeway = DefaultLeeway
	}
	if now == nil {
		now = time.Now
	}
	return Verifier{jwt: webhook.JWTVerifier{Key: key, Now: now, Leeway: leeway}}
}

// Verify implements webhook.Verifier: the payload is the JWT's claims.
func (v Verifier) Verify(h http.Header, body []byte) ([]byte, error) {
	claims, err := v.jwt.Verify(h, body)
	if err != nil {
		return nil, err
	}
	var t struct {
		Iat *float64        `json:"iat"`
		Exp *float64        `json:"exp"`
		Iss *string         `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(claims, &t); err != nil {
		return nil, fmt.Errorf("%w: JWT claims are not a JSON object", webhook.ErrBadSignature)
	}
	if t.Exp == nil {
		return nil, fmt.Errorf("%w: JWT has no exp", webhook.ErrBadSignature)
	}
	now := v.jwt.Now()
	if t.Iat != nil && now.Add(v.jwt.Leeway).Before(time.Unix(int64(*t.Iat), 0)) {
		return nil, fmt.Errorf("%w: JWT issued in the future", webhook.ErrBadSignature)
	}
	if v.MaxAge > 0 {
		if t.Iat == nil {
			return nil, fmt.Errorf("%w: JWT has no iat", webhook.ErrBadSignature)
		}
		if now.After(time.Unix(int64(*t.Iat), 0).Add(v.MaxAge + v.jwt.Leeway)) {
			return nil, fmt.Errorf("%w: JWT issued more than %s ago (replay window)", webhook.ErrBadSignature, v.MaxAge)
		}
	}
	if v.Issuer != "" && (t.Iss == nil || *t.Iss != v.Issuer) {
		return nil, fmt.Errorf("%w: JWT issuer is not the expected one", webhook.ErrBadSignature)
	}
	if v.Audience != "" && !audienceHas(t.Aud, v.Audience) {
		return nil, fmt.Errorf("%w: JWT audience is not the expected one", webhook.ErrBadSignature)
	}
	return claims, nil
}

// audienceHas reports whether aud (a string or a list of strings, RFC
// 7519 4.1.3) names want.
func audienceHas(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(aud, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

// Decoder maps verified Wix webhooks to events (webhook.Decoder): both
// JSON string layers decoded, the store found by the app instance, the
// event mapped by domain.Store.Events. The delivery key is Wix's event id
// with the instance, so a redelivery however late is a duplicate.
type Decoder struct {
	Stores *app.Stores
}

// Decode implements webhook.Decoder.
func (d Decoder) Decode(_ context.Context, req *webhook.Request) (webhook.Delivery, error) {
	m, err := domain.DecodeMessage(req.Payload)
	if errors.Is(err, domain.ErrUnhandled) {
		// Event types the connector does not use (older Wix Stores events
		// included): 200, counted as ignored, whatever fields they lack.
		return webhook.Delivery{}, fmt.Errorf("%w: %w", webhook.ErrIgnored, err)
	}
	if err != nil {
		return webhook.Delivery{}, err
	}
	st, ok := d.Stores.ByInstance(m.InstanceID)
	if !ok {
		return webhook.Delivery{}, fmt.Errorf("%w: app instance is not a registered store", webhook.ErrIgnored)
	}
	envs, err := st.Events(m)
	if errors.Is(err, domain.ErrUnhandled) {
		return webhook.Delivery{}, fmt.Errorf("%w: %w", webhook.ErrIgnored, err)
	}
	if err != nil {
		return webhook.Delivery{}, err
	}
	return webhook.Delivery{
		Key:       "wix/" + m.InstanceID + "/" + m.Event.ID,
		Topic:     m.Topic(),
		Envelopes: envs,
	}, nil
}
