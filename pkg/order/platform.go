package order

import (
	"fmt"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// PlatformFacts is what dropsync knows of a store platform, in one place:
// the aggregate (fulfilment policy), the notifier (confirmation channel),
// ids and store keys (word), the connectors and the dev stack all read it
// from [Platforms]. Adding a store platform starts with a row here (see
// the connector package's doc, "Adding a platform").
type PlatformFacts struct {
	// Platform is the enum value in events.
	Platform eventsv1.Platform
	// Word names the platform in order ids, store keys and subjects
	// ("shopify").
	Word string
	// Name is how people write it ("WooCommerce").
	Name string
	// Policy is how the platform's stores fulfil shipped items when the
	// platform fixes it; FULFILLMENT_POLICY_UNSPECIFIED when the store's
	// setting decides (each part when unset).
	Policy eventsv1.FulfillmentPolicy
	// Channel is how the platform's stores deliver a shipping
	// confirmation, as named in every request to the notifier.
	Channel string
	// CannotSkipConfirmation says why the platform cannot fulfil an order
	// with its tracking without e-mailing the customer; empty when it can.
	// Where it cannot, a store's shipping-confirmation setting cannot be
	// turned off in dropsync (dropsync never drops a tracking number to
	// avoid an e-mail): the merchant turns the platform's own e-mail off.
	CannotSkipConfirmation string
}

// Confirmation channels, "<platform>.<mechanism>".
const (
	// ChannelShopify: fulfillmentCreate with notifyCustomer: true.
	ChannelShopify = "shopify.notifyCustomer"
	// ChannelWooCommerce: the Completed-order e-mail (never also a customer
	// note: that would be a second e-mail).
	ChannelWooCommerce = "woocommerce.completed_email"
	// ChannelWix: Wix's fulfilment e-mail.
	ChannelWix = "wix.fulfillment_email"
)

// platforms are the store platforms, in enum order.
var platforms = []PlatformFacts{
	{
		Platform: eventsv1.Platform_PLATFORM_SHOPIFY, Word: WordShopify, Name: "Shopify",
		// Shopify follows the store's fulfilment setting.
		Policy:  eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_UNSPECIFIED,
		Channel: ChannelShopify,
	},
	{
		Platform: eventsv1.Platform_PLATFORM_WOOCOMMERCE, Word: WordWooCommerce, Name: "WooCommerce",
		// WooCommerce marks the order Completed only when every item has
		// tracking.
		Policy:  eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER,
		Channel: ChannelWooCommerce,
		CannotSkipConfirmation: "WooCommerce sends its Completed order e-mail whenever an order is completed, through the REST API too, " +
			"and has no per-order switch; turn that e-mail off in WooCommerce (Settings > Emails > Completed order) instead",
	},
	{
		Platform: eventsv1.Platform_PLATFORM_WIX, Word: WordWix, Name: "Wix",
		// Wix fulfils line item by line item.
		Policy:  eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART,
		Channel: ChannelWix,
		CannotSkipConfirmation: "Wix's Create Fulfillment API has no notify switch: a fulfilment with tracking is e-mailed to the customer " +
			"as the site's own notification settings say; turn the shipping confirmation e-mail off in the Wix dashboard instead",
	},
}

// Platforms returns the store platforms, in enum order. The slice is a copy.
func Platforms() []PlatformFacts { return append([]PlatformFacts(nil), platforms...) }

// Facts returns what dropsync knows of a store platform, and false for a
// platform that is not a store (AliExpress, unspecified).
func Facts(p eventsv1.Platform) (PlatformFacts, bool) {
	for _, f := range platforms {
		if f.Platform == p {
			return f, true
		}
	}
	return PlatformFacts{}, false
}

// PlatformWord returns the word of a store platform ("shopify",
// "woocommerce", "wix"), or "" for any other platform.
func PlatformWord(p eventsv1.Platform) string {
	f, _ := Facts(p)
	return f.Word
}

// ParsePlatform returns the store platform of a word (see [PlatformWord]).
func ParsePlatform(word string) (eventsv1.Platform, error) {
	for _, f := range platforms {
		if f.Word == word {
			return f.Platform, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown platform %q (want %s)", ErrInvalidID, word, platformWords())
}

// Channel returns the channel a platform's stores confirm through, or ""
// for a platform that is not a store.
func Channel(p eventsv1.Platform) string {
	f, _ := Facts(p)
	return f.Channel
}

// Policy returns how a platform's stores fulfil shipped items: the
// platform's own policy where it fixes one ([PlatformFacts].Policy), else
// the store's fulfilment setting, each part when unset.
func Policy(platform eventsv1.Platform, settings *eventsv1.StoreSettings) eventsv1.FulfillmentPolicy {
	if f, ok := Facts(platform); ok && f.Policy != eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_UNSPECIFIED {
		return f.Policy
	}
	if settings.GetFulfillmentPolicy() == eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER {
		return eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER
	}
	return eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART
}

func platformWords() string {
	s := ""
	for i, f := range platforms {
		switch {
		case i == 0:
		case i == len(platforms)-1:
			s += " or "
		default:
			s += ", "
		}
		s += f.Word
	}
	return s
}
