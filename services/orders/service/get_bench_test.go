package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/internal/ports"
	"github.com/dropsync/dropsync/services/orders/service"
)

// BenchmarkGetOrderDuringIngest reads orders with GetOrder, one call after
// another, while the service takes in a burst of b.N facts (each appended
// durably), and reports GetOrder's latency percentiles: reads must not wait
// for writes (no lock held across the fsynced append). The baseline is the
// same reads on the same server with no ingest, just before.
func BenchmarkGetOrderDuringIngest(b *testing.B) {
	_, nc := natstest.Connect(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		b.Fatal(err)
	}
	var cfg service.Config
	pki := grpcauthtest.New(b)
	pki.Setenv(b, "orders")
	if err := config.Load(&cfg); err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- service.RunOn(ctx, cfg, js, lis, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauth.RoleOperator)...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := ordersv1.NewOrderServiceClient(conn)
	health := healthpb.NewHealthClient(conn)
	for {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		time.Sleep(time.Millisecond)
	}
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	const hot = 256
	var hotIDs []string
	var msgs []bus.Outgoing
	for i := range hot {
		id := fmt.Sprintf("shopify:hot:%d", 1000+i)
		hotIDs = append(hotIDs, id)
		msgs = append(msgs, bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: created(id, fmt.Sprint(1000+i))})
	}
	if err := pub.PublishBatch(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	for _, id := range hotIDs {
		for {
			if _, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id}); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	// read GetOrders the hot orders round-robin until stop, and returns
	// each call's latency.
	read := func(stop func() bool) []time.Duration {
		var lat []time.Duration
		for i := 0; !stop(); i++ {
			start := time.Now()
			if _, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: hotIDs[i%hot]}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	report := func(prefix string, lat []time.Duration) {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), prefix+"p50-ms")
		b.ReportMetric(q(0.99), prefix+"p99-ms")
	}
	idle := time.Now().Add(time.Second)
	idleLat := read(func() bool { return time.Now().After(idle) })

	// The burst: facts for the hot orders (their locks are held across
	// each append) and for new orders.
	msgs = msgs[:0]
	for i := range b.N {
		if i%2 == 1 {
			id := fmt.Sprintf("shopify:burst:%d", 1_000_000+i)
			msgs = append(msgs, bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: created(id, fmt.Sprint(1_000_000+i))})
			continue
		}
		id, storeID := hotIDs[i/2%hot], fmt.Sprint(1000+i/2%hot)
		at := t0.Add(time.Duration(i) * time.Second)
		msgs = append(msgs, bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: fact(id, fmt.Sprint("updated-", i), at, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{Order: snapshot(storeID, false, at)}}
		})})
	}
	b.ResetTimer()
	go func() {
		if err := pub.PublishBatch(ctx, msgs); err != nil {
			b.Error(err)
		}
	}()
	// Until the service has taken in every fact.
	start := time.Now()
	lat := read(func() bool {
		if time.Since(start) < 100*time.Millisecond {
			return false
		}
		c, err := js.Consumer(ctx, bus.StreamStore, ports.ConsumerStoreEvents)
		if err != nil {
			return true
		}
		ci, err := c.Info(ctx)
		return err != nil || ci.NumPending == 0 && ci.NumAckPending == 0
	})
	b.StopTimer()
	report("", lat)
	report("idle-", idleLat)
	b.ReportMetric(float64(len(lat)), "gets")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
