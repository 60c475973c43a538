package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/service"
)

// outage runs the orders service as its main does (service.Run, its own
// NATS connection) against a NATS server the test starts and stops on one
// port and store folder.
type outage struct {
	t      *testing.T
	port   int
	dir    string
	server *natsserver.Server
	done   chan error
	client ordersv1.OrderServiceClient
	health healthpb.HealthClient
}

// newOutage runs the service with no NATS server on its port yet.
func newOutage(t *testing.T) *outage {
	t.Helper()
	o := &outage{t: t, port: natstest.FreePort(t), dir: t.TempDir(), done: make(chan error, 1)}
	var cfg service.Config
	pki := grpcauthtest.New(t)
	pki.Setenv(t, "orders")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", o.port)
	cfg.Orders.AttentionInterval = 0
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { o.done <- service.Run(ctx, cfg, lis, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauth.RoleOperator)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		select {
		case err := <-o.done:
			if err != nil {
				t.Errorf("service stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("service did not stop within 30s")
		}
		if o.server != nil {
			o.server.Stop()
		}
	})
	o.client = ordersv1.NewOrderServiceClient(conn)
	o.health = healthpb.NewHealthClient(conn)
	return o
}

// startNATS starts the server on the service's port and folder.
func (o *outage) startNATS() {
	o.t.Helper()
	s, err := natsserver.Start(natsserver.Options{Port: o.port, StoreDir: o.dir})
	if err != nil {
		o.t.Fatal(err)
	}
	o.server = s
}

// stopNATS stops the server.
func (o *outage) stopNATS() {
	o.server.Stop()
	o.server = nil
}

// status is the service's health, once it answers.
func (o *outage) status() healthpb.HealthCheckResponse_ServingStatus {
	o.t.Helper()
	var st healthpb.HealthCheckResponse_ServingStatus
	o.eventually("health answers", func() error {
		r, err := o.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		st = r.GetStatus()
		return err
	})
	return st
}

// running fails the test if the service has stopped.
func (o *outage) running() {
	o.t.Helper()
	select {
	case err := <-o.done:
		o.t.Fatalf("the service exited: %v", err)
	default:
	}
}

func (o *outage) eventually(what string, f func() error) {
	o.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		o.running()
		if time.Now().After(deadline) {
			o.t.Fatalf("%s: still %v after 60s", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (o *outage) serving() {
	o.t.Helper()
	o.eventually("SERVING", func() error {
		r, err := o.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %v", r.GetStatus())
		}
		return nil
	})
}

// publish publishes env as a store connector would, on a connection of
// its own to the server as it is now.
func (o *outage) publish(env *eventsv1.Envelope) {
	o.t.Helper()
	nc, err := nats.Connect(o.server.URL())
	if err != nil {
		o.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		o.t.Fatal(err)
	}
	subject, err := bus.SubjectFor(env)
	if err != nil {
		o.t.Fatal(err)
	}
	if err := bus.NewPublisher(js, bus.PublisherConfig{}).Publish(context.Background(), subject, env); err != nil {
		o.t.Fatal(err)
	}
}

// waitTab waits until the order shows in tab.
func (o *outage) waitTab(id string, tab eventsv1.Tab) {
	o.t.Helper()
	o.eventually(id+" in "+tab.String(), func() error {
		r, err := o.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			return err
		}
		if got := r.GetOrder().GetTab(); got != tab {
			return fmt.Errorf("tab %v", got)
		}
		return nil
	})
}

// TestStartsBeforeNATS: started with no NATS server, the service serves
// gRPC, says NOT_SERVING and does not exit; once the server starts on its
// port it says SERVING and handles facts.
func TestStartsBeforeNATS(t *testing.T) {
	o := newOutage(t)
	if st := o.status(); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health %v with no NATS, want NOT_SERVING", st)
	}
	// What needs the event store says so meanwhile.
	_, err := o.client.GetOrderHistory(context.Background(), &ordersv1.GetOrderHistoryRequest{OrderId: "shopify:demo:7001"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("GetOrderHistory before NATS: %v, want Unavailable", err)
	}
	o.running()

	o.startNATS()
	o.serving()
	const id = "shopify:demo:7001"
	o.publish(created(id, "7001"))
	o.waitTab(id, eventsv1.Tab_TAB_PENDING)
}

// outageLength is how long NATS stays away in TestSurvivesNATSOutage.
const outageLength = 60 * time.Second

// TestSurvivesNATSOutage: NATS goes away for a minute (stopped, then
// started again on the same port and store). The service keeps running
// and, once NATS is back, handles a new fact and relays its events.
func TestSurvivesNATSOutage(t *testing.T) {
	o := newOutage(t)
	o.startNATS()
	o.serving()
	const before, after = "shopify:demo:7101", "shopify:demo:7102"
	o.publish(created(before, "7101"))
	o.waitTab(before, eventsv1.Tab_TAB_PENDING)

	o.stopNATS()
	deadline := time.Now().Add(outageLength)
	for time.Now().Before(deadline) {
		select {
		case err := <-o.done:
			t.Fatalf("the service exited %s into the outage: %v", outageLength-time.Until(deadline), err)
		case <-time.After(time.Until(deadline)):
		}
	}
	o.startNATS()

	o.publish(created(after, "7102"))
	o.waitTab(after, eventsv1.Tab_TAB_PENDING)
	o.serving()
	// The relay published the new order's events too.
	o.eventually("order events relayed", func() error {
		nc, err := nats.Connect(o.server.URL())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		s, err := js.Stream(context.Background(), bus.StreamOrder)
		if err != nil {
			return err
		}
		subject := bus.OrderFilter("shopify", "OrderStatusChanged")
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if n := len(info.State.Subjects); n < 2 {
			return errors.New("the second order's status change is not on the bus yet")
		}
		return nil
	})
}
