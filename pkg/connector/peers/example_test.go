package peers_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dropsync/dropsync/pkg/connector/peers"
)

// A connector run without the orders service and the notifier: every
// store has the default settings, and confirmations follow the store's
// setting (on by default), unrecorded.
func ExampleDial() {
	ctx := context.Background()
	p, err := peers.Dial(ctx, peers.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = p.Close() }()
	d, err := p.Confirmations.Issue(ctx, "shopify:acme:1001", "ship-1", "shopify:acme", "shopify.notifyCustomer", "evt-1")
	fmt.Println(d, err)
	// Output: DECISION_NOTIFY <nil>
}
