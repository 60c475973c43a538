package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
)

type testConfig struct {
	config.NATS
	config.EventStore
	config.GRPC
	config.Telemetry
}

func (c testConfig) Validate() error {
	return errors.Join(c.NATS.Validate(), c.EventStore.Validate(), c.GRPC.Validate(), c.Telemetry.Validate())
}

func TestLoadDefaults(t *testing.T) {
	t.Setenv("DROPSYNC_GRPC_PLAINTEXT", "true")
	var c testConfig
	if err := config.Load(&c); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !c.Embedded() || c.Backend != "jetstream" || c.Addr != "" || c.Replicas != 1 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if got := c.ListenAddr("127.0.0.1:8082"); got != "127.0.0.1:8082" {
		t.Fatalf("ListenAddr with no DROPSYNC_GRPC_ADDR = %q, want the service's default", got)
	}
	t.Setenv("DROPSYNC_GRPC_ADDR", "0.0.0.0:9000")
	if err := config.Load(&c); err != nil {
		t.Fatal(err)
	}
	if got := c.ListenAddr("127.0.0.1:8082"); got != "0.0.0.0:9000" {
		t.Fatalf("ListenAddr = %q, want the configured address", got)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Setenv("DROPSYNC_EVENTSTORE_BACKEND", "esdb")
	t.Setenv("DROPSYNC_NATS_REPLICAS", "9")
	t.Setenv("DROPSYNC_LOG_LEVEL", "loud")
	var c testConfig
	err := config.Load(&c)
	if err == nil {
		t.Fatal("Load accepted a bad configuration")
	}
	for _, want := range []string{"DROPSYNC_EVENTSTORE_ESDB_URL", "DROPSYNC_NATS_REPLICAS", "DROPSYNC_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestLoadRejectsUnparseable(t *testing.T) {
	t.Setenv("DROPSYNC_GRPC_SHUTDOWN_GRACE", "soon")
	var c testConfig
	if err := config.Load(&c); err == nil || !strings.Contains(err.Error(), "GRPC_SHUTDOWN_GRACE") {
		t.Fatalf("Load error = %v, want one naming GRPC_SHUTDOWN_GRACE", err)
	}
}

func TestPrintUsage(t *testing.T) {
	var buf bytes.Buffer
	if err := config.PrintUsage(&buf, &testConfig{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"`DROPSYNC_NATS_URL`", "`DROPSYNC_GRPC_SHUTDOWN_GRACE` | `10s`", "| variable | default | description |"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
}

func TestNATSSecurityValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "present.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	base := config.NATS{URL: "tls://nats:4222", Replicas: 1, DuplicateWindow: time.Hour}
	cases := []struct {
		name string
		edit func(*config.NATS)
		want []string // empty: valid
	}{
		{"no security", func(*config.NATS) {}, nil},
		{"mTLS and creds", func(c *config.NATS) { c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile, c.CredsFile = file, file, file, file }, nil},
		{"nkey", func(c *config.NATS) { c.NkeySeedFile = file }, nil},
		{"certificate without key", func(c *config.NATS) { c.TLSCertFile = file }, []string{"DROPSYNC_NATS_TLS_KEY_FILE: set both"}},
		{"key without certificate", func(c *config.NATS) { c.TLSKeyFile = file }, []string{"set both or neither"}},
		{"missing files", func(c *config.NATS) { c.TLSCAFile, c.CredsFile = missing, missing }, []string{"DROPSYNC_NATS_TLS_CA_FILE: " + missing, "DROPSYNC_NATS_CREDS_FILE: " + missing}},
		{"a folder", func(c *config.NATS) { c.TLSCAFile = dir }, []string{"not a regular file"}},
		{"creds and nkey", func(c *config.NATS) { c.CredsFile, c.NkeySeedFile = file, file }, []string{"set one, not both"}},
		{"TLS on the embedded server", func(c *config.NATS) { c.URL, c.EmbeddedDir, c.TLSCAFile = "", dir, file }, []string{"DROPSYNC_NATS_TLS_CA_FILE: needs DROPSYNC_NATS_URL"}},
		{"user and password", func(c *config.NATS) { c.User, c.Password = "shopify", "secret" }, nil},
		{"user without password", func(c *config.NATS) { c.User = "shopify" }, []string{"DROPSYNC_NATS_USER and DROPSYNC_NATS_PASSWORD: set both"}},
		{"user and nkey", func(c *config.NATS) { c.User, c.Password, c.NkeySeedFile = "shopify", "secret", file }, []string{"not several"}},
		{"user on the embedded server", func(c *config.NATS) { c.URL, c.EmbeddedDir, c.User, c.Password = "", dir, "shopify", "x" }, []string{"DROPSYNC_NATS_USER: needs DROPSYNC_NATS_URL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestGRPCSecurity(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  config.GRPC
		want []string // in the error; none: valid
	}{
		"nothing set: refused": {
			cfg:  config.GRPC{},
			want: []string{"DROPSYNC_GRPC_TLS_CERT_FILE", "DROPSYNC_GRPC_TLS_CLIENT_CA_FILE, DROPSYNC_GRPC_TOKENS_FILE or DROPSYNC_GRPC_JWKS_URL"},
		},
		"plaintext for development": {cfg: config.GRPC{GRPCClient: config.GRPCClient{Plaintext: true}}},
		"mTLS":                      {cfg: config.GRPC{GRPCClient: config.GRPCClient{TLSCertFile: file, TLSKeyFile: file, TLSCAFile: file}, TLSClientCAFile: file}},
		"every problem at once": {
			cfg: config.GRPC{
				GRPCClient:  config.GRPCClient{TLSCertFile: file, TLSCAFile: filepath.Join(dir, "missing")},
				TokensFile:  dir,
				JWKSURL:     "http://idp.example/jwks",
				CertRoles:   "spiffe://dropsync/orders=admin",
				JWTLeeway:   time.Hour,
				Reflection:  true,
				JWTAudience: "dropsync",
			},
			want: []string{
				"DROPSYNC_GRPC_TLS_CERT_FILE and DROPSYNC_GRPC_TLS_KEY_FILE: set both", "DROPSYNC_GRPC_TLS_CA_FILE:",
				"DROPSYNC_GRPC_TOKENS_FILE: " + dir + ": not a regular file", "DROPSYNC_GRPC_JWKS_URL", "DROPSYNC_GRPC_JWT_ISSUER",
				"DROPSYNC_GRPC_CERT_ROLES", "DROPSYNC_GRPC_JWT_LEEWAY",
			},
		},
		"plaintext with TLS files": {
			cfg:  config.GRPC{GRPCClient: config.GRPCClient{Plaintext: true, TLSCertFile: file, TLSKeyFile: file}, TLSClientCAFile: file},
			want: []string{"DROPSYNC_GRPC_PLAINTEXT"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc.cfg.ShutdownGrace = time.Second
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
