package natsperm_test

import (
	"fmt"
	"strings"

	"github.com/dropsync/dropsync/pkg/natsperm"
)

// What the Shopify connector may publish besides JetStream API requests:
// its own platform's store events, dead letters of the stream it consumes,
// acks of its own durable and its keys of the buckets it uses.
func ExampleLookup() {
	id, _ := natsperm.Lookup(natsperm.Shopify)
	for _, r := range id.Publish {
		if !strings.HasPrefix(r.Subject, "$JS.API.") {
			fmt.Println(r.Subject)
		}
	}
	fmt.Println("replies:", id.SubscribeSubjects())
	// Output:
	// store.shopify.>
	// $JS.ACK.ORDER_EVENTS.shopify-commands.>
	// dlq.ORDER_EVENTS
	// $KV.dropsync_webhook_dedupe.d.shopify.*
	// $KV.dropsync_reconcile.shopify.>
	// replies: [_INBOX.shopify.>]
}
