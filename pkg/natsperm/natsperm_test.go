package natsperm_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/natsserver"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

var update = flag.Bool("update", false, "rewrite the generated files in deploy/k8s/nats")

// deployDir holds the files generated from the table.
var deployDir = filepath.Join("..", "..", "deploy", "k8s", "nats")

// TestGenerated checks the shipped server configuration and Helm values
// are what the table gives; -update (make generate) rewrites them.
func TestGenerated(t *testing.T) {
	for name, want := range map[string]string{
		"nats-server.conf": natsperm.ServerConfig(),
		"values.yaml":      natsperm.HelmValues(),
	} {
		path := filepath.Join(deployDir, name)
		if *update {
			if err := os.MkdirAll(deployDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		if string(got) != want {
			t.Errorf("%s differs from pkg/natsperm's table: run make generate", path)
		}
	}
}

// TestHelmValuesEveryIdentity checks each identity's user and password
// variable are in the Helm values (the file is golden, not parsed here).
func TestHelmValuesEveryIdentity(t *testing.T) {
	v := natsperm.HelmValues()
	for _, id := range natsperm.Identities() {
		for _, want := range []string{"- user: " + id.Name + "\n", `"<< $` + natsperm.PasswordEnv(id.Name) + ` >>"`, "key: " + id.Name + "\n"} {
			if !strings.Contains(v, want) {
				t.Errorf("values.yaml lacks %q", want)
			}
		}
	}
	if strings.Contains(v, natsperm.DevTools) || strings.Contains(natsperm.ServerConfig(), natsperm.DevTools) {
		t.Error("the shipped files must not have the devtools user")
	}
}

// shippedServer starts a server from the shipped nats-server.conf, with a
// password for each identity in its variable, on a free port.
func shippedServer(t *testing.T) (string, natsperm.Passwords) {
	t.Helper()
	pw, err := natsperm.NewPasswords()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range natsperm.Identities() {
		t.Setenv(natsperm.PasswordEnv(id.Name), pw[id.Name])
	}
	delete(pw, natsperm.DevTools)
	opts, err := server.ProcessConfigFile(filepath.Join(deployDir, "nats-server.conf"))
	if err != nil {
		t.Fatalf("shipped nats-server.conf: %v", err)
	}
	opts.Host, opts.Port, opts.StoreDir = "127.0.0.1", -1, t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL(), pw
}

// embeddedServer starts natsserver with EmbeddedUsers.
func embeddedServer(t *testing.T) (string, natsperm.Passwords) {
	t.Helper()
	pw, err := natsperm.NewPasswords()
	if err != nil {
		t.Fatal(err)
	}
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: t.TempDir(), Users: natsperm.EmbeddedUsers(pw), NoAuthUser: natsperm.DevTools})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.URL(), pw
}

// client is one identity's connection; errs receives what the server
// reports asynchronously (permission violations).
type client struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func connect(t *testing.T, url, name, password string) *client {
	t.Helper()
	c := &client{name: name, errs: make(chan error, 64)}
	opts := []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(natsperm.InboxPrefix(name)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}),
	}
	if password != "" {
		opts = append(opts, nats.UserInfo(name, password))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// refused waits for the server's permissions violation of op ("Publish"
// or "Subscription") on subject, or on a subject starting with it when it
// ends with '.'.
func (c *client) refused(t *testing.T, op, subject string) {
	t.Helper()
	want := fmt.Sprintf("Permissions Violation for %s to %q", op, subject)
	if strings.HasSuffix(subject, ".") {
		want = strings.TrimSuffix(want, `"`)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), want) {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no %q", c.name, want)
		}
	}
}

// clean fails if the server refused anything c did.
func (c *client) clean(t *testing.T) {
	t.Helper()
	for {
		select {
		case err := <-c.errs:
			t.Errorf("%s: %v", c.name, err)
		default:
			return
		}
	}
}

// envelope is a minimal event of type typ about orderID.
func envelope(orderID, typ string) *eventsv1.Envelope {
	env := &eventsv1.Envelope{EventId: orderID + "/" + typ, OrderId: orderID}
	switch typ {
	case "StoreOrderCreated":
		env.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}}
	case "StoreOrderCanceled":
		env.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{}}
	case "SupplierShipmentCreated":
		env.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{}}
	case "FulfillmentRequested":
		env.Event = &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{}}
	case "PlacementRequested":
		env.Event = &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{}}
	case "ShippingConfirmationIssued":
		env.Event = &eventsv1.Envelope_ShippingConfirmationIssued{ShippingConfirmationIssued: &eventsv1.ShippingConfirmationIssued{}}
	case "StoreSettingsChanged":
		env.Event = &eventsv1.Envelope_StoreSettingsChanged{StoreSettingsChanged: &eventsv1.StoreSettingsChanged{}}
	default:
		panic(typ)
	}
	return env
}

// publish publishes an event as c, waiting at most a second for its ack.
func (c *client) publish(env *eventsv1.Envelope) error {
	subject, err := bus.SubjectFor(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return bus.NewPublisher(c.js, bus.PublisherConfig{}).Publish(ctx, subject, env)
}

// consume runs c's durable on stream until it got one message, and
// returns its event type.
func (c *client) consume(t *testing.T, stream, durable string, filters ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan string, 1)
	err := bus.Consume(ctx, c.js, bus.ConsumerConfig{
		Stream: stream, Durable: durable, FilterSubjects: filters,
		AckWait: time.Second, ShutdownTimeout: time.Second,
	}, func(_ context.Context, m *bus.Message) error {
		select {
		case got <- m.EventType():
		default:
		}
		// Long enough for the watchdog's consumer info and an in-progress.
		time.Sleep(1500 * time.Millisecond)
		cancel()
		return nil
	})
	if err != nil {
		t.Fatalf("%s: consume %s/%s: %v", c.name, stream, durable, err)
	}
	select {
	case typ := <-got:
		return typ
	default:
		t.Fatalf("%s: consume %s/%s: nothing delivered", c.name, stream, durable)
		return ""
	}
}

// stored counts the messages of stream on subject, as orders.
func stored(t *testing.T, orders *client, stream, subject string) uint64 {
	t.Helper()
	s, err := orders.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func TestPermissions(t *testing.T) {
	for name, start := range map[string]func(*testing.T) (string, natsperm.Passwords){
		"shipped nats-server.conf": shippedServer,
		"embedded":                 embeddedServer,
	} {
		t.Run(name, func(t *testing.T) {
			url, pw := start(t)
			as := func(name string) *client {
				if _, ok := pw[name]; !ok {
					return nil // not on this server
				}
				return connect(t, url, name, pw[name])
			}
			orders := as(natsperm.Orders)
			if err := bus.EnsureStreams(context.Background(), orders.js, bus.Config{}); err != nil {
				t.Fatalf("orders creates the streams: %v", err)
			}
			orders.clean(t)
			testForgeries(t, as, orders)
			testLegitimate(t, as, orders)
		})
	}
}

// testForgeries: what one service may not do is refused by the server,
// and nothing is stored.
func testForgeries(t *testing.T, as func(string) *client, orders *client) {
	type forgery struct {
		name, as string
		env      *eventsv1.Envelope
	}
	for _, f := range []forgery{
		{"shopify publishes a wix store event", natsperm.Shopify, envelope("wix:demo:1", "StoreOrderCreated")},
		{"shopify cancels a woocommerce order", natsperm.Shopify, envelope("woocommerce:demo:1", "StoreOrderCanceled")},
		{"wix cancels a shopify order", natsperm.Wix, envelope("shopify:demo:1", "StoreOrderCanceled")},
		{"shopify forges a supplier shipment", natsperm.Shopify, envelope("shopify:demo:1", "SupplierShipmentCreated")},
		{"woocommerce forges a fulfilment command", natsperm.WooCommerce, envelope("woocommerce:demo:1", "FulfillmentRequested")},
		{"wix sends shopify a command", natsperm.Wix, envelope("shopify:demo:1", "FulfillmentRequested")},
		{"shopify forges a shipping confirmation", natsperm.Shopify, envelope("shopify:demo:1", "ShippingConfirmationIssued")},
		{"aliexpress forges a store event", natsperm.AliExpress, envelope("shopify:demo:1", "StoreOrderCanceled")},
		{"aliexpress forges a placement command", natsperm.AliExpress, envelope("shopify:demo:1", "PlacementRequested")},
		{"notifier forges a fulfilment command", natsperm.Notifier, envelope("shopify:demo:1", "FulfillmentRequested")},
		{"notifier forges a supplier shipment", natsperm.Notifier, envelope("shopify:demo:1", "SupplierShipmentCreated")},
		{"devtools forges a demo store event", natsperm.DevTools, envelope("shopify:demo:1", "StoreOrderCanceled")},
	} {
		t.Run("refused/"+f.name, func(t *testing.T) {
			c := as(f.as)
			if c == nil {
				t.Skip(f.as + " is not on this server")
			}
			subject, err := bus.SubjectFor(f.env)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.publish(f.env); err == nil {
				t.Fatal("published")
			}
			c.refused(t, "Publish", subject)
			stream := map[string]string{bus.KindStore: bus.StreamStore, bus.KindSupplier: bus.StreamSupplier, bus.KindOrder: bus.StreamOrder}[strings.Split(subject, ".")[0]]
			if n := stored(t, orders, stream, subject); n != 0 {
				t.Errorf("%d stored on %s", n, subject)
			}
		})
	}

	t.Run("refused/shopify updates a stream", func(t *testing.T) {
		c := as(natsperm.Shopify)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := bus.EnsureStreams(ctx, c.js, bus.Config{}); err == nil {
			t.Fatal("updated")
		}
		c.refused(t, "Publish", "$JS.API.STREAM.UPDATE."+bus.StreamStore)
	})
	t.Run("refused/wix takes shopify's commands", func(t *testing.T) {
		c := as(natsperm.Wix)
		next := "$JS.API.CONSUMER.MSG.NEXT." + bus.StreamOrder + "." + natsperm.CommandsDurable(natsperm.Shopify)
		if err := c.nc.PublishRequest(next, c.nc.NewInbox(), []byte(`{"batch":1}`)); err != nil {
			t.Fatal(err)
		}
		c.refused(t, "Publish", next)
	})
	t.Run("refused/wix re-creates shopify's commands durable", func(t *testing.T) {
		c := as(natsperm.Wix)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := c.js.CreateOrUpdateConsumer(ctx, bus.StreamOrder, jetstream.ConsumerConfig{
			Durable: natsperm.CommandsDurable(natsperm.Shopify), FilterSubject: bus.OrderFilter(natsperm.Wix, "StoreSettingsChanged"),
		}); err == nil {
			t.Fatal("re-created")
		}
		c.refused(t, "Publish", "$JS.API.CONSUMER.CREATE."+bus.StreamOrder+"."+natsperm.CommandsDurable(natsperm.Shopify)+"."+bus.OrderFilter(natsperm.Wix, "StoreSettingsChanged"))
	})
	t.Run("refused/aliexpress widens its durable's filter", func(t *testing.T) {
		c := as(natsperm.AliExpress)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := c.js.CreateOrUpdateConsumer(ctx, bus.StreamOrder, jetstream.ConsumerConfig{
			Durable: natsperm.AliExpressDurable, FilterSubject: "order.>",
		}); err == nil {
			t.Fatal("widened")
		}
		c.refused(t, "Publish", "$JS.API.CONSUMER.CREATE."+bus.StreamOrder+"."+natsperm.AliExpressDurable+".order.>")
	})
	t.Run("refused/shopify reads the orders service's replies", func(t *testing.T) {
		c := as(natsperm.Shopify)
		if _, err := c.nc.SubscribeSync(natsperm.InboxPrefix(natsperm.Orders) + ".>"); err != nil {
			t.Fatal(err)
		}
		c.refused(t, "Subscription", natsperm.InboxPrefix(natsperm.Orders)+".>")
	})
	t.Run("refused/shopify reads every store event", func(t *testing.T) {
		c := as(natsperm.Shopify)
		if _, err := c.nc.SubscribeSync("store.>"); err != nil {
			t.Fatal(err)
		}
		c.refused(t, "Subscription", "store.>")
	})
	t.Run("refused/shopify marks a wix delivery as seen", func(t *testing.T) {
		c := as(natsperm.Shopify)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := webhook.NewKVDedupe(ctx, c.js, webhook.KVDedupeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		if err := d.Remember(rctx, "wix/instance/event-1"); err == nil {
			t.Fatal("remembered")
		}
		c.refused(t, "Publish", "$KV."+webhook.DefaultDedupeBucket+".d.wix.")
	})
	t.Run("refused/shopify moves wix's reconciliation checkpoint", func(t *testing.T) {
		c := as(natsperm.Shopify)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cp, err := reconcile.NewKVCheckpoints(ctx, c.js, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		defer scancel()
		if err := cp.Save(sctx, "wix.demo", time.Now()); err == nil {
			t.Fatal("saved")
		}
		c.refused(t, "Publish", "$KV."+reconcile.DefaultBucket+".wix.demo")
	})
}

// testLegitimate: what each service does on the bus, done with its own
// identity, is allowed, and the server reports no violation.
func testLegitimate(t *testing.T, as func(string) *client, orders *client) {
	ctx := context.Background()
	t.Run("allowed/store connectors", func(t *testing.T) {
		for _, p := range []string{natsperm.Shopify, natsperm.WooCommerce, natsperm.Wix} {
			c := as(p)
			if err := bus.OpenStreams(ctx, c.js, bus.Config{}); err != nil {
				t.Fatalf("%s: open streams: %v", p, err)
			}
			for _, typ := range []string{"StoreOrderCreated", "StoreOrderCanceled"} {
				if err := c.publish(envelope(p+":demo:1", typ)); err != nil {
					t.Fatalf("%s: publish %s: %v", p, typ, err)
				}
			}
			d, err := webhook.NewKVDedupe(ctx, c.js, webhook.KVDedupeConfig{})
			if err != nil {
				t.Fatalf("%s: dedupe bucket: %v", p, err)
			}
			if err := d.Remember(ctx, p+"/delivery"); err != nil {
				t.Fatal(err)
			}
			if seen, err := d.Seen(ctx, p+"/delivery"); err != nil || !seen {
				t.Fatalf("%s: seen %v, %v", p, seen, err)
			}
			cp, err := reconcile.NewKVCheckpoints(ctx, c.js, "", 1)
			if err != nil {
				t.Fatalf("%s: reconcile bucket: %v", p, err)
			}
			if err := cp.Save(ctx, p+".demo", time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := cp.Load(ctx, p+".demo"); err != nil || !ok {
				t.Fatalf("%s: load checkpoint %v, %v", p, ok, err)
			}
			if err := orders.publish(envelope(p+":demo:1", "FulfillmentRequested")); err != nil {
				t.Fatal(err)
			}
			var filters []string
			for _, typ := range natsperm.Commands[p] {
				filters = append(filters, bus.OrderFilter(p, typ))
			}
			if typ := c.consume(t, bus.StreamOrder, natsperm.CommandsDurable(p), filters...); typ != "FulfillmentRequested" {
				t.Errorf("%s: got %s", p, typ)
			}
			c.clean(t)
		}
	})
	t.Run("allowed/wix follows its settings", func(t *testing.T) {
		if err := orders.publish(envelope("wix:demo", "StoreSettingsChanged")); err != nil {
			t.Fatal(err)
		}
		c := as(natsperm.Wix)
		cons, err := c.js.OrderedConsumer(ctx, bus.StreamOrder, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{bus.OrderFilter(natsperm.Wix, "StoreSettingsChanged")},
			DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := cons.Messages()
		if err != nil {
			t.Fatal(err)
		}
		defer msgs.Stop()
		msg, err := msgs.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(msg.Subject(), ".StoreSettingsChanged") {
			t.Errorf("got %s", msg.Subject())
		}
		c.clean(t)
	})
	t.Run("allowed/aliexpress", func(t *testing.T) {
		c := as(natsperm.AliExpress)
		if err := bus.OpenStreams(ctx, c.js, bus.Config{}); err != nil {
			t.Fatal(err)
		}
		if err := c.publish(envelope("wix:demo:1", "SupplierShipmentCreated")); err != nil {
			t.Fatal(err)
		}
		ownBucket(t, c, natsperm.AliExpressBucket, true)
		if err := orders.publish(envelope("wix:demo:1", "PlacementRequested")); err != nil {
			t.Fatal(err)
		}
		if typ := c.consume(t, bus.StreamOrder, natsperm.AliExpressDurable, bus.OrderFilter("", "PlacementRequested")); typ != "PlacementRequested" {
			t.Errorf("got %s", typ)
		}
		c.clean(t)
	})
	t.Run("allowed/notifier", func(t *testing.T) {
		c := as(natsperm.Notifier)
		if err := bus.OpenStreams(ctx, c.js, bus.Config{}); err != nil {
			t.Fatal(err)
		}
		if err := c.publish(envelope("shopify:demo:1", "ShippingConfirmationIssued")); err != nil {
			t.Fatal(err)
		}
		ownBucket(t, c, natsperm.NotifierLedgerBucket, true)
		c.clean(t)
	})
	t.Run("allowed/orders", func(t *testing.T) {
		ownBucket(t, orders, natsperm.OrdersCheckpointBucket, false)
		if typ := orders.consume(t, bus.StreamStore, natsperm.OrdersStoreDurable); typ != "StoreOrderCreated" {
			t.Errorf("store events: got %s", typ)
		}
		if typ := orders.consume(t, bus.StreamSupplier, natsperm.OrdersSupplierDurable); typ != "SupplierShipmentCreated" {
			t.Errorf("supplier events: got %s", typ)
		}
		if typ := orders.consume(t, bus.StreamOrder, natsperm.OrdersFactsDurable, bus.OrderFilter("", "ShippingConfirmationIssued")); typ != "ShippingConfirmationIssued" {
			t.Errorf("service facts: got %s", typ)
		}
		orders.clean(t)
	})
	t.Run("allowed/devtools", func(t *testing.T) {
		c := as(natsperm.DevTools)
		if c == nil {
			t.Skip("devtools is on the embedded server only")
		}
		if err := c.publish(envelope("shopify:manual:1001", "StoreOrderCreated")); err != nil {
			t.Fatal(err)
		}
		c.clean(t)
	})
}

// ownBucket does what a bucket's owner does: create it, write, read,
// and with watch, watch it.
func ownBucket(t *testing.T, c *client, name string, watch bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 5})
	if err != nil {
		c.clean(t)
		t.Fatalf("%s: bucket %s: %v", c.name, name, err)
	}
	if _, err := kv.Create(ctx, "k.1", []byte("v")); err != nil {
		t.Fatalf("%s: create key: %v", c.name, err)
	}
	if _, err := kv.Get(ctx, "k.1"); err != nil {
		t.Fatalf("%s: get key: %v", c.name, err)
	}
	if watch {
		w, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatalf("%s: watch: %v", c.name, err)
		}
		if e := <-w.Updates(); e == nil || e.Key() != "k.1" {
			t.Fatalf("%s: watch: %v", c.name, e)
		}
		if err := w.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.ListKeysFiltered(ctx, "k.>"); err != nil {
			t.Fatalf("%s: list keys: %v", c.name, err)
		}
	}
	if err := kv.Delete(ctx, "k.1"); err != nil {
		t.Fatalf("%s: delete key: %v", c.name, err)
	}
}
