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
