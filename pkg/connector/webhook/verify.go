package webhook

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// SecretsFunc returns the secrets a delivery may be signed with, chosen by
// its headers (e.g. the shop domain): usually one, two while a secret is
// being rotated. An error (unknown store) refuses the delivery.
type SecretsFunc func(header http.Header) ([][]byte, error)

// HMACVerifier checks a detached signature header holding
// base64(HMAC-SHA256(raw body, secret)): Shopify's X-Shopify-Hmac-Sha256 and
// WooCommerce's X-WC-Webhook-Signature. The comparison is constant-time and
// over the raw bytes, never a re-serialisation.
type HMACVerifier struct {
	// Header carries the signature, e.g. "X-Shopify-Hmac-Sha256".
	Header string
	// Secrets returns the candidate secrets of a delivery.
	Secrets SecretsFunc
}

// Verify implements Verifier: the payload is the body.
func (v HMACVerifier) Verify(header http.Header, body []byte) ([]byte, error) {
	sig := header.Get(v.Header)
	if sig == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrBadSignature, v.Header)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return nil, fmt.Errorf("%w: %s is not base64 of a SHA-256 MAC", ErrBadSignature, v.Header)
	}
	secrets, err := v.Secrets(header)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	ok := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// Every secret is tried, so timing tells nothing of which matched.
		if hmac.Equal(m.Sum(nil), got) {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s does not match", ErrBadSignature, v.Header)
	}
	return body, nil
}

// SignHMAC returns base64(HMAC-SHA256(body, secret)): what HMACVerifier
// expects, for simulators and tests.
func SignHMAC(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// JWTVerifier checks a body that is itself a JWT signed with RS256 (Wix
// sends its webhooks so, signed with the app's key). Only RS256 is
// accepted, whatever the token's header claims, so "none" and HMAC
// algorithm confusion are refused. The payload is the JWT's claims as JSON.
type JWTVerifier struct {
	// Key is the platform's public key.
	Key *rsa.PublicKey
	// Now is the clock for exp and nbf; default time.Now.
	Now func() time.Time
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
}

// Verify implements Verifier.
func (v JWTVerifier) Verify(_ http.Header, body []byte) ([]byte, error) {
	tok := bytes.TrimSpace(body)
	parts := bytes.Split(tok, []byte("."))
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: body is not a JWT", ErrBadSignature)
	}
	enc := base64.RawURLEncoding
	hdr, err := enc.DecodeString(string(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: JWT header is not base64url", ErrBadSignature)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil || h.Alg != "RS256" {
		return nil, fmt.Errorf("%w: JWT alg %q: want RS256", ErrBadSignature, h.Alg)
	}
	sig, err := enc.DecodeString(string(parts[2]))
	if err != nil {
		return nil, fmt.Errorf("%w: JWT signature is not base64url", ErrBadSignature)
	}
	if v.Key == nil {
		return nil, fmt.Errorf("%w: no public key", ErrBadSignature)
	}
	digest := sha256.Sum256(tok[:len(parts[0])+1+len(parts[1])])
	if err := rsa.VerifyPKCS1v15(v.Key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, fmt.Errorf("%w: JWT signature does not match", ErrBadSignature)
	}
	claims, err := enc.DecodeString(string(parts[1]))
	if err != nil {
		return nil, fmt.Errorf("%w: JWT claims are not base64url", ErrBadSignature)
	}
	var times struct {
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	if err := json.Unmarshal(claims, &times); err != nil {
		return nil, fmt.Errorf("%w: JWT claims are not a JSON object", ErrBadSignature)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	if times.Exp != nil && t.After(time.Unix(int64(*times.Exp), 0).Add(v.Leeway)) {
		return nil, fmt.Errorf("%w: JWT expired", ErrBadSignature)
	}
	if times.Nbf != nil && t.Add(v.Leeway).Before(time.Unix(int64(*times.Nbf), 0)) {
		return nil, fmt.Errorf("%w: JWT not valid yet", ErrBadSignature)
	}
	return claims, nil
}
