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
	"google.golang.org/grpc/status"

	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"

	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/services/aliexpress/service"
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
// NATS connection) with no NATS server on its port, the connector serves
// gRPC at once, every health service says NOT_SERVING and a call answers
// UNAVAILABLE; once the server starts on that port every health service
// says SERVING.
func TestStartsBeforeNATS(t *testing.T) {
	h := newHarness(t)
	h.stop() // its connector runs on the harness's NATS: this one starts without
	cfg := h.config()
	port := freePort(t)
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
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
				t.Errorf("connector stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("connector did not stop within 30s")
		}
		if srv != nil {
			srv.Stop()
		}
	})
	health := healthpb.NewHealthClient(conn)
	waitStatus := func(t *testing.T, name string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
			if err == nil && r.GetStatus() == want {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("the connector exited: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %q: %v (%v) after 60s, want %v", name, r.GetStatus(), err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	services := []struct {
		name, service string
	}{
		{name: "server", service: ""},
		{name: "SupplierSyncService", service: aliexpressv1.SupplierSyncService_ServiceDesc.ServiceName},
	}

	for _, tc := range services {
		t.Run("before NATS/"+tc.name, func(t *testing.T) { waitStatus(t, tc.service, healthpb.HealthCheckResponse_NOT_SERVING) })
	}
	client := aliexpressv1.NewSupplierSyncServiceClient(conn)
	if _, err := client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetConnectionHealth before NATS: %v, want Unavailable", err)
	}

	srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range services {
		t.Run("after NATS/"+tc.name, func(t *testing.T) { waitStatus(t, tc.service, healthpb.HealthCheckResponse_SERVING) })
	}
	if _, err := client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{}); err != nil {
		t.Errorf("GetConnectionHealth once ready: %v", err)
	}
}
