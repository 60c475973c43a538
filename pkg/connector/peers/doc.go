// Package peers holds a store connector's clients of the other dropsync
// services it needs: the orders service, for store settings (carrier
// mapping, shipping confirmation setting), and the notifier, for the
// once-per-shipment shipping confirmation decision. Both are gRPC.
//
// Each has a fallback for a connector run without that service:
// [StaticSettings] gives every store the same settings (the defaults), and
// [SettingsDecider] decides a confirmation from the store's setting alone,
// unrecorded. [Dial] picks the gRPC client or the fallback from the
// addresses configured, and warns when the notifier is missing.
//
// A connector keeps what is its own: the channel it confirms through (its
// argument to [Confirmations.Issue]) and how it acts on the decision.
package peers
