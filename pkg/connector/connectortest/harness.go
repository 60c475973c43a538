package connectortest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Options are what a subtest needs of the connector's configuration. The
// suite passes them to the constructor; zero values mean "as the harness
// likes" (a long window, no reconciliation).
type Options struct {
	// DuplicateWindow is JetStream's duplicate window on the streams
	// (config NATS.DuplicateWindow). The dedupe property sets it short and
	// waits it out; the connector's own webhook dedupe (its KV bucket's
	// TTL) keeps its default.
	DuplicateWindow time.Duration
	// ReconcileInterval, when positive, runs the connector's
	// reconciliation passes this often; zero turns them off (or as far off
	// as the connector allows), so they publish nothing a property does
	// not expect.
	ReconcileInterval time.Duration
	// MaxDeliver, when positive, is the command consumer's MaxDeliver: the
	// convergence property raises it so faults do not exhaust it.
	MaxDeliver int
	// Backoff, when set, is the command consumer's redelivery backoff
	// (ConsumerConfig.Backoff): the outage property runs the connectors'
	// policy (bus.CommandBackoff) scaled down to simulated hours.
	Backoff []time.Duration
}

// Signature is how a redelivered webhook is signed.
type Signature int

const (
	// Signed is signed as the platform signs it.
	Signed Signature = iota
	// WrongKey is signed, with a key that is not the store's.
	WrongKey
	// Unsigned carries no signature at all.
	Unsigned
)

func (s Signature) String() string {
	switch s {
	case Signed:
		return "signed"
	case WrongKey:
		return "signed with the wrong key"
	case Unsigned:
		return "unsigned"
	}
	return "unknown signature"
}

// Faults are shares in [0, 1] of the platform's API calls that fail
// transiently.
type Faults struct {
	// TooManyRequests answers 429 (with a short Retry-After), doing nothing.
	TooManyRequests float64
	// ServerErrors answers 5xx, doing nothing.
	ServerErrors float64
	// LostResponses carries the call out and then answers 5xx (a gateway
	// that lost the answer).
	LostResponses float64
}

// Line is one line of a placed order.
type Line struct {
	// ID is the line item's id as the connector's events name it, and as a
	// FulfillmentRequested names it back.
	ID string
	// Quantity ordered.
	Quantity int32
}

// Order is an order placed on the platform.
type Order struct {
	// ID is the dropsync order id, "<platform>:<store>:<store order id>".
	ID string
	// Lines in the order they were placed: Place makes two, of quantity 2
	// and 1.
	Lines []Line
}

// Fulfilment is a fulfilment as the platform holds it.
type Fulfilment struct {
	// ID is the platform's id of it, as FulfillmentPushed reports it.
	ID string
	// Lines fulfilled, by line item id.
	Lines map[string]int32
	// Tracking numbers it carries now.
	Tracking []string
}

// Connector is the harness of one store connector on its platform's
// simulator, on an embedded NATS JetStream server of its own. A
// constructor returns it running and ready. Methods fail t on error.
//
// Every method is platform-neutral: the harness knows how its platform
// does each thing; the suite decides what to check.
type Connector interface {
	// JetStream is the server the connector runs on: the suite publishes
	// commands to ORDER_EVENTS and reads STORE_EVENTS there.
	JetStream() jetstream.JetStream
	// Stop stops the connector and waits for it (a crash, as far as
	// commands in flight are concerned: they are not acked). Start runs
	// it again on the same JetStream and waits until it is ready.
	Stop(t *testing.T)
	Start(t *testing.T)

	// Place creates a customer's order on the platform with two lines,
	// quantities 2 and 1, paid or not. Its webhooks are sent as the
	// platform sends them (unless dropped); Place does not wait for them.
	Place(t *testing.T, paid bool) Order
	// MarkPaid captures the payment of an order placed unpaid.
	MarkPaid(t *testing.T, o Order)
	// Cancel cancels the order on the platform, as the merchant would:
	// the platform then refuses to fulfil it.
	Cancel(t *testing.T, o Order)
	// DropWebhooks makes the platform send no webhook (drop true) until
	// called with false.
	DropWebhooks(t *testing.T, drop bool)
	// WaitWebhooks returns once the platform has no webhook left to send
	// (every one delivered, dropped or given up).
	WaitWebhooks(t *testing.T)
	// Redeliver posts the latest webhook the platform delivered about o
	// to the connector once more, byte for byte, signed as sig says, and
	// returns the HTTP status the connector answered.
	Redeliver(t *testing.T, o Order, sig Signature) int

	// Fulfilments are the order's fulfilments on the platform, oldest
	// first.
	Fulfilments(t *testing.T, o Order) []Fulfilment
	// Confirmations counts the shipping confirmations the platform sent
	// the customer for o (e-mails, or fulfilments made with the notify
	// flag).
	Confirmations(t *testing.T, o Order) int

	// SetFaults makes the platform fail that share of API calls from now
	// on; the zero Faults ends them.
	SetFaults(t *testing.T, f Faults)
	// TransientAnswers is how many platform API calls were answered 429
	// or 5xx since the connector was built ([Front.Transient] counts
	// them), so the convergence property knows the faults were met.
	TransientAnswers(t *testing.T) int64
	// HoldFulfilments makes the platform carry out every fulfilment write
	// but keep its answer back (hold true) until the connector gives up
	// on it or HoldFulfilments(false) releases it: the connector stops
	// before it learns that the fulfilment exists.
	HoldFulfilments(t *testing.T, hold bool)
	// RevokeCredential makes the platform refuse the connector's
	// credential (as if the merchant uninstalled the app or rotated the
	// key) until RestoreCredential.
	RevokeCredential(t *testing.T)
	RestoreCredential(t *testing.T)
}
