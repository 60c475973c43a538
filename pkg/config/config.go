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
	"net"
	"net/url"
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
	// User is the NATS user name, with Password, instead of a creds file
	// or an nkey.
	User string `envconfig:"NATS_USER" desc:"NATS user name for an external cluster, with DROPSYNC_NATS_PASSWORD (deploy/k8s/nats: one user per service, named after it)"`
	// Password is User's password.
	Password string `envconfig:"NATS_PASSWORD" desc:"Password of DROPSYNC_NATS_USER (from a Secret); never logged"`
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
	if (c.User == "") != (c.Password == "") {
		errs = append(errs, errors.New("DROPSYNC_NATS_USER and DROPSYNC_NATS_PASSWORD: set both or neither"))
	}
	if c.User != "" && (c.CredsFile != "" || c.NkeySeedFile != "") {
		errs = append(errs, errors.New("DROPSYNC_NATS_USER: set a user and password, a creds file or an nkey seed, not several"))
	}
	if c.User != "" && c.Embedded() {
		errs = append(errs, errors.New("DROPSYNC_NATS_USER: needs DROPSYNC_NATS_URL (the embedded server makes its own users)"))
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

// GRPCClient configures the gRPC calls a service makes to other dropsync
// services, and the TLS identity it shares with its own gRPC server: one
// certificate (cert-manager issues it for server and client auth) is served
// and presented. Every file is re-read when it changes.
type GRPCClient struct {
	// Plaintext turns TLS and authentication off: development only.
	Plaintext bool `envconfig:"GRPC_PLAINTEXT" default:"false" desc:"Development only: gRPC without TLS, and callers without credentials get every role (a warning is logged); never in a cluster"`
	// TLSCertFile is this service's certificate (PEM).
	TLSCertFile string `envconfig:"GRPC_TLS_CERT_FILE" desc:"This service's certificate (PEM): served by its gRPC server and presented to the services it calls (mTLS); re-read when it changes"`
	// TLSKeyFile is TLSCertFile's private key (PEM).
	TLSKeyFile string `envconfig:"GRPC_TLS_KEY_FILE" desc:"Private key (PEM) of DROPSYNC_GRPC_TLS_CERT_FILE; never logged"`
	// TLSCAFile is the CA bundle the called servers must chain to.
	TLSCAFile string `envconfig:"GRPC_TLS_CA_FILE" desc:"PEM CA bundle the gRPC servers this service calls must chain to; empty: the system roots"`
	// TLSServerName overrides the name checked in called servers' certificates.
	TLSServerName string `envconfig:"GRPC_TLS_SERVER_NAME" desc:"Name the called servers' certificates must carry; empty: the host of each address"`
	// TokenFile holds a bearer token sent on every outgoing call.
	TokenFile string `envconfig:"GRPC_TOKEN_FILE" desc:"File holding a bearer token (static token or JWT) sent on every outgoing gRPC call, besides the certificate; re-read when it changes; never logged"`
}

// Validate reports every problem at once.
func (c GRPCClient) Validate() error {
	var errs []error
	for _, f := range []struct{ env, path string }{
		{"DROPSYNC_GRPC_TLS_CERT_FILE", c.TLSCertFile},
		{"DROPSYNC_GRPC_TLS_KEY_FILE", c.TLSKeyFile},
		{"DROPSYNC_GRPC_TLS_CA_FILE", c.TLSCAFile},
		{"DROPSYNC_GRPC_TOKEN_FILE", c.TokenFile},
	} {
		if f.path == "" {
			continue
		}
		if err := regularFile(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("DROPSYNC_GRPC_TLS_CERT_FILE and DROPSYNC_GRPC_TLS_KEY_FILE: set both or neither"))
	}
	if c.Plaintext && (c.TLSCertFile != "" || c.TLSCAFile != "") {
		errs = append(errs, errors.New("DROPSYNC_GRPC_PLAINTEXT: set, it turns TLS off; unset it or the DROPSYNC_GRPC_TLS_* files"))
	}
	return errors.Join(errs...)
}

// GRPC configures a gRPC server: where it listens, its TLS (from
// GRPCClient) and who may call it.
type GRPC struct {
	// Addr is the listen address.
	Addr string `envconfig:"GRPC_ADDR" desc:"gRPC listen address (health included); empty: the service's own port on 127.0.0.1 (orders 8080, notifier 8082, aliexpress 8083)"`
	// ShutdownGrace bounds a graceful stop.
	ShutdownGrace time.Duration `envconfig:"GRPC_SHUTDOWN_GRACE" default:"10s" desc:"Time in-flight calls get to finish on shutdown"`
	GRPCClient
	// TLSClientCAFile turns on mTLS: client certificates must chain to it.
	TLSClientCAFile string `envconfig:"GRPC_TLS_CLIENT_CA_FILE" desc:"PEM CA bundle client certificates must chain to; set, every caller must present one (mTLS); re-read when it changes"`
	// CertRoles maps client certificate identities to roles.
	CertRoles string `envconfig:"GRPC_CERT_ROLES" default:"spiffe://dropsync/orders=service,spiffe://dropsync/notifier=service,spiffe://dropsync/aliexpress=service,spiffe://dropsync/shopify=service,spiffe://dropsync/woocommerce=service,spiffe://dropsync/wix=service" desc:"Roles of client certificates: id=role pairs separated by commas (several roles: id=reader+operator); the id is the certificate's first URI SAN, else first DNS SAN, else CN; roles reader, operator, service"`
	// TokensFile holds the static bearer tokens callers may present.
	TokensFile string `envconfig:"GRPC_TOKENS_FILE" desc:"File of static bearer tokens (a mounted Secret), one a line: token (or sha256:<hex>) principal role[,role]; re-read when it changes; never logged"`
	// JWKSURL is where the keys of accepted JWTs are published.
	JWKSURL string `envconfig:"GRPC_JWKS_URL" desc:"JWKS URL (https) of the keys that sign accepted bearer JWTs; empty: JWTs are refused"`
	// JWTIssuer is the iss every JWT must carry.
	JWTIssuer string `envconfig:"GRPC_JWT_ISSUER" desc:"Issuer (iss) a JWT must carry; required with DROPSYNC_GRPC_JWKS_URL"`
	// JWTAudience is an aud every JWT must carry.
	JWTAudience string `envconfig:"GRPC_JWT_AUDIENCE" desc:"Audience (aud) a JWT must carry; required with DROPSYNC_GRPC_JWKS_URL"`
	// JWTRolesClaim names the claim with the caller's roles.
	JWTRolesClaim string `envconfig:"GRPC_JWT_ROLES_CLAIM" default:"roles" desc:"JWT claim holding the caller's roles (list or space-separated string; dots descend: realm_access.roles)"`
	// JWTLeeway is the clock skew allowed on a JWT's times.
	JWTLeeway time.Duration `envconfig:"GRPC_JWT_LEEWAY" default:"30s" desc:"Clock skew allowed on a JWT's exp, nbf and iat"`
	// Reflection registers the reflection service (for grpcurl).
	Reflection bool `envconfig:"GRPC_REFLECTION" default:"false" desc:"Serve gRPC reflection (grpcurl list and describe), to readers and operators only"`
}

// Validate reports every problem at once.
func (c GRPC) Validate() error {
	var errs []error
	if c.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("DROPSYNC_GRPC_SHUTDOWN_GRACE: must be positive"))
	}
	errs = append(errs, c.GRPCClient.Validate())
	if !c.Plaintext {
		if c.TLSCertFile == "" {
			errs = append(errs, errors.New("DROPSYNC_GRPC_TLS_CERT_FILE and DROPSYNC_GRPC_TLS_KEY_FILE: required (gRPC serves TLS only), unless DROPSYNC_GRPC_PLAINTEXT=true in development"))
		}
		if c.TLSClientCAFile == "" && c.TokensFile == "" && c.JWKSURL == "" {
			errs = append(errs, errors.New("DROPSYNC_GRPC_TLS_CLIENT_CA_FILE, DROPSYNC_GRPC_TOKENS_FILE or DROPSYNC_GRPC_JWKS_URL: set at least one, or no caller can be authenticated"))
		}
	}
	for _, f := range []struct{ env, path string }{
		{"DROPSYNC_GRPC_TLS_CLIENT_CA_FILE", c.TLSClientCAFile},
		{"DROPSYNC_GRPC_TOKENS_FILE", c.TokensFile},
	} {
		if f.path == "" {
			continue
		}
		if err := regularFile(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
		}
	}
	if c.Plaintext && c.TLSClientCAFile != "" {
		errs = append(errs, errors.New("DROPSYNC_GRPC_PLAINTEXT and DROPSYNC_GRPC_TLS_CLIENT_CA_FILE: mTLS needs TLS"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname()))) {
			errs = append(errs, fmt.Errorf("DROPSYNC_GRPC_JWKS_URL: %q is not an https URL (http only on loopback)", c.JWKSURL))
		}
		if c.JWTIssuer == "" || c.JWTAudience == "" {
			errs = append(errs, errors.New("DROPSYNC_GRPC_JWT_ISSUER and DROPSYNC_GRPC_JWT_AUDIENCE: required with DROPSYNC_GRPC_JWKS_URL"))
		}
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		errs = append(errs, errors.New("DROPSYNC_GRPC_JWT_LEEWAY: must be between 0 and 5m"))
	}
	if _, err := c.CertRoleMap(); err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_GRPC_CERT_ROLES: %w", err))
	}
	return errors.Join(errs...)
}

// CertRoleMap parses CertRoles: certificate id to role names.
func (c GRPC) CertRoleMap() (map[string][]string, error) {
	m := map[string][]string{}
	for pair := range strings.SplitSeq(c.CertRoles, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		id, roles, ok := strings.Cut(pair, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("%q: want id=role or id=role+role", pair)
		}
		for r := range strings.FieldsFuncSeq(roles, func(c rune) bool { return c == '+' || c == '|' }) {
			switch r {
			case "reader", "operator", "service":
				m[id] = append(m[id], r)
			default:
				return nil, fmt.Errorf("%q: role %q is not reader, operator or service", pair, r)
			}
		}
	}
	return m, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
