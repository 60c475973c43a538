package natsconn

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

// TestOpenAsUser: with DROPSYNC_NATS_USER and _PASSWORD a service logs in
// as its own NATS user, its replies on its own inbox prefix (the only
// subjects it may subscribe to), so a JetStream request works; a wrong
// password is refused.
func TestOpenAsUser(t *testing.T) {
	pw, err := natsperm.NewPasswords()
	if err != nil {
		t.Fatal(err)
	}
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: t.TempDir(), Users: natsperm.EmbeddedUsers(pw)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := config.NATS{URL: s.URL(), User: natsperm.Orders, Password: pw[natsperm.Orders]}
	c, err := Open(context.Background(), cfg, natsperm.Orders, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.NC.NewInbox(), natsperm.InboxPrefix(natsperm.Orders)+".") {
		t.Errorf("inbox %s: want prefix %s", c.NC.NewInbox(), natsperm.InboxPrefix(natsperm.Orders))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Await(ctx, log, "account info", func(ctx context.Context) error {
		_, err := c.JS.AccountInfo(ctx)
		return err
	}); err != nil {
		t.Fatalf("a JetStream request as %s: %v", natsperm.Orders, err)
	}

	cfg.Password = "p-wrong"
	opts, err := securityOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.URL(), append(opts, nats.NoReconnect(), nats.Timeout(5*time.Second))...)
	if err == nil {
		nc.Close()
		t.Fatal("connected with a wrong password")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("error %q does not mention authorization", err)
	}
}
