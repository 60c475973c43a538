// Package devpki issues a throw-away certificate authority, certificates
// and tokens for development and tests: make run and the chaos suite run
// mTLS between their services with it, and grpcauthtest builds on it. It is
// not for production (cert-manager is, see deploy/k8s).
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TrustDomain is the SPIFFE trust domain of dropsync's identities:
// spiffe://dropsync/<name>.
const TrustDomain = "dropsync"

// SPIFFEID is the identity of the service or client name.
func SPIFFEID(name string) string { return "spiffe://" + TrustDomain + "/" + name }

// CA is a certificate authority.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// PEM is Cert, PEM-encoded.
	PEM []byte
	key crypto.Signer
}

// NewCA returns a new CA valid for validFor.
func NewCA(name string, validFor time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, PEM: pemBlock("CERTIFICATE", der), key: key}, nil
}

// Leaf is an issued certificate and its key, PEM-encoded.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// Identity is what a certificate names.
type Identity struct {
	// URI is its URI SAN (a SPIFFE ID); empty: none.
	URI string
	// DNS are its DNS SANs.
	DNS []string
	// IPs are its IP SANs.
	IPs []net.IP
	// CN is its subject common name.
	CN string
}

// Local is the identity of a service reachable on the loopback: its
// SPIFFE ID, localhost and 127.0.0.1.
func Local(name string) Identity {
	return Identity{URI: SPIFFEID(name), DNS: []string{"localhost", name}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, CN: name}
}

// Issue returns a certificate for id, good for server and client
// authentication, valid from notBefore for validFor.
func (ca *CA) Issue(id Identity, notBefore time.Time, validFor time.Duration) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id.CN},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     id.DNS,
		IPAddresses:  id.IPs,
	}
	if id.URI != "" {
		u, err := url.Parse(id.URI)
		if err != nil {
			return Leaf{}, fmt.Errorf("identity %q: %w", id.URI, err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return Leaf{}, fmt.Errorf("issue %s: %w", id.CN, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("PRIVATE KEY", kder)}, nil
}

// Write writes the certificate and key to certFile and keyFile (the key
// readable by its owner only).
func (l Leaf) Write(certFile, keyFile string) error {
	if err := WriteFile(certFile, l.CertPEM, 0o644); err != nil {
		return err
	}
	return WriteFile(keyFile, l.KeyPEM, 0o600)
}

// WriteFile writes b to path through a temporary file and a rename, so a
// reader never sees half a file.
func WriteFile(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename; cleans up a failure
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Token returns a random bearer token.
func Token() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// Files are what Setup wrote.
type Files struct {
	// Dir holds every file.
	Dir string
	// CAFile is the CA certificate: the servers' and the clients' trust.
	CAFile string
	// TokensFile lists the tokens below, for DROPSYNC_GRPC_TOKENS_FILE.
	TokensFile string
	// OperatorTokenFile and ReaderTokenFile each hold one token.
	OperatorTokenFile, ReaderTokenFile string
}

// CertFile and KeyFile are the certificate and key Setup wrote for name.
func (f Files) CertFile(name string) string { return filepath.Join(f.Dir, name+".pem") }

// KeyFile is the key of CertFile(name).
func (f Files) KeyFile(name string) string { return filepath.Join(f.Dir, name+"-key.pem") }

// Setup writes into dir a new CA, a certificate for each name (Local
// identities, valid 30 days) and a tokens file with an operator token and a
// reader token, replacing what an earlier run left. The dev stack calls it
// on every start, so nothing in dir outlives a run for long.
func Setup(dir string, names ...string) (Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, err
	}
	ca, err := NewCA("dropsync dev CA", 30*24*time.Hour)
	if err != nil {
		return Files{}, err
	}
	f := Files{
		Dir:               dir,
		CAFile:            filepath.Join(dir, "ca.pem"),
		TokensFile:        filepath.Join(dir, "tokens"),
		OperatorTokenFile: filepath.Join(dir, "operator.token"),
		ReaderTokenFile:   filepath.Join(dir, "reader.token"),
	}
	if err := WriteFile(f.CAFile, ca.PEM, 0o644); err != nil {
		return Files{}, err
	}
	for _, n := range names {
		leaf, err := ca.Issue(Local(n), time.Now().Add(-time.Minute), 30*24*time.Hour)
		if err != nil {
			return Files{}, err
		}
		if err := leaf.Write(f.CertFile(n), f.KeyFile(n)); err != nil {
			return Files{}, err
		}
	}
	op, rd := Token(), Token()
	var tokens strings.Builder
	tokens.WriteString("# token principal roles (written by devpki.Setup)\n")
	fmt.Fprintf(&tokens, "%s dev-operator operator\n%s dev-reader reader\n", op, rd)
	for _, w := range []struct {
		path, body string
	}{{f.TokensFile, tokens.String()}, {f.OperatorTokenFile, op + "\n"}, {f.ReaderTokenFile, rd + "\n"}} {
		if err := WriteFile(w.path, []byte(w.body), 0o600); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // crypto/rand never fails on supported platforms
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
