package grpcauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"
)

// ServerCredentials serves TLS with the key pair in certFile and keyFile.
// With a clientCAFile the server requires a client certificate chaining to
// it (mTLS). Every file is read again, on the next handshake, once it
// changes, so a renewed certificate or CA bundle needs no restart.
func ServerCredentials(certFile, keyFile, clientCAFile string) (credentials.TransportCredentials, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: a certificate and its key are required")
	}
	pair := newWatched(parseKeyPair, certFile, keyFile)
	var cas *watched[*x509.CertPool]
	if clientCAFile != "" {
		cas = newWatched(parsePool, clientCAFile)
	}
	build := func() (*tls.Config, error) {
		kp, err := pair.get()
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}}
		if cas != nil {
			pool, err := cas.get()
			if err != nil {
				return nil, err
			}
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		return cfg, nil
	}
	if _, err := build(); err != nil {
		return nil, err
	}
	return &reloading{build: build}, nil
}

// ClientCredentials dials TLS, checking the server's certificate against
// caFile (empty: the system roots) and the name serverName (empty: the
// host of the address dialled). With certFile and keyFile it presents that
// client certificate (mTLS). Files are re-read when they change.
func ClientCredentials(caFile, certFile, keyFile, serverName string) (credentials.TransportCredentials, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tls: a client certificate needs its key, and a key its certificate")
	}
	var pair *watched[tls.Certificate]
	if certFile != "" {
		pair = newWatched(parseKeyPair, certFile, keyFile)
	}
	var cas *watched[*x509.CertPool]
	if caFile != "" {
		cas = newWatched(parsePool, caFile)
	}
	build := func() (*tls.Config, error) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
		if pair != nil {
			kp, err := pair.get()
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{kp}
		}
		if cas != nil {
			pool, err := cas.get()
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = pool
		}
		return cfg, nil
	}
	if _, err := build(); err != nil {
		return nil, err
	}
	return &reloading{build: build, serverName: serverName}, nil
}

func parseKeyPair(b [][]byte) (tls.Certificate, error) {
	kp, err := tls.X509KeyPair(b[0], b[1])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key pair: %w", err)
	}
	return kp, nil
}

func parsePool(b [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b[0]) {
		return nil, errors.New("no PEM certificate in the CA bundle")
	}
	return pool, nil
}

// reloading is TLS transport credentials whose configuration is built
// again for every handshake from the current files.
type reloading struct {
	build      func() (*tls.Config, error)
	serverName string
}

func (r *reloading) creds() (credentials.TransportCredentials, error) {
	cfg, err := r.build()
	if err != nil {
		return nil, err
	}
	if r.serverName != "" {
		cfg.ServerName = r.serverName
	}
	return credentials.NewTLS(cfg), nil
}

func (r *reloading) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, err := r.creds()
	if err != nil {
		return nil, nil, err
	}
	return c.ClientHandshake(ctx, authority, raw)
}

func (r *reloading) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, err := r.creds()
	if err != nil {
		return nil, nil, err
	}
	return c.ServerHandshake(raw)
}

func (r *reloading) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (r *reloading) Clone() credentials.TransportCredentials {
	c := *r
	return &c
}

//nolint:staticcheck // part of the TransportCredentials interface
func (r *reloading) OverrideServerName(name string) error {
	r.serverName = name
	return nil
}
