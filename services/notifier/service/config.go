// Package service wires the notifier: configuration, the NATS connection,
// the ledger bucket, the orders service client, the background republish
// pass and the gRPC server, started together and stopped together.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
)

// DefaultAddr is the gRPC listen address when DROPSYNC_GRPC_ADDR is unset.
const DefaultAddr = "127.0.0.1:8082"

// Config is the notifier's configuration, from DROPSYNC_* variables.
type Config struct {
	config.NATS
	config.GRPC
	config.Telemetry
	config.Ops
	Notifier Notifier
}

// Notifier tunes the notifier (DROPSYNC_NOTIFIER_*).
type Notifier struct {
	// OrdersAddr is the orders service's gRPC address.
	OrdersAddr string `envconfig:"ORDERS_ADDR" default:"127.0.0.1:8080" desc:"gRPC address (host:port) of the orders service, read for order state and store settings"`
	// OrdersTimeout bounds one call to the orders service.
	OrdersTimeout time.Duration `envconfig:"ORDERS_TIMEOUT" default:"5s" desc:"Time one call to the orders service may take before the notifier answers UNAVAILABLE"`
	// LedgerBucket names the JetStream KV bucket of decisions.
	LedgerBucket string `envconfig:"LEDGER_BUCKET" default:"dropsync_confirmations" desc:"JetStream KV bucket (file storage) holding one decision per shipment; renaming it starts an empty ledger, so shipments would be decided again"`
	// LedgerReplicas of the bucket; 0 follows the NATS replicas.
	LedgerReplicas int `envconfig:"LEDGER_REPLICAS" default:"0" desc:"Replicas of the ledger bucket (3 in a production cluster); 0 uses DROPSYNC_NATS_REPLICAS"`
	// RepublishInterval paces the background republish pass.
	RepublishInterval time.Duration `envconfig:"REPUBLISH_INTERVAL" default:"30s" desc:"How often the background pass publishes ShippingConfirmationIssued for NOTIFY decisions still not on the bus (older than one interval)"`
}

// ledgerReplicas is the bucket's replica count.
func (c Config) ledgerReplicas() int {
	if c.Notifier.LedgerReplicas == 0 {
		return c.Replicas
	}
	return c.Notifier.LedgerReplicas
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	n := c.Notifier
	if n.OrdersAddr == "" {
		errs = append(errs, errors.New("DROPSYNC_NOTIFIER_ORDERS_ADDR: required"))
	}
	if n.OrdersTimeout <= 0 {
		errs = append(errs, errors.New("DROPSYNC_NOTIFIER_ORDERS_TIMEOUT: must be positive"))
	}
	if n.LedgerBucket == "" || !validBucket(n.LedgerBucket) {
		errs = append(errs, fmt.Errorf("DROPSYNC_NOTIFIER_LEDGER_BUCKET: %q: want letters, digits, '-' and '_'", n.LedgerBucket))
	}
	if n.LedgerReplicas < 0 || n.LedgerReplicas > 5 {
		errs = append(errs, fmt.Errorf("DROPSYNC_NOTIFIER_LEDGER_REPLICAS: %d not in 0..5", n.LedgerReplicas))
	}
	if n.RepublishInterval <= 0 {
		errs = append(errs, errors.New("DROPSYNC_NOTIFIER_REPUBLISH_INTERVAL: must be positive"))
	}
	return errors.Join(c.NATS.Validate(), c.GRPC.Validate(), c.Telemetry.Validate(), errors.Join(errs...))
}

func validBucket(s string) bool {
	for i := 0; i < len(s); i++ {
		if !bucketByte(s[i]) {
			return false
		}
	}
	return true
}

// bucketByte reports whether c may appear in a bucket name.
func bucketByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
