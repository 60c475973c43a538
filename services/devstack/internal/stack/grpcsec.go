package stack

import (
	"fmt"
	"path/filepath"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth/devpki"
)

// The dev stack's own gRPC clients: the demo places orders as an
// operator, the live view reads.
const (
	operatorCert = "operator"
	viewerCert   = "viewer"
)

// grpcSecurity is how the dev stack's services call each other: mTLS with
// a CA it issues on every start under Devstack.GRPCDir (devpki), one
// certificate per service, an operator and a viewer certificate, and
// operator and reader tokens; or, with DROPSYNC_GRPC_PLAINTEXT=true,
// plaintext.
type grpcSecurity struct {
	plaintext bool
	files     devpki.Files
}

func newGRPCSecurity(dir string, plaintext bool) (grpcSecurity, error) {
	if plaintext {
		return grpcSecurity{plaintext: true}, nil
	}
	files, err := devpki.Setup(dir, "orders", "notifier", "aliexpress", "shopify", "woocommerce", "wix", operatorCert, viewerCert)
	if err != nil {
		return grpcSecurity{}, fmt.Errorf("dev certificates in %s: %w", dir, err)
	}
	return grpcSecurity{files: files}, nil
}

// server secures the gRPC server (and client) of the service name, with
// reflection on for grpcurl.
func (s grpcSecurity) server(c *config.GRPC, name string) {
	s.client(&c.GRPCClient, name)
	c.Reflection = true
	if s.plaintext {
		return
	}
	c.TLSClientCAFile = s.files.CAFile
	c.TokensFile = s.files.TokensFile
	c.CertRoles += "," + devpki.SPIFFEID(operatorCert) + "=operator," + devpki.SPIFFEID(viewerCert) + "=reader"
}

// client secures the gRPC calls of the service or client name.
func (s grpcSecurity) client(c *config.GRPCClient, name string) {
	if s.plaintext {
		*c = config.GRPCClient{Plaintext: true}
		return
	}
	*c = config.GRPCClient{TLSCAFile: s.files.CAFile, TLSCertFile: s.files.CertFile(name), TLSKeyFile: s.files.KeyFile(name)}
}

// clientConfig is client's configuration for name.
func (s grpcSecurity) clientConfig(name string) config.GRPCClient {
	var c config.GRPCClient
	s.client(&c, name)
	return c
}

// grpcurl is the grpcurl flags an operator calls the dev stack with.
func (s grpcSecurity) grpcurl() string {
	if s.plaintext {
		return "-plaintext"
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(".", p); err == nil {
			return r
		}
		return p
	}
	return fmt.Sprintf("-cacert %s -cert %s -key %s", rel(s.files.CAFile), rel(s.files.CertFile(operatorCert)), rel(s.files.KeyFile(operatorCert)))
}
