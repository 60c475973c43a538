// Package connectortest is the contract suite of the store connectors: one
// set of properties every connector (Shopify, WooCommerce, Wix, the next
// platform) must have, checked against the connector running on an
// embedded NATS JetStream server and its platform's simulator.
//
// A connector's test calls [Run] with what its platform cannot do and a
// constructor of its harness:
//
//	func TestContract(t *testing.T) {
//		connectortest.Run(t, connectortest.Features{
//			Missing: map[connectortest.Feature]string{
//				connectortest.PartialFulfilment: "the platform's API completes an order as a whole",
//			},
//		}, newContractConnector)
//	}
//
// and runs it on its own:
//
//	go test -count=1 ./services/shopify/service/ -run Contract
//
// The suite calls the constructor once per property, with the [Options]
// the property needs (a short JetStream duplicate window, reconciliation
// every 200ms, a higher MaxDeliver), and does every check itself. The
// constructor returns a [Connector]: the connector running and ready on
// a JetStream server of its own (nats-server in process, Port -1,
// StoreDir t.TempDir()), its simulator, and fake orders and notifier
// peers. The harness only acts: it places and changes orders on the
// platform, redelivers a webhook signed or not, reads what the platform
// holds (fulfilments, tracking numbers, e-mails sent), injects faults,
// holds back the answer to a fulfilment write, revokes the credential.
// Commands are published by the suite, as the orders service's relay does;
// the connector's answers are read from STORE_EVENTS. [Front] gives a
// harness the hold and revoke controls for any simulator that is an
// http.Handler.
//
// # Properties
//
// Each is a subtest named after its [Feature].
//
//   - SignatureRefusals: a webhook signed with the wrong key, or unsigned,
//     is answered 401 and publishes nothing; correctly signed, the same
//     bytes are taken.
//   - DedupePastWindow: a webhook delivered again at once, and again after
//     JetStream's duplicate window forgot its events, publishes nothing new:
//     the connector's own dedupe outlives the window.
//   - ExactlyOnce: a FulfillmentRequested delivered twice, and one whose
//     fulfilment the platform made while the connector stopped before
//     hearing the answer (then redelivered after the restart), each end in
//     one fulfilment, one shipping confirmation and one FulfillmentPushed
//     naming that fulfilment.
//   - FaultsConverge: with a fifth of the platform's API calls failing
//     (429, 5xx, answers lost after the effect), every order of a batch
//     ends fulfilled exactly once, one confirmation each.
//   - StoreOutage: the platform failing every call for six simulated hours
//     of the retry policy (bus.CommandBackoff, scaled down): the shipment
//     still ends fulfilled once, one confirmation, no FulfillmentFailed.
//   - LaterAttempt: a second attempt at a shipment already fulfilled
//     reports that fulfilment, creating none and no second confirmation.
//   - ReconcileDropped: an order whose webhooks were never sent reaches
//     the bus through reconciliation, paid, with its lines.
//   - Resync: ResyncRequested re-reads the order and publishes it as the
//     platform shows it now (a payment the connector was not told of).
//   - PartialFulfilment: a shipment of some lines fulfils those lines
//     only; the next shipment the rest; one confirmation each.
//   - TrackingUpdate: TrackingUpdateRequested makes the pushed fulfilment
//     carry the new number instead of the old one, with no new
//     confirmation.
//   - RefusedFulfilment: when the platform refuses (the order is cancelled
//     there), one FulfillmentFailed, not retryable, with a code and the
//     reason; nothing written, nobody told.
//   - CredentialFailure: with the credential revoked mid-flow, one
//     StoreConnectionChanged (unhealthy, naming the platform's answer);
//     the command is held and redelivered: nothing written, nobody told,
//     nothing failed or dead-lettered. Once it is restored, a
//     StoreConnectionChanged (healthy), and the held command fulfils once
//     by itself, with one confirmation.
//
// # Features
//
// [Features.Missing] names the properties the platform cannot have, each
// with the platform's limit: the suite skips them, saying why. It is not
// for connector bugs: a property the platform can have and the connector
// fails is fixed, or, when the fix is big, listed in [Features.Todo] with
// a TODO naming the bug, so that it shows in every run as skipped and
// known broken.
//
// # A new platform
//
//  1. Give its simulator webhooks, faults (429, 5xx, lost answers) and a
//     way to drop webhooks; serve its API through a [Front].
//  2. Write the harness next to the connector's service tests
//     (services/<platform>/service/contract_test.go): build the connector
//     as its main does, with the Options applied, and implement
//     [Connector] in the platform's terms.
//  3. Declare what the platform cannot do, with reasons, and run it.
//
// Each property takes well under a few seconds on an idle machine; the
// suite bounds every wait at 30s so a broken connector fails rather than
// hangs.
package connectortest
