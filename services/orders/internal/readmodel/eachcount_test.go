package readmodel_test

import (
	"testing"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// TestEachCountMatchesCount: the orders gauge's figures (EachCount) are
// the ones Count answers, for every store and tab.
func TestEachCountMatchesCount(t *testing.T) {
	f := &feeder{m: readmodel.New()}
	f.order("shopify:a:1", t0, eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER)
	f.order("shopify:a:2", t0.Add(time.Minute), eventsv1.Tab_TAB_PENDING)
	f.order("wix:b:3", t0.Add(2*time.Minute), eventsv1.Tab_TAB_AWAITING_ORDER)
	got := map[string]map[eventsv1.Tab]int64{}
	f.m.EachCount(func(store string, tab eventsv1.Tab, n int64) {
		if got[store] == nil {
			got[store] = map[eventsv1.Tab]int64{}
		}
		got[store][tab] = n
	})
	if len(got) != 2 {
		t.Fatalf("stores %v, want shopify:a and wix:b", got)
	}
	for store, tabs := range got {
		want := f.m.Count(store)
		for tab, n := range want {
			if tabs[tab] != n {
				t.Errorf("%s %v: EachCount %d, Count %d", store, tab, tabs[tab], n)
			}
		}
	}
}
