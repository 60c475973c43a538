package natsconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/dropsync/dropsync/pkg/config"
)

// pki is a throwaway CA with a server and a client certificate, as PEM
// files in a test's temporary folder.
type pki struct {
	CAFile, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCAFile is a second CA that signed neither certificate.
	OtherCAFile string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := newCA(t, dir, "ca")
	otherCA, _ := newCA(t, dir, "other-ca")
	p := pki{CAFile: caCert, OtherCAFile: otherCA}
	p.ServerCert, p.ServerKey = newLeaf(t, dir, "server", caCert, caKey, x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = newLeaf(t, dir, "client", caCert, caKey, x509.ExtKeyUsageClientAuth)
	return p
}

func newCA(t *testing.T, dir, name string) (certFile string, key *ecdsa.PrivateKey) {
	t.Helper()
	key = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dropsync test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	return certFile, key
}

func newLeaf(t *testing.T, dir, name, caFile string, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// secureServer starts a server that requires TLS with a client certificate
// signed by p's CA (mTLS) and an nkey user, and stops it when the test
// ends. It returns the server's URL and the user's seed file.
func secureServer(t *testing.T, p pki) (url, seedFile string) {
	t.Helper()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	seedFile = filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CAFile, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      true,
		NoSigs:     true,
		TLS:        true,
		TLSVerify:  true,
		TLSConfig:  tc,
		TLSTimeout: 2,
		Nkeys:      []*server.NkeyUser{{Nkey: pub}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("nats server not ready after 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL(), seedFile
}

func TestOpenWithTLSAndNkey(t *testing.T) {
	p := newPKI(t)
	url, seed := secureServer(t, p)
	cfg := config.NATS{
		URL:             url,
		NkeySeedFile:    seed,
		TLSCAFile:       p.CAFile,
		TLSCertFile:     p.ClientCert,
		TLSKeyFile:      p.ClientKey,
		Replicas:        1,
		DuplicateWindow: time.Hour,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c, err := Open(context.Background(), cfg, "natsconn-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if !c.NC.IsConnected() {
		t.Fatalf("not connected: %v", c.NC.LastError())
	}
	if _, err := c.NC.TLSConnectionState(); err != nil {
		t.Fatalf("connection is not TLS: %v", err)
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// TestRefused connects once, without retrying, with settings short of what
// the server requires: each must be refused.
func TestRefused(t *testing.T) {
	p := newPKI(t)
	url, seed := secureServer(t, p)
	full := config.NATS{URL: url, NkeySeedFile: seed, TLSCAFile: p.CAFile, TLSCertFile: p.ClientCert, TLSKeyFile: p.ClientKey}
	cases := []struct {
		name string
		edit func(*config.NATS)
		want string
	}{
		{"plaintext (upgraded, unverified)", func(c *config.NATS) { c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = "", "", "" }, "certificate"},
		{"without the CA", func(c *config.NATS) { c.TLSCAFile = "" }, "certificate"},
		{"another CA", func(c *config.NATS) { c.TLSCAFile = p.OtherCAFile }, "certificate"},
		{"without a client certificate", func(c *config.NATS) { c.TLSCertFile, c.TLSKeyFile = "", "" }, ""},
		{"without the nkey", func(c *config.NATS) { c.NkeySeedFile = "" }, "authorization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := full
			tc.edit(&cfg)
			opts, err := securityOptions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(url, append(opts, nats.NoReconnect(), nats.Timeout(5*time.Second))...)
			if err == nil {
				// A refused client certificate can surface only after the
				// handshake, on the first round trip.
				err = nc.Flush()
				nc.Close()
			}
			if err == nil {
				t.Fatal("connected")
			}
			if !strings.Contains(strings.ToLower(err.Error()), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
