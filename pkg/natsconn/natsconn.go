// Package natsconn connects a service to NATS JetStream: to the cluster named
// in its configuration, or to an in-process server it starts (the embedded
// default of `make run`).
//
// A service does not need NATS to be up to start: Open returns at once and
// the connection comes up when the server does (nats.RetryOnFailedConnect),
// and after any outage it reconnects for as long as it takes
// (MaxReconnects(-1)). Await retries a service's set-up (streams, buckets)
// until NATS answers; the service says SERVING only then.
package natsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

// Conn is a NATS connection with JetStream, and the embedded server if one
// was started.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Embedded *natsserver.Server
}

// ReconnectWait is the pause between attempts to reach the server.
const ReconnectWait = 500 * time.Millisecond

// Open connects as cfg says. name identifies the client to the server. It
// does not wait for the server: the connection is made in the background,
// and made again after every outage, with no limit on attempts.
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
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("nats connected", "url", nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		// Replies come to "_INBOX.<name>.>", the only subjects a service's
		// NATS user may subscribe to (pkg/natsperm).
		nats.CustomInboxPrefix(natsperm.InboxPrefix(name)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { logAsyncError(log, err) }),
	}
	sec, err := securityOptions(cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	opts = append(opts, sec...)
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

// logAsyncError logs an error the server reported outside any call: a
// permissions violation (a subject the service's NATS user may not use,
// at ERROR: the request it belonged to only times out), a slow consumer.
func logAsyncError(log *slog.Logger, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) && natsperm.Provoked(err) {
		log.Info("nats: a stream is not there yet; the orders service creates it, waiting", "err", err)
		return
	}
	if errors.Is(err, nats.ErrPermissionViolation) {
		log.Error("nats refused a subject: the service's NATS user lacks the permission (pkg/natsperm)", "err", err)
		return
	}
	log.Warn("nats", "err", err)
}

// securityOptions are the TLS and user credential options cfg names: the
// server's certificate checked against TLSCAFile, the client certificate
// for mTLS, and a creds file, an nkey seed or a user and password.
// RootCAs and ClientCert turn TLS on and read their files again on every
// handshake, so a certificate renewed on disk (cert-manager) is used from
// the next reconnect. Secrets are read by nats.go and never logged.
func securityOptions(cfg config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCAFile))
	}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCertFile, cfg.TLSKeyFile))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.NkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey seed %s: %w", cfg.NkeySeedFile, err)
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// Await calls setup until it succeeds or ctx ends, so a service started
// before NATS (or the event store) is reachable waits for it instead of
// exiting. Each attempt gets at most attemptTimeout; failures are logged as
// warnings, the first and then every tenth, and the wait between attempts
// doubles from 250ms up to 5s. It returns nil once setup succeeded, and
// ctx's error when ctx ended first.
func Await(ctx context.Context, log *slog.Logger, what string, setup func(context.Context) error) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := setup(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.InfoContext(ctx, what+": done", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt%10 == 1 {
			log.WarnContext(ctx, what+": not reachable yet, will retry", "err", err, "attempt", attempt, "delay", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Keep runs follow until ctx ends, and again after a pause each time it
// fails (NATS or the event store away), so a follower of a stream or of
// the event store rides out an outage instead of stopping the service.
// follow must resume where it was, or be idempotent from its start. Each
// failure is logged as a warning; the pause doubles from 250ms up to 5s,
// and starts afresh after a run of more than a minute.
func Keep(ctx context.Context, log *slog.Logger, name string, follow func(context.Context) error) error {
	delay := 250 * time.Millisecond
	for {
		began := time.Now()
		err := follow(ctx)
		if err == nil || stopped(ctx) {
			return nil
		}
		if time.Since(began) > time.Minute {
			delay = 250 * time.Millisecond
		}
		log.WarnContext(ctx, name+" stopped; resuming", "err", err, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// attemptTimeout bounds one Await attempt.
const attemptTimeout = 10 * time.Second

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

// stopped reports whether ctx has ended: what a loop's last error then
// says is about the stop, not a failure.
func stopped(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
