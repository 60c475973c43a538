// Package service wires the orders service: configuration, the NATS
// connection, the event store, the read model, the relay, the consumers and
// the gRPC server, started together and stopped together.
package service

import (
	"errors"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
)

// DefaultAddr is the gRPC listen address when DROPSYNC_GRPC_ADDR is unset.
const DefaultAddr = "127.0.0.1:8080"

// Config is the orders service's configuration, from DROPSYNC_* variables.
type Config struct {
	config.NATS
	config.EventStore
	config.GRPC
	config.Telemetry
	config.Ops
	Orders Orders
}

// Orders tunes the order aggregate service.
type Orders struct {
	// Concurrency is how many orders' facts are handled at once.
	Concurrency int `envconfig:"CONCURRENCY" default:"32" desc:"Orders whose facts are handled at once (facts of one order are always handled in order)"`
	// MaxDeliver bounds attempts at one fact before it is dead-lettered.
	MaxDeliver int `envconfig:"MAX_DELIVER" default:"8" desc:"Attempts at one store or supplier event before it goes to the dead-letter stream"`
	// MaxAttempts bounds load-decide-append rounds on conflicts.
	MaxAttempts int `envconfig:"MAX_ATTEMPTS" default:"5" desc:"Load-decide-append rounds on concurrent changes before a command is Aborted"`
	// CacheSize bounds the orders kept folded in memory.
	CacheSize int `envconfig:"CACHE_SIZE" default:"50000" desc:"Orders kept folded in memory (a cached order is checked against the event store's revision before use)"`
	// SnapshotEvery paces order snapshots in the event store.
	SnapshotEvery int `envconfig:"SNAPSHOT_EVERY" default:"100" desc:"An order's state is saved as a snapshot each time its stream passes a multiple of this many events, so an order not in the cache loads with one snapshot read and at most this many events; 0 turns snapshots off"`
	// NoTrackingAfter flags orders paid at the supplier without tracking.
	NoTrackingAfter time.Duration `envconfig:"NO_TRACKING_AFTER" default:"168h" desc:"An order whose supplier order was paid this long ago with no tracking is flagged for attention (DSers: 7 days)"`
	// TrackingStaleAfter flags shipments whose tracking stopped moving.
	TrackingStaleAfter time.Duration `envconfig:"TRACKING_STALE_AFTER" default:"48h" desc:"A shipment not delivered whose tracking has not moved (no newer checkpoint, not created or renumbered) for this long is flagged for attention (DSers: 48 hours)"`
	// AttentionInterval paces the attention pass.
	AttentionInterval time.Duration `envconfig:"ATTENTION_INTERVAL" default:"1h" desc:"How often open orders are checked for attention (ListOrders attention_only lists the flagged ones); 0 turns it off"`
	// AckWait is how long JetStream waits for a fact's ack.
	AckWait time.Duration `envconfig:"ACK_WAIT" default:"30s" desc:"How long JetStream waits for a fact's ack before redelivering it"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Orders.Concurrency < 1 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_CONCURRENCY: must be at least 1"))
	}
	if c.Orders.MaxDeliver < 1 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_MAX_DELIVER: must be at least 1"))
	}
	if c.Orders.MaxAttempts < 1 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_MAX_ATTEMPTS: must be at least 1"))
	}
	if c.Orders.CacheSize < 1 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_CACHE_SIZE: must be at least 1"))
	}
	if c.Orders.NoTrackingAfter <= 0 || c.Orders.AttentionInterval < 0 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_NO_TRACKING_AFTER: must be positive; DROPSYNC_ORDERS_ATTENTION_INTERVAL: not negative"))
	}
	if c.Orders.TrackingStaleAfter <= 0 {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_TRACKING_STALE_AFTER: must be positive"))
	}
	if c.Orders.AckWait < time.Second {
		errs = append(errs, errors.New("DROPSYNC_ORDERS_ACK_WAIT: must be at least 1s"))
	}
	return errors.Join(c.NATS.Validate(), c.EventStore.Validate(), c.GRPC.Validate(), c.Telemetry.Validate(), errors.Join(errs...))
}
