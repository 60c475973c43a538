package peers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// orders is the orders service's GetStoreSettings: settings per store
// key, or err for every call.
type orders struct {
	ordersv1.UnimplementedOrderServiceServer
	mu       sync.Mutex
	settings map[string]*eventsv1.StoreSettings
	err      error
	calls    int
}

func (o *orders) GetStoreSettings(_ context.Context, r *ordersv1.GetStoreSettingsRequest) (*ordersv1.GetStoreSettingsResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.err != nil {
		return nil, o.err
	}
	return &ordersv1.GetStoreSettingsResponse{Settings: o.settings[r.GetStore()]}, nil
}

func (o *orders) set(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err = err
}

func (o *orders) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// notifier is the ShippingConfirmationService: it records each request
// and answers decision, err, or waits for the call's end when block.
type notifier struct {
	notifierv1.UnimplementedShippingConfirmationServiceServer
	mu       sync.Mutex
	decision notifierv1.Decision
	err      error
	block    bool
	got      []*notifierv1.IssueConfirmationRequest
}

func (n *notifier) IssueConfirmation(ctx context.Context, r *notifierv1.IssueConfirmationRequest) (*notifierv1.IssueConfirmationResponse, error) {
	n.mu.Lock()
	n.got = append(n.got, r)
	decision, err, block := n.decision, n.err, n.block
	n.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, err
	}
	return &notifierv1.IssueConfirmationResponse{Confirmation: &notifierv1.Confirmation{
		OrderId: r.GetOrderId(), ShipmentId: r.GetShipmentId(), Decision: decision,
	}}, nil
}

func (n *notifier) requests() []*notifierv1.IssueConfirmationRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.got
}

// serve serves register's services on a loopback port until the test ends
// and returns its address.
// pkis holds each test's CA: its fake servers and its clients share it.
var pkis sync.Map // *testing.T -> *grpcauthtest.PKI

func testPKI(t *testing.T) *grpcauthtest.PKI {
	t.Helper()
	if p, ok := pkis.Load(t); ok {
		return p.(*grpcauthtest.PKI)
	}
	p := grpcauthtest.New(t)
	pkis.Store(t, p)
	t.Cleanup(func() { pkis.Delete(t) })
	return p
}

func serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(testPKI(t).ServerOptions("orders")...)
	register(s)
	go func() { _ = s.Serve(lis) }() // Serve returns when Stop is called
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// dial is a client connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, testPKI(t).DialOptions(grpcauthtest.AllRoles)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func ordersClient(t *testing.T, srv *orders) ordersv1.OrderServiceClient {
	t.Helper()
	return ordersv1.NewOrderServiceClient(dial(t, serve(t, func(s *grpc.Server) { ordersv1.RegisterOrderServiceServer(s, srv) })))
}

func notifierClient(t *testing.T, srv *notifier) notifierv1.ShippingConfirmationServiceClient {
	t.Helper()
	return notifierv1.NewShippingConfirmationServiceClient(dial(t, serve(t, func(s *grpc.Server) {
		notifierv1.RegisterShippingConfirmationServiceServer(s, srv)
	})))
}

var quiet = &eventsv1.StoreSettings{
	FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER,
	CarrierMapping:    map[string]string{"CAINIAO_STANDARD": "Cainiao"},
}

func TestOrdersSettings(t *testing.T) {
	ctx := context.Background()
	t.Run("reads a store's settings and keeps them for the TTL", func(t *testing.T) {
		srv := &orders{settings: map[string]*eventsv1.StoreSettings{"shopify:acme": quiet}}
		s := &peers.OrdersSettings{Client: ordersClient(t, srv), TTL: time.Hour}
		for range 3 {
			got, err := s.StoreSettings(ctx, "shopify:acme")
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, quiet) {
				t.Fatalf("settings = %v, want %v", got, quiet)
			}
		}
		if n := srv.count(); n != 1 {
			t.Errorf("orders service asked %d times, want 1", n)
		}
	})
	t.Run("reads again once the TTL has passed", func(t *testing.T) {
		srv := &orders{settings: map[string]*eventsv1.StoreSettings{"shopify:acme": quiet}}
		s := &peers.OrdersSettings{Client: ordersClient(t, srv), TTL: time.Nanosecond}
		for range 2 {
			time.Sleep(time.Millisecond)
			if _, err := s.StoreSettings(ctx, "shopify:acme"); err != nil {
				t.Fatal(err)
			}
		}
		if n := srv.count(); n != 2 {
			t.Errorf("orders service asked %d times, want 2", n)
		}
	})
	t.Run("a store without settings gets the defaults", func(t *testing.T) {
		s := &peers.OrdersSettings{Client: ordersClient(t, &orders{})}
		got, err := s.StoreSettings(ctx, "wix:berlin")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, order.DefaultSettings()) {
			t.Errorf("settings = %v, want the defaults", got)
		}
	})
	t.Run("stale settings when the orders service fails", func(t *testing.T) {
		srv := &orders{settings: map[string]*eventsv1.StoreSettings{"shopify:acme": quiet}}
		s := &peers.OrdersSettings{Client: ordersClient(t, srv), TTL: time.Nanosecond}
		if _, err := s.StoreSettings(ctx, "shopify:acme"); err != nil {
			t.Fatal(err)
		}
		srv.set(status.Error(codes.Unavailable, "down"))
		time.Sleep(time.Millisecond)
		got, err := s.StoreSettings(ctx, "shopify:acme")
		if err != nil {
			t.Fatalf("stale settings: %v", err)
		}
		if !proto.Equal(got, quiet) {
			t.Errorf("settings = %v, want the stale %v", got, quiet)
		}
	})
	t.Run("an error when the orders service fails and nothing was read", func(t *testing.T) {
		srv := &orders{err: status.Error(codes.Unavailable, "down")}
		s := &peers.OrdersSettings{Client: ordersClient(t, srv)}
		_, err := s.StoreSettings(ctx, "shopify:acme")
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "get store settings shopify:acme") {
			t.Errorf("err = %v, want the wrapped UNAVAILABLE", err)
		}
	})
}

func TestStaticSettings(t *testing.T) {
	for name, tc := range map[string]struct {
		given, want *eventsv1.StoreSettings
	}{
		"nil is the defaults": {nil, order.DefaultSettings()},
		"given settings":      {quiet, quiet},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := peers.StaticSettings{Settings: tc.given}.StoreSettings(context.Background(), "woocommerce:shop")
			if err != nil || !proto.Equal(got, tc.want) {
				t.Errorf("StoreSettings = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestNotifier(t *testing.T) {
	ctx := context.Background()
	t.Run("asks for the shipment on the channel and returns the decision", func(t *testing.T) {
		for _, d := range []notifierv1.Decision{
			notifierv1.Decision_DECISION_NOTIFY, notifierv1.Decision_DECISION_SKIP_SETTING_OFF,
			notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED, notifierv1.Decision_DECISION_SKIP_NOT_SYNCED,
		} {
			srv := &notifier{decision: d}
			n := &peers.Notifier{Client: notifierClient(t, srv)}
			got, err := n.Issue(ctx, "shopify:acme:1001", "ship-1", "shopify:acme", "shopify.notifyCustomer", "evt-1")
			if err != nil || got != d {
				t.Fatalf("Issue = %v, %v; want %v", got, err, d)
			}
			want := &notifierv1.IssueConfirmationRequest{
				OrderId: "shopify:acme:1001", ShipmentId: "ship-1", Store: "shopify:acme", Channel: "shopify.notifyCustomer", RequestId: "evt-1",
			}
			if got := srv.requests(); len(got) != 1 || !proto.Equal(got[0], want) {
				t.Errorf("notifier got %v, want %v", got, want)
			}
		}
	})
	for name, tc := range map[string]struct {
		err       error
		permanent bool
	}{
		"invalid argument is permanent":  {status.Error(codes.InvalidArgument, "bad store"), true},
		"failed precondition is retried": {status.Error(codes.FailedPrecondition, "order lags"), false},
		"not found is retried":           {status.Error(codes.NotFound, "no order"), false},
		"unavailable is retried":         {status.Error(codes.Unavailable, "down"), false},
	} {
		t.Run(name, func(t *testing.T) {
			n := &peers.Notifier{Client: notifierClient(t, &notifier{err: tc.err})}
			_, err := n.Issue(ctx, "wix:berlin:1", "s1", "wix:berlin", "wix.fulfillment_email", "evt-1")
			if err == nil || bus.IsPermanent(err) != tc.permanent || status.Code(err) != status.Code(tc.err) {
				t.Errorf("err = %v (permanent %v), want %v (permanent %v)", err, bus.IsPermanent(err), tc.err, tc.permanent)
			}
			if !strings.HasPrefix(err.Error(), "issue confirmation: ") {
				t.Errorf("err = %q, want it to name the call", err)
			}
		})
	}
	t.Run("timeout bounds one call", func(t *testing.T) {
		n := &peers.Notifier{Client: notifierClient(t, &notifier{block: true}), Timeout: 50 * time.Millisecond}
		start := time.Now()
		_, err := n.Issue(ctx, "wix:berlin:1", "s1", "wix:berlin", "wix.fulfillment_email", "evt-1")
		if status.Code(err) != codes.DeadlineExceeded || bus.IsPermanent(err) {
			t.Errorf("err = %v, want a retryable DEADLINE_EXCEEDED", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Issue took %s", took)
		}
	})
}

func TestSettingsDecider(t *testing.T) {
	on := &eventsv1.StoreSettings{ShippingConfirmation: true}
	off := &eventsv1.StoreSettings{ShippingConfirmation: false}
	for name, tc := range map[string]struct {
		settings peers.Settings
		want     notifierv1.Decision
		wantErr  bool
	}{
		"setting on notifies":      {settings: peers.StaticSettings{Settings: on}, want: notifierv1.Decision_DECISION_NOTIFY},
		"setting off skips":        {settings: peers.StaticSettings{Settings: off}, want: notifierv1.Decision_DECISION_SKIP_SETTING_OFF},
		"defaults notify":          {settings: peers.StaticSettings{}, want: notifierv1.Decision_DECISION_NOTIFY},
		"settings error is passed": {settings: failing{}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := peers.SettingsDecider{Settings: tc.settings}.Issue(context.Background(), "o", "s", "shopify:acme", "c", "r")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Issue = %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

type failing struct{}

func (failing) StoreSettings(context.Context, string) (*eventsv1.StoreSettings, error) {
	return nil, status.Error(codes.Unavailable, "down")
}

func TestDial(t *testing.T) {
	ctx := context.Background()
	t.Run("without addresses: defaults, decided from the setting, with a warning", func(t *testing.T) {
		var logs bytes.Buffer
		p, err := peers.Dial(ctx, peers.Config{}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		if _, ok := p.Settings.(peers.StaticSettings); !ok {
			t.Errorf("Settings = %T, want StaticSettings", p.Settings)
		}
		if _, ok := p.Confirmations.(peers.SettingsDecider); !ok {
			t.Errorf("Confirmations = %T, want SettingsDecider", p.Confirmations)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "no notifier address") {
			t.Errorf("logs = %q, want the no-notifier warning", logs.String())
		}
	})
	t.Run("with addresses: the orders service and the notifier", func(t *testing.T) {
		ord := &orders{settings: map[string]*eventsv1.StoreSettings{"woocommerce:shop": quiet}}
		ntf := &notifier{decision: notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED}
		var logs bytes.Buffer
		p, err := peers.Dial(ctx, peers.Config{
			OrdersAddr:   serve(t, func(s *grpc.Server) { ordersv1.RegisterOrderServiceServer(s, ord) }),
			NotifierAddr: serve(t, func(s *grpc.Server) { notifierv1.RegisterShippingConfirmationServiceServer(s, ntf) }),
			GRPC:         testPKI(t).ClientConfig("shopify"),
		}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		st, err := p.Settings.StoreSettings(ctx, "woocommerce:shop")
		if err != nil || !proto.Equal(st, quiet) {
			t.Errorf("StoreSettings = %v, %v; want %v", st, err, quiet)
		}
		d, err := p.Confirmations.Issue(ctx, "woocommerce:shop:7", "s1", "woocommerce:shop", "woocommerce.completed_email", "evt")
		if err != nil || d != notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED {
			t.Errorf("Issue = %v, %v; want DECISION_SKIP_ALREADY_ISSUED", d, err)
		}
		if logs.Len() != 0 {
			t.Errorf("logs = %q, want none", logs.String())
		}
	})
}

func TestDecisionOf(t *testing.T) {
	for in, want := range map[notifierv1.Decision]peers.Decision{
		notifierv1.Decision_DECISION_NOTIFY:              peers.Notify,
		notifierv1.Decision_DECISION_SKIP_SETTING_OFF:    peers.Quiet,
		notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED: peers.Quiet,
		notifierv1.Decision_DECISION_SKIP_NOT_SYNCED:     peers.NotSynced,
	} {
		if got, err := peers.DecisionOf(in); err != nil || got != want {
			t.Errorf("DecisionOf(%v) = %v, %v; want %v", in, got, err, want)
		}
	}
	if d, err := peers.DecisionOf(notifierv1.Decision_DECISION_UNSPECIFIED); err == nil {
		t.Errorf("DecisionOf(UNSPECIFIED) = %v; want an error", d)
	}
}
