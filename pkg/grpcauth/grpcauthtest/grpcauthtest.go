// Package grpcauthtest gives tests a CA, certificates, static tokens and a
// JWT issuer, so a test runs its servers and clients with TLS, mTLS and
// authentication in a line or two.
package grpcauthtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/devpki"
)

// Services are the names whose certificates get the service role.
var Services = []string{"orders", "notifier", "aliexpress", "shopify", "woocommerce", "wix"}

// AllRoles, given to Token, DialOptions or Dial, is the principal
// "test-all" with every role.
const AllRoles grpcauth.Role = ""

// PKI is a test CA with a token for each role, its files in a temporary
// folder.
type PKI struct {
	// CA signs every certificate.
	CA *devpki.CA
	// Dir holds the files.
	Dir string
	// CAFile is CA's certificate.
	CAFile string
	// TokensFile has one token per role, principal "test-<role>", and
	// one with every role, "test-all".
	TokensFile string

	t      testing.TB
	tokens map[grpcauth.Role]string
}

// New returns a PKI whose files go in t.TempDir().
func New(t testing.TB) *PKI {
	t.Helper()
	ca, err := devpki.NewCA("test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CA: ca, Dir: t.TempDir(), t: t, tokens: map[grpcauth.Role]string{}}
	p.CAFile = p.write("ca.pem", ca.PEM)
	var b strings.Builder
	for _, r := range grpcauth.AllRoles {
		p.tokens[r] = devpki.Token()
		fmt.Fprintf(&b, "%s test-%s %s\n", p.tokens[r], r, r)
	}
	p.tokens[AllRoles] = devpki.Token()
	fmt.Fprintf(&b, "%s test-all reader,operator,service\n", p.tokens[AllRoles])
	p.TokensFile = p.write("tokens", []byte(b.String()))
	return p
}

func (p *PKI) write(name string, b []byte) string {
	p.t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := devpki.WriteFile(path, b, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// Token is the static token of role.
func (p *PKI) Token(role grpcauth.Role) string { return p.tokens[role] }

// Leaf writes a certificate for id (valid from a minute ago for a day) and
// returns its files.
func (p *PKI) Leaf(id devpki.Identity) (certFile, keyFile string) {
	p.t.Helper()
	leaf, err := p.CA.Issue(id, time.Now().Add(-time.Minute), 24*time.Hour)
	if err != nil {
		p.t.Fatal(err)
	}
	n := strings.NewReplacer("/", "_", ":", "_").Replace(id.CN) + "-" + devpki.Token()[:8]
	certFile, keyFile = filepath.Join(p.Dir, n+".pem"), filepath.Join(p.Dir, n+"-key.pem")
	if err := leaf.Write(certFile, keyFile); err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile
}

// CertRoles is the DROPSYNC_GRPC_CERT_ROLES giving each of Services the
// service role.
func CertRoles() string {
	pairs := make([]string, len(Services))
	for i, s := range Services {
		pairs[i] = devpki.SPIFFEID(s) + "=service"
	}
	return strings.Join(pairs, ",")
}

// Secure fills cfg's security settings for the server (and client) name:
// its certificate, mTLS against the CA, the tokens file, the cert roles.
func (p *PKI) Secure(cfg *config.GRPC, name string) {
	p.t.Helper()
	p.Client(&cfg.GRPCClient, name)
	cfg.TLSClientCAFile = p.CAFile
	cfg.TokensFile = p.TokensFile
	cfg.CertRoles = CertRoles()
	cfg.JWTRolesClaim = "roles"
}

// Setenv sets the DROPSYNC_GRPC_* variables that Secure would set, for a
// test that loads its configuration from the environment (config.Load).
func (p *PKI) Setenv(t testing.TB, name string) {
	t.Helper()
	var c config.GRPC
	p.Secure(&c, name)
	for k, v := range map[string]string{
		"DROPSYNC_GRPC_TLS_CERT_FILE":      c.TLSCertFile,
		"DROPSYNC_GRPC_TLS_KEY_FILE":       c.TLSKeyFile,
		"DROPSYNC_GRPC_TLS_CA_FILE":        c.TLSCAFile,
		"DROPSYNC_GRPC_TLS_CLIENT_CA_FILE": c.TLSClientCAFile,
		"DROPSYNC_GRPC_TOKENS_FILE":        c.TokensFile,
		"DROPSYNC_GRPC_CERT_ROLES":         c.CertRoles,
	} {
		t.Setenv(k, v)
	}
}

// ServerOptions secure a test's own grpc.NewServer (a fake peer) as the
// service name: mTLS against the CA, the tokens, the rules.
func (p *PKI) ServerOptions(name string) []grpc.ServerOption {
	p.t.Helper()
	var c config.GRPC
	p.Secure(&c, name)
	opts, err := grpcauth.ServerOptions(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		p.t.Fatal(err)
	}
	return opts
}

// Client fills cfg for a client that is the service name: the CA and its
// certificate.
func (p *PKI) Client(cfg *config.GRPCClient, name string) {
	p.t.Helper()
	cfg.Plaintext = false
	cfg.TLSCAFile = p.CAFile
	cfg.TLSCertFile, cfg.TLSKeyFile = p.Leaf(devpki.Local(name))
}

// ClientConfig is a client configuration for the service name.
func (p *PKI) ClientConfig(name string) config.GRPCClient {
	var c config.GRPCClient
	p.Client(&c, name)
	return c
}

// DialOptions dial a server of this PKI as a caller with role: over mTLS
// (a certificate with no role of its own, "test-client") with role's token.
func (p *PKI) DialOptions(role grpcauth.Role) []grpc.DialOption {
	p.t.Helper()
	c := p.ClientConfig("test-client")
	c.TokenFile = p.write("token-"+string(role)+"-"+devpki.Token()[:8], []byte(p.tokens[role]))
	opts, err := grpcauth.DialOptions(c)
	if err != nil {
		p.t.Fatal(err)
	}
	return opts
}

// Dial returns a client connection to addr as a caller with role, closed
// at the end of the test.
func (p *PKI) Dial(addr string, role grpcauth.Role) *grpc.ClientConn {
	p.t.Helper()
	cc, err := grpc.NewClient(addr, p.DialOptions(role)...)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Issuer is a JWT issuer publishing its key as a JWKS over HTTP.
type Issuer struct {
	// URL is the JWKS URL.
	URL string
	// Issuer and Audience are what its tokens carry.
	Issuer, Audience string
	key              ed25519.PrivateKey
}

// NewIssuer serves a JWKS until the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"test","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwks))
	}))
	t.Cleanup(srv.Close)
	return &Issuer{URL: srv.URL, Issuer: "https://issuer.test", Audience: "dropsync", key: key}
}

// Secure makes cfg accept this issuer's tokens.
func (i *Issuer) Secure(cfg *config.GRPC) {
	cfg.JWKSURL, cfg.JWTIssuer, cfg.JWTAudience = i.URL, i.Issuer, i.Audience
	if cfg.JWTRolesClaim == "" {
		cfg.JWTRolesClaim = "roles"
	}
}

// Token returns a signed JWT for sub with roles, expiring at exp.
func (i *Issuer) Token(t testing.TB, sub string, exp time.Time, roles ...grpcauth.Role) string {
	t.Helper()
	return i.Sign(t, jwt.MapClaims{
		"iss": i.Issuer, "aud": i.Audience, "sub": sub, "roles": roles,
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": exp.Unix(),
	})
}

// Sign returns a JWT of claims signed with the issuer's key.
func (i *Issuer) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = "test"
	s, err := tok.SignedString(i.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
