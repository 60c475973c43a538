package app_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/services/wix/internal/app"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

const wixOrder = "58c9a790-27b7-463f-a865-c7cb494f7c29"

type fakeAPI struct {
	createErr error
	created   int
}

func (f *fakeAPI) GetOrder(context.Context, wixapi.Site, string) (domain.Order, error) {
	return domain.Order{}, errors.New("not used")
}

func (f *fakeAPI) ListFulfillments(context.Context, wixapi.Site, string) ([]domain.Fulfillment, error) {
	return nil, nil
}

func (f *fakeAPI) CreateFulfillment(context.Context, wixapi.Site, string, domain.FulfillmentInput) (string, error) {
	f.created++
	if f.createErr != nil {
		return "", f.createErr
	}
	return "f-1", nil
}

// fakeNotifier is the notifier's gRPC client; only IssueConfirmation is
// called.
type fakeNotifier struct {
	notifierv1.ShippingConfirmationServiceClient
	err error
}

func (f fakeNotifier) IssueConfirmation(_ context.Context, in *notifierv1.IssueConfirmationRequest, _ ...grpc.CallOption) (*notifierv1.IssueConfirmationResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &notifierv1.IssueConfirmationResponse{Confirmation: &notifierv1.Confirmation{Decision: notifierv1.Decision_DECISION_NOTIFY}}, nil
}

type published struct {
	mu   sync.Mutex
	envs []*eventsv1.Envelope
}

func (p *published) Publish(_ context.Context, _ string, e *eventsv1.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.envs = append(p.envs, e)
	return nil
}

func commands(t *testing.T, api app.API, n notifierv1.ShippingConfirmationServiceClient, pub bus.EventPublisher) *app.Commands {
	t.Helper()
	stores, err := app.NewStores([]app.StoreConfig{{
		Store: domain.Store{Slug: "berlin", SiteID: "site", InstanceID: "inst"},
		Site:  wixapi.Site{Credential: config.NewSecret("tok")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.NewCommands(app.Config{Stores: stores, Settings: app.NewSettings(), API: api, Notifier: &peers.Notifier{Client: n}, Publisher: pub,
		MaxDeliver: 3, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(orderID string, deliveries uint64) *bus.Message {
	return &bus.Message{Deliveries: deliveries, Envelope: &eventsv1.Envelope{
		EventId: envelope.ID("test", orderID), OrderId: orderID,
		Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
			ShipmentId: "s1", Lines: []*eventsv1.LineQuantity{{LineItemId: "l1", Quantity: 1}},
			Tracking: []*eventsv1.Tracking{{Number: "T1", Carrier: "UPS"}},
		}},
	}}
}

func TestFulfilFailures(t *testing.T) {
	unavailable := &client.Error{Method: "POST", StatusCode: 503, Retryable: true, Err: errors.New("http 503")}
	refused := &client.Error{Method: "POST", StatusCode: 400, Err: &wixapi.APIError{Status: 400, Code: "LINE_ITEM_NOT_FOUND"}}
	cases := []struct {
		name       string
		order      string
		deliveries uint64
		api        *fakeAPI
		notifier   fakeNotifier
		wantErr    func(error) bool
		wantFailed string // FulfillmentFailed code published
		retryable  bool
	}{
		{name: "unknown store", order: "wix:paris:" + wixOrder, deliveries: 1, api: &fakeAPI{}, wantErr: bus.IsPermanent},
		{name: "not a wix order", order: "shopify:berlin:1", deliveries: 1, api: &fakeAPI{}, wantErr: bus.IsPermanent},
		{name: "notifier down: retried", order: "wix:berlin:" + wixOrder, deliveries: 1, api: &fakeAPI{},
			notifier: fakeNotifier{err: status.Error(codes.Unavailable, "down")}, wantErr: func(err error) bool { return err != nil && !bus.IsPermanent(err) }},
		{name: "notifier refuses the request", order: "wix:berlin:" + wixOrder, deliveries: 1, api: &fakeAPI{},
			notifier: fakeNotifier{err: status.Error(codes.InvalidArgument, "bad")}, wantErr: bus.IsPermanent},
		{name: "wix down: retried", order: "wix:berlin:" + wixOrder, deliveries: 2, api: &fakeAPI{createErr: unavailable},
			wantErr: func(err error) bool { return err != nil && !bus.IsPermanent(err) }},
		{name: "wix down on the last delivery", order: "wix:berlin:" + wixOrder, deliveries: 3, api: &fakeAPI{createErr: unavailable},
			wantErr: func(err error) bool { return err == nil }, wantFailed: app.CodeStoreUnavailable, retryable: true},
		{name: "wix refuses", order: "wix:berlin:" + wixOrder, deliveries: 1, api: &fakeAPI{createErr: refused},
			wantErr: func(err error) bool { return err == nil }, wantFailed: app.CodeStoreRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &published{}
			err := commands(t, tc.api, tc.notifier, pub).Handle(context.Background(), request(tc.order, tc.deliveries))
			if !tc.wantErr(err) {
				t.Fatalf("err %v", err)
			}
			if tc.wantFailed == "" {
				if len(pub.envs) != 0 {
					t.Errorf("published %v, want nothing", pub.envs)
				}
				return
			}
			if len(pub.envs) != 1 || pub.envs[0].GetFulfillmentFailed().GetReason().GetCode() != tc.wantFailed ||
				pub.envs[0].GetFulfillmentFailed().GetReason().GetRetryable() != tc.retryable || pub.envs[0].GetCausationId() == "" {
				t.Errorf("published %v, want FulfillmentFailed %s (retryable %v) caused by the command", pub.envs, tc.wantFailed, tc.retryable)
			}
		})
	}
}

func TestNewStoresRefusesBadRegistries(t *testing.T) {
	ok := app.StoreConfig{Store: domain.Store{Slug: "a", SiteID: "s1", InstanceID: "i1"}, Site: wixapi.Site{Credential: config.NewSecret("x")}}
	cases := map[string][]app.StoreConfig{
		"bad slug":       {{Store: domain.Store{Slug: "a.b", SiteID: "s", InstanceID: "i"}, Site: wixapi.Site{Credential: config.NewSecret("x")}}},
		"no credential":  {{Store: domain.Store{Slug: "a", SiteID: "s", InstanceID: "i"}}},
		"no instance":    {{Store: domain.Store{Slug: "a", SiteID: "s"}, Site: wixapi.Site{Credential: config.NewSecret("x")}}},
		"slug twice":     {ok, {Store: domain.Store{Slug: "a", SiteID: "s2", InstanceID: "i2"}, Site: wixapi.Site{Credential: config.NewSecret("x")}}},
		"instance twice": {ok, {Store: domain.Store{Slug: "b", SiteID: "s2", InstanceID: "i1"}, Site: wixapi.Site{Credential: config.NewSecret("x")}}},
	}
	for name, list := range cases {
		if _, err := app.NewStores(list); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := app.NewStores([]app.StoreConfig{ok})
	if err != nil {
		t.Fatal(err)
	}
	if st, found := s.ByInstance("i1"); !found || st.Site.InstanceID != "i1" {
		t.Errorf("store %+v: want the site filled in", st)
	}
}
