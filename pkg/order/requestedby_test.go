package order_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// TestCommandEventsRecordWhoAsked: every event a command records carries
// the Context's RequestedBy; a fact's decisions carry none.
func TestCommandEventsRecordWhoAsked(t *testing.T) {
	f := newFixture(t, wix, nil)
	for _, e := range f.fact(f.created(true)) {
		if e.GetRequestedBy() != nil {
			t.Errorf("%T decided on a fact names %v", e.GetEvent(), e.GetRequestedBy())
		}
	}
	who := &eventsv1.Principal{Name: "spiffe://dropsync/operator", Kind: "certificate"}
	c := f.ctx()
	c.RequestedBy = who
	evs := f.must(f.o.FulfillManually("M1", "from stock", c))
	if len(evs) == 0 {
		t.Fatal("FulfillManually recorded nothing")
	}
	for _, e := range evs {
		if !proto.Equal(e.GetRequestedBy(), who) {
			t.Errorf("%T requested_by = %v, want %v", e.GetEvent(), e.GetRequestedBy(), who)
		}
	}
}
