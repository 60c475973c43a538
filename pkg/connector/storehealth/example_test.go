package storehealth_test

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// A connector gives its Tracker to the API client, which reports each
// store's answers; the connector runs Publish next to its consumers.
func Example() {
	health := storehealth.New(storehealth.Config{
		Platform: "shopify", Source: eventsv1.Platform_PLATFORM_SHOPIFY, Service: "shopify",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	_ = client.New(client.Config{Health: health})
	// go health.Publish(ctx, publisher)

	health.ObserveStore("demo", false, "shopify answered HTTP 401 Unauthorized")
	st := health.State("demo")
	fmt.Println(st.Healthy, st.Reason)
	fmt.Println(storehealth.HoldDelay(1), storehealth.HoldDelay(3), storehealth.HoldDelay(100))
	// Output:
	// false shopify answered HTTP 401 Unauthorized
	// 1s 4s 5m0s
}
