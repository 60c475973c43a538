package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/services/notifier/internal/ports"
	"github.com/dropsync/dropsync/services/notifier/service"
)

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// TestStartsBeforeNATS: started as its main does (service.Run, its own
// NATS connection) with no NATS server on its port, the notifier serves
// gRPC at once, every health service says NOT_SERVING and a call answers
// UNAVAILABLE; once the server starts on that port every health service
// says SERVING.
func TestStartsBeforeNATS(t *testing.T) {
	h := newHarness(t) // the fake orders service
	port := freePort(t)
	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg.Notifier.OrdersAddr = h.ordersAddr
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, lis, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var srv *natsserver.Server
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("notifier stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("notifier did not stop within 30s")
		}
		if srv != nil {
			srv.Stop()
		}
	})
	health := healthpb.NewHealthClient(conn)
	// status is a health service's status once gRPC answers.
	status := func(name string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
		return r.GetStatus(), err
	}
	waitStatus := func(t *testing.T, name string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := status(name)
			if err == nil && got == want {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("the notifier exited: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %q: %v (%v) after 60s, want %v", name, got, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	services := []struct {
		name, service string
	}{
		{name: "server", service: ""},
		{name: "ShippingConfirmationService", service: notifierv1.ShippingConfirmationService_ServiceDesc.ServiceName},
	}

	for _, tc := range services {
		t.Run("before NATS/"+tc.name, func(t *testing.T) { waitStatus(t, tc.service, healthpb.HealthCheckResponse_NOT_SERVING) })
	}
	// The ledger is not open yet: a call says to come back.
	o := fulfilling("7001", "s1")
	h.orders.put(o)
	_, err = notifierv1.NewShippingConfirmationServiceClient(conn).IssueConfirmation(context.Background(), issue(o.GetOrderId(), "s1", "r1"))
	wantStatus(t, err, codes.Unavailable, ports.ReasonLedgerUnavailable, "")

	srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range services {
		t.Run("after NATS/"+tc.name, func(t *testing.T) { waitStatus(t, tc.service, healthpb.HealthCheckResponse_SERVING) })
	}
}
