// Package natsperm is the one source of truth for who may do what on
// dropsync's NATS server: one Identity per service, each with the exact
// subjects it may publish to and subscribe to, least privilege.
//
// From the table come, byte for byte, the files a deployment uses:
//
//	deploy/k8s/nats/nats-server.conf  an example nats-server configuration
//	                                  (account DROPSYNC with JetStream and one
//	                                  user per service; passwords from the
//	                                  environment)
//	deploy/k8s/nats/values.yaml       the same for the official NATS Helm
//	                                  chart (nats-io/k8s), passwords from a
//	                                  Secret
//
// written by ServerConfig and HelmValues; `make generate` (go test
// ./pkg/natsperm -run TestGenerated -update) rewrites them, and the test
// fails when a shipped file differs from what the table gives. The embedded
// server of `make run` and the whole-system tests loads the same table
// (EmbeddedUsers), so a service that needs a subject the table does not
// grant fails there first.
//
// # What each identity may do
//
//   - A store connector (shopify, woocommerce, wix) publishes only its own
//     platform's store events ("store.<platform>.>"), consumes only the
//     commands addressed to its platform (its durable on ORDER_EVENTS),
//     dead-letters only to "dlq.ORDER_EVENTS", and uses only its own keys
//     of the webhook dedupe and reconciliation buckets.
//   - The AliExpress connector alone publishes supplier events
//     ("supplier.>"); it consumes PlacementRequested and owns its bucket.
//   - The orders service alone publishes order events ("order.>", the
//     relay) and writes the event store; it consumes store, supplier and
//     the notifier's facts, and owns its checkpoint bucket.
//   - The notifier publishes one order event type only,
//     ShippingConfirmationIssued, and owns its ledger bucket.
//
// Every identity subscribes only to its own reply subjects,
// "_INBOX.<name>.>": natsconn gives each connection the inbox prefix
// InboxPrefix(name), so no service can read the replies (pulled messages,
// key-value reads, acks) of another.
//
// # Who creates streams and buckets
//
// The orders service owns the topology: it alone may create and update
// the four bus streams and the event store's streams (events and
// snapshots; bus.EnsureStreams and the event store, at start-up). Every
// other service only looks them up (bus.OpenStreams) and, started first,
// waits until they exist: its one attempt to create a missing stream is
// refused (Provoked tells that violation from a missing permission). So no
// connector can change a stream's limits, subjects or retention, nor
// delete or purge one. Each key-value bucket is created and updated by
// the services that use it, and only those. No identity may delete or
// purge a stream or a bucket: moving one is an operator's job, with the
// operator's credentials. A provisioning identity was not chosen: it would
// be one more credential and one more step before the
// first start, for no right a service does not already need.
//
// # What the subjects cannot pin
//
// A durable consumer with one filter is created on
// "$JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>", which the server
// checks against the filter, and the table allows that subject only. One
// with several filters is created on
// "$JS.API.CONSUMER.CREATE.<stream>.<durable>", which does not carry
// them: a store connector's identity could re-create its own durable with
// a wider filter and read other platforms' order events (it still cannot
// publish any). Ordered consumers (the Wix settings follower, the
// event store's readers) have random names, so pulling from, looking up
// and deleting them are granted on "<stream>.*"; on ORDER_EVENTS, which
// other services consume too, every other identity's durable is then
// denied by name (Identity.DenyPublish, computed from the table), so the
// Wix connector can neither take nor touch another service's durable.
// The webhook dedupe and reconciliation buckets are shared by the three
// store connectors, each reading and writing only its own platform's keys;
// any of them may update a shared bucket's configuration (its TTL).
package natsperm
