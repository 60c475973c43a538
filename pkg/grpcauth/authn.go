package grpcauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ErrNoCredentials is a call that carries no token and no client
// certificate.
var ErrNoCredentials = errors.New("no credentials: send a bearer token or a client certificate")

// JWTMethods are the signing algorithms a JWT may use; anything else,
// "none" and HMAC included, is refused.
var JWTMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// AuthOptions say how callers are authenticated.
type AuthOptions struct {
	// TokensFile holds static tokens, one a line: "token principal
	// role[,role...]"; the token may be written "sha256:<hex>" instead.
	// Blank lines and lines starting with # are skipped. Re-read when it
	// changes.
	TokensFile string
	// JWKSURL is where the keys that sign JWTs are published; empty: JWTs
	// are refused.
	JWKSURL string
	// JWTIssuer and JWTAudience must match a JWT's iss and aud.
	JWTIssuer, JWTAudience string
	// JWTRolesClaim names the claim holding the roles (a list of strings
	// or one space-separated string); dots descend into objects
	// (realm_access.roles). Default "roles".
	JWTRolesClaim string
	// JWTLeeway is the clock skew allowed on exp, nbf and iat.
	JWTLeeway time.Duration
	// CertRoles maps a client certificate's principal (SPIFFE ID, DNS
	// name or CN) to its roles; a certificate not listed has none.
	CertRoles map[string][]Role
	// Plaintext lets callers without credentials in as "plaintext-dev"
	// with every role: development only.
	Plaintext bool
}

// Authenticator tells who a caller is.
type Authenticator struct {
	tokens    *watched[[]tokenEntry]
	jwt       *jwtVerifier
	certRoles map[string][]Role
	plaintext bool
}

// NewAuthenticator returns an authenticator for opts; ctx bounds the
// JWKS refresh. A tokens file that cannot be read or parsed is an error.
func NewAuthenticator(ctx context.Context, opts AuthOptions) (*Authenticator, error) {
	a := &Authenticator{certRoles: opts.CertRoles, plaintext: opts.Plaintext}
	if opts.TokensFile != "" {
		a.tokens = newWatched(parseTokens, opts.TokensFile)
		if _, err := a.tokens.get(); err != nil {
			return nil, fmt.Errorf("tokens file: %w", err)
		}
	}
	if opts.JWKSURL != "" {
		if opts.JWTIssuer == "" || opts.JWTAudience == "" {
			return nil, errors.New("jwt: an issuer and an audience are required with a JWKS URL")
		}
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{opts.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("jwks %s: %w", opts.JWKSURL, err)
		}
		claim := opts.JWTRolesClaim
		if claim == "" {
			claim = "roles"
		}
		a.jwt = &jwtVerifier{
			keys:  kf,
			claim: claim,
			parser: jwt.NewParser(
				jwt.WithValidMethods(JWTMethods),
				jwt.WithIssuer(opts.JWTIssuer),
				jwt.WithAudience(opts.JWTAudience),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
				jwt.WithLeeway(opts.JWTLeeway),
			),
		}
	}
	return a, nil
}

// Authenticate returns the caller of the call whose server context is ctx:
// from its bearer token if it sends one, else from its verified client
// certificate. A caller with neither gets ErrNoCredentials (or, on a
// plaintext server, the development principal).
func (a *Authenticator) Authenticate(ctx context.Context) (Principal, error) {
	if raw, ok, err := bearer(ctx); err != nil {
		return Principal{}, err
	} else if ok {
		return a.token(ctx, raw)
	}
	if p, ok := a.certificate(ctx); ok {
		return p, nil
	}
	if a.plaintext {
		return Principal{Name: "plaintext-dev", Kind: KindDevelopment, Roles: AllRoles}, nil
	}
	return Principal{}, ErrNoCredentials
}

// bearer returns the call's bearer token, if it has an authorization
// header.
func bearer(ctx context.Context) (string, bool, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", false, errors.New("more than one authorization header")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return "", false, errors.New(`authorization header: want "Bearer <token>"`)
	}
	return strings.TrimSpace(tok), true, nil
}

func (a *Authenticator) token(ctx context.Context, raw string) (Principal, error) {
	if a.tokens != nil {
		entries, err := a.tokens.get()
		if err != nil {
			return Principal{}, fmt.Errorf("tokens file: %w", err)
		}
		if p, ok := lookupToken(entries, raw); ok {
			return p, nil
		}
	}
	if a.jwt != nil && strings.Count(raw, ".") == 2 {
		return a.jwt.verify(ctx, raw)
	}
	return Principal{}, errors.New("unknown token")
}

// certificate returns the principal of the connection's verified client
// certificate, if it has one.
func (a *Authenticator) certificate(ctx context.Context) (Principal, bool) {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return Principal{}, false
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return Principal{}, false
	}
	name := CertificateName(info.State.VerifiedChains[0][0])
	if name == "" {
		return Principal{}, false
	}
	return Principal{Name: name, Kind: KindCertificate, Roles: a.certRoles[name]}, true
}

// CertificateName is the principal a client certificate names: its first
// URI SAN (a SPIFFE ID such as spiffe://dropsync/orders), else its first
// DNS SAN, else its subject's common name.
func CertificateName(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	default:
		return c.Subject.CommonName
	}
}

type tokenEntry struct {
	hash      [sha256.Size]byte
	principal string
	roles     []Role
}

func parseTokens(b [][]byte) ([]tokenEntry, error) {
	var entries []tokenEntry
	sc := bufio.NewScanner(bytes.NewReader(b[0]))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"token principal role[,role]\"", n) // never the token itself
		}
		e := tokenEntry{principal: f[1]}
		if h, ok := strings.CutPrefix(f[0], "sha256:"); ok {
			d, err := hex.DecodeString(h)
			if err != nil || len(d) != sha256.Size {
				return nil, fmt.Errorf("line %d: sha256: want 64 hex digits", n)
			}
			copy(e.hash[:], d)
		} else {
			e.hash = sha256.Sum256([]byte(f[0]))
		}
		roles, err := ParseRoles(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		e.roles = roles
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return entries, nil
}

// ParseRoles parses role names separated by ",", "+" or "|".
func ParseRoles(s string) ([]Role, error) {
	var roles []Role
	for r := range strings.FieldsFuncSeq(s, func(c rune) bool { return c == ',' || c == '|' || c == '+' }) {
		switch role := Role(r); role {
		case RoleReader, RoleOperator, RoleService:
			roles = append(roles, role)
		default:
			return nil, fmt.Errorf("role %q is not reader, operator or service", r)
		}
	}
	return roles, nil
}

// lookupToken compares the token's hash with every entry's in constant
// time, without stopping at a match.
func lookupToken(entries []tokenEntry, raw string) (Principal, bool) {
	h := sha256.Sum256([]byte(raw))
	found := -1
	for i := range entries {
		if subtle.ConstantTimeCompare(h[:], entries[i].hash[:]) == 1 && found < 0 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	e := entries[found]
	return Principal{Name: e.principal, Kind: KindToken, Roles: e.roles}, true
}

type jwtVerifier struct {
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
	claim  string
}

func (v *jwtVerifier) verify(ctx context.Context, raw string) (Principal, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(raw, claims, v.keys.KeyfuncCtx(ctx)); err != nil {
		return Principal{}, fmt.Errorf("jwt: %w", err)
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return Principal{}, errors.New("jwt: no subject")
	}
	return Principal{Name: sub, Kind: KindJWT, Roles: claimRoles(claims, v.claim)}, nil
}

// claimRoles reads the known roles in the claim at path; unknown names are
// ignored (an identity provider's token carries roles of other systems).
func claimRoles(claims map[string]any, path string) []Role {
	var v any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	var names []string
	switch t := v.(type) {
	case string:
		names = strings.Fields(t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				names = append(names, s)
			}
		}
	}
	var roles []Role
	for _, n := range names {
		if r, err := ParseRoles(n); err == nil {
			roles = append(roles, r...)
		}
	}
	return roles
}
