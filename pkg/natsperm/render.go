package natsperm

import (
	"fmt"
	"strings"
)

// Account is the NATS account every dropsync identity lives in.
const Account = "DROPSYNC"

// SecretName is the Kubernetes Secret that holds one password per
// identity, under the identity's name (HelmValues).
const SecretName = "dropsync-nats-users"

// PasswordEnv is the environment variable the server configuration reads
// an identity's password from: "DROPSYNC_NATS_PASSWORD_<NAME>". A service
// gets the same password as DROPSYNC_NATS_PASSWORD.
func PasswordEnv(name string) string {
	return "DROPSYNC_NATS_PASSWORD_" + strings.ToUpper(name)
}

type list struct {
	name  string
	rules []Rule
}

type direction struct {
	name  string
	lists []list
}

// directions are an identity's permissions as the server configuration
// nests them: publish allow and deny, subscribe allow.
func directions(id Identity) []direction {
	pub := direction{"publish", []list{{"allow", id.Publish}}}
	if len(id.DenyPublish) > 0 {
		pub.lists = append(pub.lists, list{"deny", id.DenyPublish})
	}
	return []direction{pub, {"subscribe", []list{{"allow", id.Subscribe}}}}
}

const generated = "Generated from pkg/natsperm by `make generate`; do not edit."

// ServerOptions are the parts of a server configuration that are not the
// table's.
type ServerOptions struct {
	// Listen is the client listen address; default "0.0.0.0:4222".
	Listen string
	// StoreDir is JetStream's folder; default "/data/jetstream".
	StoreDir string
	// ServerName names the server; none when empty.
	ServerName string
	// Extra identities join the table's in the account, e.g. an
	// operator's or a test harness's; each password is read from
	// PasswordEnv(name) too.
	Extra []Identity
}

// ServerConfig is an example nats-server configuration with the table:
// JetStream fsyncing every write, account DROPSYNC with JetStream and one
// user per identity, each password read from PasswordEnv(name). Add TLS
// (tls {...}) and clustering for production.
func ServerConfig() string { return ServerConfigWith(ServerOptions{}) }

// ServerConfigWith is ServerConfig with o.
func ServerConfigWith(o ServerOptions) string {
	if o.Listen == "" {
		o.Listen = "0.0.0.0:4222"
	}
	if o.StoreDir == "" {
		o.StoreDir = "/data/jetstream"
	}
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "# dropsync NATS server: one user per service, least privilege. %s", generated)
	w(0, "# Each password is read from the environment variable named next to it;")
	w(0, "# set them from a Secret. Nothing secret is in this file. nats-server reads a")
	w(0, "# variable as a configuration value: use letters and digits, a letter first")
	w(0, "# (e.g. p$(openssl rand -hex 24)).")
	w(0, "listen: %q", o.Listen)
	if o.ServerName != "" {
		w(0, "server_name: %q", o.ServerName)
	}
	w(0, "jetstream {")
	w(1, "store_dir: %q", o.StoreDir)
	w(1, "# Every write fsynced before it is acknowledged (see the README, Durability).")
	w(1, "sync_interval: always")
	w(0, "}")
	w(0, "accounts {")
	w(1, "%s {", Account)
	w(2, "jetstream: enabled")
	w(2, "users: [")
	for _, id := range append(Identities(), o.Extra...) {
		w(3, "# %s: %s", id.Name, id.Role)
		w(3, "{")
		w(4, "user: %s", id.Name)
		w(4, "password: $%s", PasswordEnv(id.Name))
		w(4, "permissions {")
		for _, dir := range directions(id) {
			w(5, "%s {", dir.name)
			for _, l := range dir.lists {
				w(6, "%s: [", l.name)
				for _, r := range l.rules {
					w(7, "%q # %s", r.Subject, r.Why)
				}
				w(6, "]")
			}
			w(5, "}")
		}
		w(4, "}")
		w(3, "}")
	}
	w(2, "]")
	w(1, "}")
	w(0, "}")
	return b.String()
}

// HelmValues is values.yaml for the official NATS Helm chart
// (https://github.com/nats-io/k8s, chart nats 1.x) with the same accounts
// and users as ServerConfig: a 3-node JetStream cluster fsyncing every
// write, each password taken from Secret SecretName (key: the identity's
// name) into PasswordEnv(name) and into the configuration with the
// chart's "<< $VAR >>" syntax.
func HelmValues() string {
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "# dropsync NATS users for the official chart: helm install nats nats/nats -f values.yaml")
	w(0, "# %s", generated)
	w(0, "# Create Secret %s first, one random password per user (key: the user name),", SecretName)
	w(0, "# letters and digits, a letter first (e.g. p$(openssl rand -hex 24)): nats-server")
	w(0, "# reads the variable as a configuration value.")
	w(0, "config:")
	w(1, "cluster:")
	w(2, "enabled: true")
	w(2, "replicas: 3")
	w(1, "jetstream:")
	w(2, "enabled: true")
	w(2, "fileStore:")
	w(3, "pvc:")
	w(4, "size: 10Gi")
	w(2, "merge:")
	w(3, "# Every write fsynced before it is acknowledged (see the README, Durability).")
	w(3, "sync_interval: always")
	w(1, "merge:")
	w(2, "accounts:")
	w(3, "%s:", Account)
	w(4, "jetstream: enabled")
	w(4, "users:")
	for _, id := range Identities() {
		w(5, "# %s: %s", id.Name, id.Role)
		w(5, "- user: %s", id.Name)
		w(5, "  password: \"<< $%s >>\"", PasswordEnv(id.Name))
		w(5, "  permissions:")
		for _, dir := range directions(id) {
			w(5, "    %s:", dir.name)
			for _, l := range dir.lists {
				w(5, "      %s:", l.name)
				for _, r := range l.rules {
					w(5, "        - %q # %s", r.Subject, r.Why)
				}
			}
		}
	}
	w(0, "container:")
	w(1, "env:")
	for _, id := range Identities() {
		w(2, "%s:", PasswordEnv(id.Name))
		w(3, "valueFrom:")
		w(4, "secretKeyRef:")
		w(5, "name: %s", SecretName)
		w(5, "key: %s", id.Name)
	}
	return b.String()
}
