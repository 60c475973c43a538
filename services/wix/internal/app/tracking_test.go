package app_test

import (
	"context"
	"errors"
	"testing"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// trackingAPI is fakeAPI that can also update a fulfilment's tracking.
type trackingAPI struct {
	fakeAPI
	err     error
	updates []string // "order/fulfillment/number/provider"
}

func (f *trackingAPI) UpdateTracking(_ context.Context, _ wixapi.Site, orderID, fulfillmentID string, t domain.Tracking) error {
	f.updates = append(f.updates, orderID+"/"+fulfillmentID+"/"+t.Number+"/"+t.Provider)
	return f.err
}

func trackingUpdate(fulfillmentID, number string) *bus.Message {
	id := "wix:berlin:" + wixOrder
	return &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
		EventId: envelope.ID("test", id, "tu"), OrderId: id,
		Event: &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "s1", StoreFulfillmentId: fulfillmentID, Tracking: &eventsv1.Tracking{Number: number, Carrier: "UPS"},
		}},
	}}
}

func TestTrackingUpdate(t *testing.T) {
	unavailable := &client.Error{Method: "PATCH", StatusCode: 503, Retryable: true, Err: errors.New("http 503")}
	refused := &client.Error{Method: "PATCH", StatusCode: 404, Err: &wixapi.APIError{Status: 404, Code: "FULFILLMENT_NOT_FOUND"}}
	cases := []struct {
		name        string
		msg         *bus.Message
		apiErr      error
		wantErr     func(error) bool
		wantUpdates []string
	}{
		{name: "updated", msg: trackingUpdate("f-1", "1Z2"), wantErr: func(err error) bool { return err == nil },
			wantUpdates: []string{wixOrder + "/f-1/1Z2/ups"}},
		{name: "wix down: retried", msg: trackingUpdate("f-1", "1Z2"), apiErr: unavailable,
			wantErr: func(err error) bool { return err != nil && !bus.IsPermanent(err) }, wantUpdates: []string{wixOrder + "/f-1/1Z2/ups"}},
		{name: "wix refuses", msg: trackingUpdate("f-1", "1Z2"), apiErr: refused, wantErr: bus.IsPermanent,
			wantUpdates: []string{wixOrder + "/f-1/1Z2/ups"}},
		{name: "no fulfillment id", msg: trackingUpdate("", "1Z2"), wantErr: bus.IsPermanent},
		{name: "no number", msg: trackingUpdate("f-1", ""), wantErr: bus.IsPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := &trackingAPI{err: tc.apiErr}
			pub := &published{}
			err := commands(t, api, fakeNotifier{}, pub).Handle(context.Background(), tc.msg)
			if !tc.wantErr(err) {
				t.Fatalf("err %v", err)
			}
			if len(api.updates) != len(tc.wantUpdates) || (len(api.updates) > 0 && api.updates[0] != tc.wantUpdates[0]) {
				t.Errorf("updates %v, want %v", api.updates, tc.wantUpdates)
			}
			if len(pub.envs) != 0 || api.created != 0 {
				t.Errorf("published %v, created %d: a tracking update publishes and creates nothing", pub.envs, api.created)
			}
		})
	}

	// An API without UpdateTracking cannot carry it out: dead-lettered, not
	// dropped.
	err := commands(t, &fakeAPI{}, fakeNotifier{}, &published{}).Handle(context.Background(), trackingUpdate("f-1", "1Z2"))
	if !bus.IsPermanent(err) {
		t.Fatalf("api without UpdateTracking: %v, want a permanent error", err)
	}
}
