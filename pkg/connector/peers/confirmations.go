package peers

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/bus"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
)

// Confirmations decides, once per shipment and idempotently, whether the
// customer is told the shipment is on its way: the same shipment always
// gets the same decision, so a retried command acts the same. channel names
// how the connector tells the customer ("shopify.notifyCustomer"); the
// request id is the command's event id.
type Confirmations interface {
	Issue(ctx context.Context, orderID, shipmentID, storeKey, channel, requestID string) (notifierv1.Decision, error)
}

// Notifier asks the notifier's ShippingConfirmationService. The decision is
// recorded once per shipment there, so asking again (a retry, a restart)
// returns it unchanged.
type Notifier struct {
	// Client is the notifier.
	Client notifierv1.ShippingConfirmationServiceClient
	// Timeout bounds one IssueConfirmation; zero leaves it to ctx.
	Timeout time.Duration
}

// Issue implements Confirmations. An argument the notifier refuses
// (INVALID_ARGUMENT) gives a bus.Permanent error; any other failure
// (NOT_FOUND or FAILED_PRECONDITION while the notifier's view of the order
// lags behind, UNAVAILABLE) is worth retrying later. The decision is the
// notifier's, unchecked.
func (n *Notifier) Issue(ctx context.Context, orderID, shipmentID, storeKey, channel, requestID string) (notifierv1.Decision, error) {
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	resp, err := n.Client.IssueConfirmation(ctx, &notifierv1.IssueConfirmationRequest{
		OrderId: orderID, ShipmentId: shipmentID, Store: storeKey, Channel: channel, RequestId: requestID,
	})
	if err != nil {
		err = fmt.Errorf("issue confirmation: %w", err)
		if status.Code(err) == codes.InvalidArgument {
			return 0, bus.Permanent(err)
		}
		return 0, err
	}
	return resp.GetConfirmation().GetDecision(), nil
}

// SettingsDecider decides from the store's shipping-confirmation setting
// alone, for a connector run without the notifier: DECISION_NOTIFY when
// the setting is on, DECISION_SKIP_SETTING_OFF when it is off. The
// connector still fulfils a shipment once (it finds what an earlier
// attempt did on the store), so the customer is told at most once; but the
// decision is not recorded, and the notifier's ShippingConfirmationIssued
// event is not published.
type SettingsDecider struct {
	// Settings give the store's shipping-confirmation setting.
	Settings Settings
}

// Issue implements Confirmations.
func (d SettingsDecider) Issue(ctx context.Context, _, _, storeKey, _, _ string) (notifierv1.Decision, error) {
	s, err := d.Settings.StoreSettings(ctx, storeKey)
	if err != nil {
		return 0, err
	}
	if s.GetShippingConfirmation() {
		return notifierv1.Decision_DECISION_NOTIFY, nil
	}
	return notifierv1.Decision_DECISION_SKIP_SETTING_OFF, nil
}

// Decision is the notifier's answer for a shipment, as a store connector
// acts on it.
type Decision int

// Decisions.
const (
	// Notify: fulfil so that the store tells the customer (Shopify's notify
	// flag, WooCommerce's Completed e-mail, Wix's fulfilment e-mail).
	Notify Decision = iota + 1
	// Quiet: fulfil without telling the customer (setting off, or a
	// confirmation already issued), where the platform can.
	Quiet
	// NotSynced: dropsync no longer syncs the order (fulfilled by hand or
	// on the store): the store is not touched.
	NotSynced
)

// String names the decision for logs.
func (d Decision) String() string {
	switch d {
	case Notify:
		return "notify"
	case Quiet:
		return "quiet"
	case NotSynced:
		return "not_synced"
	}
	return "undecided"
}

// DecisionOf is the notifier's decision as a connector acts on it: a
// confirmation skipped because the setting is off or one was already
// issued is Quiet.
func DecisionOf(d notifierv1.Decision) (Decision, error) {
	switch d {
	case notifierv1.Decision_DECISION_NOTIFY:
		return Notify, nil
	case notifierv1.Decision_DECISION_SKIP_SETTING_OFF, notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED:
		return Quiet, nil
	case notifierv1.Decision_DECISION_SKIP_NOT_SYNCED:
		return NotSynced, nil
	}
	return 0, fmt.Errorf("unknown shipping confirmation decision %v", d)
}
