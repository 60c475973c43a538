package natsperm

import (
	"maps"
	"slices"
	"strings"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	esjs "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/order"
)

// Identity names: the NATS user of each service, which is also the name
// its connection gives the server (natsconn.Open's name).
const (
	Orders      = "orders"
	Notifier    = "notifier"
	AliExpress  = "aliexpress"
	Shopify     = order.WordShopify
	WooCommerce = order.WordWooCommerce
	Wix         = order.WordWix
	// DevTools is the identity of a client that logs in without
	// credentials on the embedded server of `make run` only (the README's
	// storeevent tool); it is never in the shipped configuration.
	DevTools = "devtools"
)

// Resource names the table grants rights on. The durable consumers and
// buckets of services/* live in their internal packages, which pkg cannot
// import: they are repeated here, and the whole-system test (every
// service on its own identity) fails when one is renamed without the
// table.
const (
	// OrdersStoreDurable and the two below are the orders service's
	// consumers (services/orders/internal/ports).
	OrdersStoreDurable    = "orders-store-events"
	OrdersSupplierDurable = "orders-supplier-events"
	OrdersFactsDurable    = "orders-service-facts"
	// OrdersCheckpointBucket is the relay's checkpoint bucket
	// (services/orders/internal/relay.CheckpointBucket).
	OrdersCheckpointBucket = "dropsync_checkpoints"
	// NotifierLedgerBucket is the notifier's default ledger bucket
	// (DROPSYNC_NOTIFIER_LEDGER_BUCKET); renaming it needs the table
	// changed too.
	NotifierLedgerBucket = "dropsync_confirmations"
	// AliExpressDurable consumes PlacementRequested
	// (services/aliexpress/internal/ports.PlacementDurable).
	AliExpressDurable = "aliexpress-placements"
	// AliExpressBucket is the connector's state (open orders, quotas,
	// budgets; services/aliexpress/internal/app.Bucket).
	AliExpressBucket = "dropsync_aliexpress"
)

// CommandsDurable is a store connector's durable consumer of the commands
// addressed to its platform ("shopify-commands", ...).
func CommandsDurable(platform string) string { return platform + "-commands" }

// Commands are the order event types each store connector carries out
// (the filters of its commands durable).
var Commands = map[string][]string{
	Shopify:     {"FulfillmentRequested", "TrackingUpdateRequested", "ResyncRequested"},
	WooCommerce: {"FulfillmentRequested", "TrackingUpdateRequested", "ResyncRequested"},
	Wix:         {"FulfillmentRequested", "ResyncRequested"},
}

// Rule is one subject an identity may use, and why.
type Rule struct {
	// Subject, wildcards allowed.
	Subject string
	// Why the identity needs it.
	Why string
}

// Identity is one NATS user and what it may do. Everything not listed is
// denied.
type Identity struct {
	// Name is the user name, the connection name and the inbox token.
	Name string
	// Role says in a line what the service does on the bus.
	Role string
	// Publish lists the subjects it may publish to (JetStream API
	// requests, acks and key-value writes are publishes too).
	Publish []Rule
	// Subscribe lists the subjects it may subscribe to: its replies only.
	Subscribe []Rule
	// DenyPublish carves out of Publish what a wildcard would allow but
	// the identity must not do: the other services' durable consumers on
	// a stream it reads with ordered consumers (whose names are random, so
	// their rights are granted on "<stream>.*"). Deny wins over allow.
	DenyPublish []Rule
}

// DenyPublishSubjects are the subjects of DenyPublish.
func (id Identity) DenyPublishSubjects() []string { return subjects(id.DenyPublish) }

// PublishSubjects are the subjects of Publish.
func (id Identity) PublishSubjects() []string { return subjects(id.Publish) }

// SubscribeSubjects are the subjects of Subscribe.
func (id Identity) SubscribeSubjects() []string { return subjects(id.Subscribe) }

func subjects(rs []Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Subject
	}
	return out
}

// InboxPrefix is the reply subject prefix of an identity's connection,
// "_INBOX.<name>"; the identity may subscribe to "_INBOX.<name>.>" only.
func InboxPrefix(name string) string { return "_INBOX." + name }

// Identities is the table: one identity per service, in a fixed order.
func Identities() []Identity {
	ids := []Identity{
		orders(),
		notifier(),
		aliExpress(),
		storeConnector(Shopify),
		storeConnector(WooCommerce),
		storeConnector(Wix),
	}
	denyForeignDurables(ids)
	return ids
}

// denyForeignDurables gives every identity that may reach any consumer of
// a stream ("$JS.API.CONSUMER.<op>.<stream>.*", for its ordered
// consumers) a deny of every durable consumer of that stream another
// identity owns, so it can neither pull from, look up, re-create nor
// delete them.
func denyForeignDurables(ids []Identity) {
	const prefix = api + "CONSUMER.MSG.NEXT."
	owner := map[string]map[string]string{} // stream -> durable -> identity
	for _, id := range ids {
		for _, r := range id.Publish {
			rest, ok := strings.CutPrefix(r.Subject, prefix)
			if !ok {
				continue
			}
			stream, name, _ := strings.Cut(rest, ".")
			if name == "*" {
				continue
			}
			if owner[stream] == nil {
				owner[stream] = map[string]string{}
			}
			owner[stream][name] = id.Name
		}
	}
	for i, id := range ids {
		for _, r := range id.Publish {
			rest, ok := strings.CutPrefix(r.Subject, prefix)
			if !ok || !strings.HasSuffix(rest, ".*") {
				continue
			}
			stream := strings.TrimSuffix(rest, ".*")
			names := slices.Sorted(maps.Keys(owner[stream]))
			for _, name := range names {
				if owner[stream][name] == id.Name {
					continue
				}
				why := "durable " + name + " is " + owner[stream][name] + "'s"
				c := stream + "." + name
				ids[i].DenyPublish = append(ids[i].DenyPublish,
					Rule{api + "CONSUMER.CREATE." + c, why},
					Rule{api + "CONSUMER.CREATE." + c + ".>", why},
					Rule{api + "CONSUMER.INFO." + c, why},
					Rule{api + "CONSUMER.DELETE." + c, why},
					Rule{api + "CONSUMER.MSG.NEXT." + c, why})
			}
		}
	}
}

// Lookup returns the identity named name, DevTools included.
func Lookup(name string) (Identity, bool) {
	ids := append(Identities(), DevToolsIdentity())
	i := slices.IndexFunc(ids, func(id Identity) bool { return id.Name == name })
	if i < 0 {
		return Identity{}, false
	}
	return ids[i], true
}

// Provoked reports whether err, a permissions violation the server
// reported, is one dropsync provokes by design rather than a missing
// permission: a service other than the streams' owner trying to create a
// bus stream that is not there yet (bus.OpenStreams started before the
// orders service made it; it then waits for it).
func Provoked(err error) bool {
	msg := err.Error()
	for _, st := range busStreams {
		if strings.Contains(msg, `Publish to "`+api+"STREAM.CREATE."+st+`"`) {
			return true
		}
	}
	return false
}

// DevToolsIdentity is what a client without credentials may do on the
// embedded server of `make run`: publish store events of the "manual"
// stores (`go run ./services/orders/cmd/storeevent -order shopify:manual:1001`)
// and nothing else. A real deployment has no such user.
func DevToolsIdentity() Identity {
	return Identity{
		Name: DevTools,
		Role: "local tools on the embedded server of `make run` only: store events of the stores named manual",
		Publish: []Rule{
			{"store.*.manual.*", "the storeevent tool's hand-made store events"},
		},
		Subscribe: inbox(DevTools),
	}
}

var busStreams = []string{bus.StreamStore, bus.StreamSupplier, bus.StreamOrder, bus.StreamDeadLetter}

const api = "$JS.API."

func inbox(name string) []Rule {
	return []Rule{{InboxPrefix(name) + ".>", "replies: JetStream API answers, publish acks, pulled messages, key-value reads"}}
}

// lookupStreams lets a service find the bus streams (bus.OpenStreams).
func lookupStreams() []Rule {
	out := make([]Rule, 0, len(busStreams))
	for _, s := range busStreams {
		out = append(out, Rule{api + "STREAM.INFO." + s, "find stream " + s + " at start-up"})
	}
	return out
}

// ownStream lets the owner create, update and look up stream s.
func ownStream(s string) []Rule {
	return []Rule{
		{api + "STREAM.CREATE." + s, "create stream " + s},
		{api + "STREAM.UPDATE." + s, "update stream " + s + " to the configuration"},
		{api + "STREAM.INFO." + s, "look up stream " + s},
	}
}

// durable lets a service run bus.Consume on its durable consumer: create
// or update it, check it exists, pull, settle (ack, nak, in progress,
// term), and dead-letter what it gives up on. With one filter, the create
// is allowed with that filter only (bus sends it in the subject, which
// the server checks); with several or none, the subject cannot carry
// them.
func durable(stream, name string, filters ...string) []Rule {
	c := stream + "." + name
	create := Rule{api + "CONSUMER.CREATE." + c, "create or update durable " + name}
	if len(filters) == 1 {
		create = Rule{api + "CONSUMER.CREATE." + c + "." + filters[0], "create or update durable " + name + ", its filter pinned"}
	}
	return []Rule{
		create,
		{api + "CONSUMER.INFO." + c, "check durable " + name + " still exists"},
		{api + "CONSUMER.MSG.NEXT." + c, "pull from durable " + name},
		{"$JS.ACK." + c + ".>", "ack, nak, in-progress and term of durable " + name},
		{bus.DeadLetterSubject(stream), "dead letters from " + stream},
	}
}

// ordered lets a service read stream with ordered consumers (random names)
// filtered on filter: create them pinned to the filter, pull, look up.
func ordered(stream, filter, what string) []Rule {
	return []Rule{
		{api + "CONSUMER.CREATE." + stream + ".*." + filter, what + ": ordered consumers on " + stream + ", filter pinned"},
		{api + "CONSUMER.MSG.NEXT." + stream + ".*", what + ": pull from them"},
		{api + "CONSUMER.INFO." + stream + ".*", what + ": look them up"},
		{api + "CONSUMER.DELETE." + stream + ".*", what + ": delete one when it is replaced"},
	}
}

// bucket lets a service create or update a key-value bucket, read and
// write keys (filter: every key when ">"), and, with watch, watch and
// list keys.
func bucket(name, keys string, watch bool, why string) []Rule {
	s := "KV_" + name
	rs := []Rule{
		{api + "INFO", "JetStream account info, read before a bucket is created"},
		{api + "STREAM.CREATE." + s, "create bucket " + name + " (" + why + ")"},
		{api + "STREAM.UPDATE." + s, "update bucket " + name + " to the configuration"},
		{api + "STREAM.INFO." + s, "look up bucket " + name},
		{"$KV." + name + "." + keys, "write keys of " + name},
		{api + "DIRECT.GET." + s + ".$KV." + name + "." + keys, "read keys of " + name},
	}
	if watch {
		rs = append(rs,
			Rule{api + "CONSUMER.CREATE." + s + ".>", "watch and list keys of " + name},
			Rule{api + "CONSUMER.DELETE." + s + ".>", "stop watching " + name},
			Rule{"$JS.FC." + s + ".>", "flow control of watches of " + name},
		)
	}
	return rs
}

func join(parts ...[]Rule) []Rule { return slices.Concat(parts...) }

func orders() Identity {
	es := esjs.DefaultStream
	snaps := esjs.SnapshotStream(esjs.Config{})
	// The snapshot subjects are the event store's prefix with "_snap"
	// (pkg/eventstore/jetstream, snapshot.go).
	snapPrefix := esjs.DefaultSubjectPrefix + "_snap"
	return Identity{
		Name: Orders,
		Role: "folds store and supplier events into orders; the only publisher of order events (the relay) and the event store's writer; owns the streams",
		Publish: join(
			ownStream(bus.StreamStore), ownStream(bus.StreamSupplier), ownStream(bus.StreamOrder), ownStream(bus.StreamDeadLetter),
			[]Rule{{bus.KindOrder + ".>", "the relay: every order event, after it is stored"}},
			durable(bus.StreamStore, OrdersStoreDurable),
			durable(bus.StreamSupplier, OrdersSupplierDurable),
			durable(bus.StreamOrder, OrdersFactsDurable, bus.OrderFilter("", "ShippingConfirmationIssued")),
			ownStream(es),
			[]Rule{
				{esjs.DefaultSubjectPrefix + ".>", "appends to the event store"},
				{api + "DIRECT.GET." + es, "read event streams (batched direct get)"},
				{api + "DIRECT.GET." + es + ".>", "read the last event of a stream"},
				{api + "STREAM.MSG.GET." + es, "read an event by position"},
				{api + "CONSUMER.CREATE." + es + ".>", "follow the event store (read model, relay, store settings)"},
				{api + "CONSUMER.MSG.NEXT." + es + ".*", "pull from the followers"},
				{api + "CONSUMER.INFO." + es + ".*", "look the followers up"},
				{api + "CONSUMER.DELETE." + es + ".*", "stop a follower"},
			},
			ownStream(snaps),
			[]Rule{
				{snapPrefix + ".>", "save an order's snapshot"},
				{api + "DIRECT.GET." + snaps + ".>", "load an order's snapshot"},
			},
			bucket(OrdersCheckpointBucket, ">", false, "relay checkpoints"),
		),
		Subscribe: inbox(Orders),
	}
}

func notifier() Identity {
	return Identity{
		Name: Notifier,
		Role: "decides each shipping confirmation once; publishes ShippingConfirmationIssued and nothing else",
		Publish: join(
			lookupStreams(),
			[]Rule{{bus.OrderFilter("", "ShippingConfirmationIssued"), "the one order event the notifier decides"}},
			bucket(NotifierLedgerBucket, ">", true, "one decision per shipment"),
		),
		Subscribe: inbox(Notifier),
	}
}

func aliExpress() Identity {
	return Identity{
		Name: AliExpress,
		Role: "places supplier orders and follows them; the only publisher of supplier events",
		Publish: join(
			lookupStreams(),
			[]Rule{{bus.KindSupplier + ".>", "supplier events of every store's orders, and connection health"}},
			durable(bus.StreamOrder, AliExpressDurable, bus.OrderFilter("", "PlacementRequested")),
			bucket(AliExpressBucket, ">", true, "open orders, manual sync quotas, daily budgets"),
		),
		Subscribe: inbox(AliExpress),
	}
}

// storeConnector is the identity of the connector of platform: its own
// store events, its own commands, the shared webhook dedupe bucket and its
// own keys of the reconciliation bucket.
func storeConnector(platform string) Identity {
	rs := join(
		lookupStreams(),
		[]Rule{{bus.KindStore + "." + platform + ".>", "its own platform's store events (webhooks, reconciliation, command outcomes)"}},
		durable(bus.StreamOrder, CommandsDurable(platform)),
		bucket(webhook.DefaultDedupeBucket, webhook.DedupeKeys(platform), false, "its webhook deliveries already stored; the bucket is shared by the store connectors, each with its own keys"),
		bucket(reconcile.DefaultBucket, platform+".>", false, "its stores' reconciliation checkpoints"),
	)
	if platform == Wix {
		rs = append(rs, ordered(bus.StreamOrder, bus.OrderFilter(Wix, "StoreSettingsChanged"), "follow its stores' settings")...)
	}
	return Identity{
		Name:      platform,
		Role:      "the " + platform + " store connector: its platform's store events in, its platform's commands out",
		Publish:   rs,
		Subscribe: inbox(platform),
	}
}
