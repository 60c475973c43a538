// Package config holds the configuration parts every dropsync service shares,
// read from the environment with envconfig, once, at start.
//
// A service's Config embeds the parts it needs, adds its own, and calls
// [Load]. Every field has a default and a `desc` tag: `<service> -help`
// prints them, and `make docs` writes them into the README.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the environment prefix of every variable: DROPSYNC_...
const Prefix = "DROPSYNC"

// NATS configures the connection to NATS JetStream, or the embedded server.
type NATS struct {
	// URL of an external NATS cluster; empty runs an in-process server.
	URL string `envconfig:"NATS_URL" desc:"URL of the NATS cluster (nats://host:4222); empty starts an embedded server with JetStream"`
	// CredsFile is a NATS credentials file for an external cluster.
	CredsFile string `envconfig:"NATS_CREDS_FILE" desc:"NATS credentials (.creds) file for an external cluster; never logged"`
	// NkeySeedFile is a file holding a user nkey seed, instead of CredsFile.
	NkeySeedFile string `envconfig:"NATS_NKEY_SEED_FILE" desc:"File with the user's nkey seed (SU...) for an external cluster, instead of a creds file; never logged"`
	// TLSCAFile is the PEM bundle the server's certificate is checked against.
	TLSCAFile string `envconfig:"NATS_TLS_CA_FILE" desc:"PEM CA bundle the NATS server's certificate must chain to; set, the connection requires TLS"`
	// TLSCertFile is the client certificate (PEM) for mTLS.
	TLSCertFile string `envconfig:"NATS_TLS_CERT_FILE" desc:"Client certificate (PEM) presented to the NATS server (mTLS); needs DROPSYNC_NATS_TLS_KEY_FILE"`
	// TLSKeyFile is the client certificate's private key (PEM).
	TLSKeyFile string `envconfig:"NATS_TLS_KEY_FILE" desc:"Private key (PEM) of DROPSYNC_NATS_TLS_CERT_FILE; never logged"`
	// EmbeddedDir is where the embedded server keeps JetStream's files.
	EmbeddedDir string `envconfig:"NATS_EMBEDDED_DIR" default:".data/nats" desc:"Folder of the embedded server's JetStream files"`
	// EmbeddedHost is the embedded server's listen host.
	EmbeddedHost string `envconfig:"NATS_EMBEDDED_HOST" default:"127.0.0.1" desc:"Listen host of the embedded server"`
	// EmbeddedPort is the embedded server's port (-1: any free port).
	EmbeddedPort int `envconfig:"NATS_EMBEDDED_PORT" default:"4222" desc:"Listen port of the embedded server (-1: any free port)"`
	// RelaxedSync turns off fsync-always on the embedded server.
	RelaxedSync bool `envconfig:"NATS_RELAXED_SYNC" default:"false" desc:"Embedded server only: fsync every 2 minutes instead of after every write (may lose acknowledged events on power loss)"`
	// Replicas of every stream dropsync creates.
	Replicas int `envconfig:"NATS_REPLICAS" default:"1" desc:"Replicas of each JetStream stream (3 in a production cluster)"`
	// DuplicateWindow is JetStream's Nats-Msg-Id dedupe window.
	DuplicateWindow time.Duration `envconfig:"NATS_DUPLICATE_WINDOW" default:"2h" desc:"JetStream duplicate window of the event streams; later duplicates are dropped by the order aggregate"`
}

// Validate reports every problem at once.
func (c NATS) Validate() error {
	var errs []error
	if c.URL == "" && c.EmbeddedDir == "" {
		errs = append(errs, errors.New("DROPSYNC_NATS_EMBEDDED_DIR: required when DROPSYNC_NATS_URL is empty"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("DROPSYNC_NATS_REPLICAS: %d not in 1..5", c.Replicas))
	}
	if c.DuplicateWindow <= 0 {
		errs = append(errs, errors.New("DROPSYNC_NATS_DUPLICATE_WINDOW: must be positive"))
	}
	errs = append(errs, c.validateSecurity()...)
	return errors.Join(errs...)
}

// validateSecurity checks the credential and TLS files: they exist, a
// certificate comes with its key, and one kind of user credential at most.
// They are for an external cluster: the embedded server has no TLS and no
// users.
func (c NATS) validateSecurity() []error {
	var errs []error
	files := []struct{ env, path string }{
		{"DROPSYNC_NATS_CREDS_FILE", c.CredsFile},
		{"DROPSYNC_NATS_NKEY_SEED_FILE", c.NkeySeedFile},
		{"DROPSYNC_NATS_TLS_CA_FILE", c.TLSCAFile},
		{"DROPSYNC_NATS_TLS_CERT_FILE", c.TLSCertFile},
		{"DROPSYNC_NATS_TLS_KEY_FILE", c.TLSKeyFile},
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if f.env != "DROPSYNC_NATS_CREDS_FILE" && c.Embedded() {
			errs = append(errs, fmt.Errorf("%s: needs DROPSYNC_NATS_URL (the embedded server runs without TLS or users)", f.env))
		}
		if err := regularFile(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("DROPSYNC_NATS_TLS_CERT_FILE and DROPSYNC_NATS_TLS_KEY_FILE: set both or neither"))
	}
	if c.CredsFile != "" && c.NkeySeedFile != "" {
		errs = append(errs, errors.New("DROPSYNC_NATS_CREDS_FILE and DROPSYNC_NATS_NKEY_SEED_FILE: set one, not both"))
	}
	return errs
}

// TLS reports whether the connection is to use TLS.
func (c NATS) TLS() bool { return c.TLSCAFile != "" || c.TLSCertFile != "" }

// regularFile reports an error unless path names a readable regular file.
// The error names the path, never the content.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return nil
}

// Embedded reports whether the service runs its own NATS server.
func (c NATS) Embedded() bool { return c.URL == "" }

// EventStore selects and configures the event store adapter.
type EventStore struct {
	// Backend is "jetstream" (default) or "esdb".
	Backend string `envconfig:"EVENTSTORE_BACKEND" default:"jetstream" desc:"Event store: jetstream (on the NATS connection) or esdb (EventStoreDB / KurrentDB)"`
	// ESDBURL is the EventStoreDB connection string.
	ESDBURL string `envconfig:"EVENTSTORE_ESDB_URL" desc:"EventStoreDB connection string (esdb://host:2113?tls=true); required for backend esdb; never logged"`
	// Stream is the JetStream stream holding the event store.
	Stream string `envconfig:"EVENTSTORE_STREAM" default:"EVENTSTORE" desc:"JetStream stream of the jetstream event store"`
}

// Validate reports every problem at once.
func (c EventStore) Validate() error {
	var errs []error
	switch c.Backend {
	case "jetstream":
	case "esdb":
		if c.ESDBURL == "" {
			errs = append(errs, errors.New("DROPSYNC_EVENTSTORE_ESDB_URL: required for backend esdb"))
		}
	default:
		errs = append(errs, fmt.Errorf("DROPSYNC_EVENTSTORE_BACKEND: %q is not jetstream or esdb", c.Backend))
	}
	if c.Stream == "" {
		errs = append(errs, errors.New("DROPSYNC_EVENTSTORE_STREAM: required"))
	}
	return errors.Join(errs...)
}

// GRPC configures a gRPC server.
type GRPC struct {
	// Addr is the listen address.
	Addr string `envconfig:"GRPC_ADDR" desc:"gRPC listen address (health and reflection included); empty: the service's own port on 127.0.0.1 (orders 8080, notifier 8082, aliexpress 8083)"`
	// ShutdownGrace bounds a graceful stop.
	ShutdownGrace time.Duration `envconfig:"GRPC_SHUTDOWN_GRACE" default:"10s" desc:"Time in-flight calls get to finish on shutdown"`
}

// Validate reports every problem at once.
func (c GRPC) Validate() error {
	var errs []error
	if c.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("DROPSYNC_GRPC_SHUTDOWN_GRACE: must be positive"))
	}
	return errors.Join(errs...)
}

// ListenAddr is Addr, or def when Addr is empty: each service has its own
// default port, so services started side by side do not collide.
func (c GRPC) ListenAddr(def string) string {
	if c.Addr == "" {
		return def
	}
	return c.Addr
}

// Telemetry configures logs and traces.
type Telemetry struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"Log level: debug, info, warn, error"`
	// LogFormat is text or json.
	LogFormat string `envconfig:"LOG_FORMAT" default:"text" desc:"Log format: text or json"`
	// TraceExporter is none, stdout or otlp: an alias for
	// OTEL_TRACES_EXPORTER, used only when that is unset.
	TraceExporter string `envconfig:"TRACE_EXPORTER" desc:"Alias for OTEL_TRACES_EXPORTER when that is unset: none, stdout (JSON lines) or otlp; empty: otlp if OTEL_EXPORTER_OTLP_ENDPOINT is set, else none"`
}

// Validate reports every problem at once.
func (c Telemetry) Validate() error {
	var errs []error
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("DROPSYNC_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("DROPSYNC_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	switch c.TraceExporter {
	case "", "none", "stdout", "otlp":
	default:
		errs = append(errs, fmt.Errorf("DROPSYNC_TRACE_EXPORTER: %q is not none, stdout or otlp", c.TraceExporter))
	}
	return errors.Join(errs...)
}

// Validator is a configuration that can check itself.
type Validator interface {
	Validate() error
}

// Read fills cfg from the environment without validating it, for a caller
// that completes it first (the dev stack joins services up); it must call
// Validate itself.
func Read(cfg any) error {
	if err := envconfig.Process(Prefix, cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Load fills cfg from the environment and validates it.
func Load(cfg Validator) error {
	if err := Read(cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// PrintUsage writes a Markdown table of cfg's variables, defaults and
// descriptions: what `make docs` puts in the README.
func PrintUsage(w io.Writer, cfg any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	const tmpl = "| variable | default | description |\n|---|---|---|\n" +
		"{{range .}}| `{{usage_key .}}` | {{with usage_default .}}`{{.}}`{{end}} | {{usage_description .}} |\n{{end}}"
	if err := envconfig.Usagef(Prefix, cfg, tw, tmpl); err != nil {
		return fmt.Errorf("config usage: %w", err)
	}
	return tw.Flush()
}
