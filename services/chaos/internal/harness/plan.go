package harness

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Plan is the shape of one chaos run.
type Plan struct {
	// Name is "short" or "long".
	Name string
	// Orders is how many store orders customers place, spread evenly over
	// Duration across the three stores.
	Orders int
	// Duration is how long orders are placed and processes killed.
	Duration time.Duration
	// KillEvery bounds the random time between two service SIGKILLs.
	KillEvery [2]time.Duration
	// ServiceDown bounds how long a killed service stays down.
	ServiceDown [2]time.Duration
	// NATSKills is how many times nats-server is killed, at even
	// intervals within Duration.
	NATSKills int
	// NATSDown bounds how long nats-server stays down each time.
	NATSDown [2]time.Duration
	// Faults is the share of platform API calls that fail (429, 5xx, and
	// for Shopify and Wix some carried out with the answer lost) and of
	// webhooks duplicated (Shopify, Wix) or dropped (WooCommerce).
	Faults float64
	// Redeliveries is how many late duplicates of past webhooks the
	// harness asks the Shopify and Wix simulators for.
	Redeliveries int
	// UnpaidShare is the share of orders never paid: they must stay in
	// Pending.
	UnpaidShare float64
	// Settle bounds the wait, after Duration, for every order to reach its
	// tab.
	Settle time.Duration
}

// Short is the CI run: about two minutes of orders and kills and a
// bounded settle.
var Short = Plan{
	Name: "short", Orders: 45, Duration: 60 * time.Second,
	KillEvery: [2]time.Duration{1500 * time.Millisecond, 4 * time.Second}, ServiceDown: [2]time.Duration{200 * time.Millisecond, 2 * time.Second},
	NATSKills: 1, NATSDown: [2]time.Duration{3 * time.Second, 8 * time.Second},
	Faults: 0.2, Redeliveries: 10, UnpaidShare: 0.05, Settle: 4 * time.Minute,
}

// Long is `make chaos`: 300 orders over 6 minutes.
var Long = Plan{
	Name: "long", Orders: 300, Duration: 6 * time.Minute,
	KillEvery: [2]time.Duration{1500 * time.Millisecond, 4 * time.Second}, ServiceDown: [2]time.Duration{200 * time.Millisecond, 3 * time.Second},
	NATSKills: 3, NATSDown: [2]time.Duration{2 * time.Second, 20 * time.Second},
	Faults: 0.2, Redeliveries: 60, UnpaidShare: 0.05, Settle: 8 * time.Minute,
}

// between returns a random duration in [r[0], r[1]].
func between(r [2]time.Duration) time.Duration {
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + rand.N(r[1]-r[0])
}

// PlanFor returns the plan of a mode name.
func PlanFor(mode string) (Plan, error) {
	switch mode {
	case Short.Name:
		return Short, nil
	case Long.Name:
		return Long, nil
	}
	return Plan{}, fmt.Errorf("mode %q: want short or long (recovery is RunRecovery)", mode)
}
