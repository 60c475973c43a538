package service_test

import (
	"context"
	"net"
	"testing"

	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/shopify/service"
)

// TestStartsBeforeNATS: started as its main does (service.Run, its own
// NATS connection) with no NATS server on its port, the connector serves
// HTTP at once: alive, not ready, and a webhook gets 503 (never a 4xx,
// which would make the platform disable it). Once the server starts on
// that port it becomes ready and webhooks reach the handler (unsigned:
// 401).
func TestStartsBeforeNATS(t *testing.T) {
	h := newHarness(t)
	h.stop() // its connector runs on the harness's NATS: this one starts without
	cfg := h.cfg
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	before, after := natstest.Probes("http://"+lis.Addr().String(), service.WebhookPath)
	natstest.StartsBeforeNATS(t, func(ctx context.Context, url string) error {
		cfg.URL = url
		return service.Run(ctx, cfg, lis, testLogger())
	}, before, after)
}
