package view

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/metrics"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// TestFormatStoreHealth: the live view counts the stores the orders
// service holds unhealthy and names each with the platform's answer.
func TestFormatStoreHealth(t *testing.T) {
	since := timestamppb.New(time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC))
	tests := []struct {
		name string
		in   []*ordersv1.StoreHealth
		want []string
	}{
		{"none", nil, []string{"store connections: 0 reported, all healthy"}},
		{"healthy", []*ordersv1.StoreHealth{{Store: "shopify:demo", Healthy: true, Since: since}}, []string{"1 reported, all healthy"}},
		{"unhealthy", []*ordersv1.StoreHealth{
			{Store: "shopify:demo", Healthy: true, Since: since},
			{Store: "wix:demo", Healthy: false, Reason: "wix answered HTTP 401 Unauthorized: invalid token", Since: since},
		}, []string{"store connections: 1 UNHEALTHY of 2", "wix:demo", "HTTP 401 Unauthorized: invalid token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatStoreHealth(tt.in, nil)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("view lacks %q:\n%s", w, got)
				}
			}
			if tt.name != "unhealthy" && strings.Contains(got, "shopify:demo") {
				t.Errorf("view names a healthy store:\n%s", got)
			}
		})
	}
}

// TestFormatSummary: the metrics lines of the live view show the legs'
// percentiles, each account's budget, dead letters and unhealthy
// connections as metrics.Snapshot reads them.
func TestFormatSummary(t *testing.T) {
	tests := []struct {
		name string
		in   metrics.Summary
		want []string
	}{
		{"quiet", metrics.Summary{}, []string{"none measured yet", "dead letters: none", "connections: all healthy"}},
		{"busy", metrics.Summary{
			Legs:             []metrics.LegSummary{{Leg: metrics.LegDropsyncToStore, Count: 12, P50: 40 * time.Millisecond, P95: 1500 * time.Millisecond}},
			Budgets:          []metrics.BudgetSummary{{Account: "main", Used: 1200, Left: 3800, Limit: 5000}},
			DeadLetters:      map[string]int64{"STORE_EVENTS": 2, "ORDER_EVENTS": 1},
			DeadLettersTotal: 3,
			Unhealthy:        []string{"aliexpress:main"},
		}, []string{
			"dropsync_to_store", "p50 40ms", "p95 1.5s", "(12)",
			"AliExpress budget main: 1200 used, 3800 left of 5000",
			"dead letters: 3 (ORDER_EVENTS 1, STORE_EVENTS 2)",
			"connections UNHEALTHY: aliexpress:main",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatSummary(tt.in)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("view lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
