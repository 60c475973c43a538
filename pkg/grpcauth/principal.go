package grpcauth

import (
	"context"
	"slices"
)

// Role is what a principal may do; [Rules] says which roles each method
// needs.
type Role string

// The roles.
const (
	// RoleReader reads: Get, List, Count, Watch and History calls.
	RoleReader Role = "reader"
	// RoleOperator reads, and gives the commands an operator gives:
	// placing, retrying, fulfilling by hand, resyncing, resolving
	// conflicts, settings, supplier mappings, a manual sync.
	RoleOperator Role = "operator"
	// RoleService is a dropsync service: the calls connectors and the
	// notifier make to each other.
	RoleService Role = "service"
)

// AllRoles lists every role.
var AllRoles = []Role{RoleReader, RoleOperator, RoleService}

// Kind says what proved a principal.
type Kind string

// The kinds of credential.
const (
	// KindCertificate is a verified mTLS client certificate.
	KindCertificate Kind = "certificate"
	// KindToken is a static token from the tokens file.
	KindToken Kind = "token"
	// KindJWT is a JWT verified against the JWKS.
	KindJWT Kind = "jwt"
	// KindDevelopment is a caller without credentials on a plaintext
	// (development) server.
	KindDevelopment Kind = "development"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name identifies the caller: a certificate's SPIFFE ID, DNS name or
	// CN, a static token's principal, a JWT's subject.
	Name string
	// Kind is the credential that proved it.
	Kind Kind
	// Roles are what it may do.
	Roles []Role
}

// Has reports whether p holds any of roles.
func (p Principal) Has(roles ...Role) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// String is "name (kind)".
func (p Principal) String() string { return p.Name + " (" + string(p.Kind) + ")" }

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the interceptors put in a handler's
// context, and whether there is one (there is none in an open method's).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
