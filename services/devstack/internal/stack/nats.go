package stack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/natsserver"
	aliexpress "github.com/dropsync/dropsync/services/aliexpress/service"
	notifier "github.com/dropsync/dropsync/services/notifier/service"
	orders "github.com/dropsync/dropsync/services/orders/service"
	shopify "github.com/dropsync/dropsync/services/shopify/service"
	wix "github.com/dropsync/dropsync/services/wix/service"
	woocommerce "github.com/dropsync/dropsync/services/woocommerce/service"
)

// services are the names of the services the stack runs, which are
// their NATS identities too.
var services = []string{orders.Name, notifier.Name, aliexpress.Name, shopify.Name, woocommerce.Name, wix.Name}

// NATS is the dev stack's NATS: with the embedded server, the server runs
// with dropsync's users and permissions (pkg/natsperm, fresh passwords at
// every start, held in memory only) and each service has its own
// connection, logged in as itself, so a subject the table does not grant
// fails under `make run` as it would in production; a client without
// credentials (the storeevent tool) gets the devtools identity. With an
// external server (DROPSYNC_NATS_URL), every service shares one
// connection with the configured credentials.
type NATS struct {
	server *natsserver.Server
	shared *natsconn.Conn
	conns  map[string]*natsconn.Conn
}

// OpenNATS starts the embedded server and connects each service, or
// connects once to the external server.
func OpenNATS(ctx context.Context, cfg config.NATS, log *slog.Logger) (*NATS, error) {
	n := &NATS{conns: map[string]*natsconn.Conn{}}
	if !cfg.Embedded() {
		c, err := natsconn.Open(ctx, cfg, "devstack", log)
		if err != nil {
			return nil, err
		}
		n.shared = c
		return n, nil
	}
	pw, err := natsperm.NewPasswords()
	if err != nil {
		return nil, err
	}
	n.server, err = natsserver.Start(natsserver.Options{
		Host:        cfg.EmbeddedHost,
		Port:        cfg.EmbeddedPort,
		StoreDir:    cfg.EmbeddedDir,
		RelaxedSync: cfg.RelaxedSync,
		Users:       natsperm.EmbeddedUsers(pw),
		NoAuthUser:  natsperm.DevTools,
	})
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "embedded nats server started, one user per service", "url", n.server.URL(), "dir", cfg.EmbeddedDir, "sync_always", !cfg.RelaxedSync)
	for _, name := range services {
		c := cfg
		c.URL, c.User, c.Password = n.server.URL(), name, pw[name]
		conn, err := natsconn.Open(ctx, c, name, log.With("service", name))
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("nats as %s: %w", name, err)
		}
		n.conns[name] = conn
	}
	return n, nil
}

// JetStream is the connection of service; the orders service's for a
// name that is not a service's.
func (n *NATS) JetStream(service string) jetstream.JetStream {
	if n.shared != nil {
		return n.shared.JS
	}
	if c, ok := n.conns[service]; ok {
		return c.JS
	}
	return n.conns[orders.Name].JS
}

// Close drains every connection and stops the embedded server.
func (n *NATS) Close() {
	for _, c := range n.conns {
		c.Close()
	}
	if n.shared != nil {
		n.shared.Close()
	}
	if n.server != nil {
		n.server.Stop()
	}
}
