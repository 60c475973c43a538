package envelope_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

func TestForStore(t *testing.T) {
	src := &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_WIX, StoreId: "berlin", Service: "wix"}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		occurred time.Time
		want     *eventsv1.Envelope
	}{
		"occurred": {at, &eventsv1.Envelope{EventId: "e1", OrderId: "wix:berlin:1", CorrelationId: "e1", Source: src, OccurredAt: timestamppb.New(at)}},
		"unknown":  {time.Time{}, &eventsv1.Envelope{EventId: "e1", OrderId: "wix:berlin:1", CorrelationId: "e1", Source: src}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := envelope.ForStore("e1", "wix:berlin:1", src, tc.occurred); !proto.Equal(got, tc.want) {
				t.Errorf("ForStore = %v, want %v", got, tc.want)
			}
		})
	}
}
