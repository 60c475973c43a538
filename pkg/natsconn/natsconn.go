// Package natsconn connects a service to NATS JetStream: to the cluster named
// in its configuration, or to an in-process server it starts (the embedded
// default of `make run`).
package natsconn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

// Conn is a NATS connection with JetStream, and the embedded server if one
// was started.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Embedded *natsserver.Server
}

// Open connects as cfg says. name identifies the client to the server.
func Open(ctx context.Context, cfg config.NATS, name string, log *slog.Logger) (*Conn, error) {
	c := &Conn{}
	url := cfg.URL
	if cfg.Embedded() {
		s, err := natsserver.Start(natsserver.Options{
			Host:        cfg.EmbeddedHost,
			Port:        cfg.EmbeddedPort,
			StoreDir:    cfg.EmbeddedDir,
			RelaxedSync: cfg.RelaxedSync,
		})
		if err != nil {
			return nil, err
		}
		c.Embedded = s
		url = s.URL()
		log.InfoContext(ctx, "embedded nats server started", "url", url, "dir", cfg.EmbeddedDir, "sync_always", !cfg.RelaxedSync)
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	c.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.JS = js
	return c, nil
}

// Close drains the connection (in-flight messages are delivered) and stops
// the embedded server, if any.
func (c *Conn) Close() {
	if c.NC != nil {
		if err := c.NC.Drain(); err != nil {
			c.NC.Close()
		}
		for c.NC.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c.Embedded != nil {
		c.Embedded.Stop()
	}
}
