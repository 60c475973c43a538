package order_test

import (
	"testing"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Every store platform of the enum has a row (a new enum value fails here
// until it is classified), and the row's facts are
// consistent with the functions that read them.
func TestEveryStorePlatformHasFacts(t *testing.T) {
	rows := map[eventsv1.Platform]bool{}
	for _, f := range order.Platforms() {
		rows[f.Platform] = true
		if f.Word == "" || f.Name == "" || f.Channel == "" {
			t.Errorf("%v: incomplete facts %+v", f.Platform, f)
		}
		if p, err := order.ParsePlatform(f.Word); err != nil || p != f.Platform {
			t.Errorf("ParsePlatform(%q) = %v, %v", f.Word, p, err)
		}
		if order.PlatformWord(f.Platform) != f.Word || order.Channel(f.Platform) != f.Channel {
			t.Errorf("%v: word %q channel %q", f.Platform, order.PlatformWord(f.Platform), order.Channel(f.Platform))
		}
	}
	for v := range eventsv1.Platform_name {
		p := eventsv1.Platform(v)
		switch p {
		case eventsv1.Platform_PLATFORM_UNSPECIFIED, eventsv1.Platform_PLATFORM_ALIEXPRESS, eventsv1.Platform_PLATFORM_DROPSYNC:
			if _, ok := order.Facts(p); ok {
				t.Errorf("%v is not a store platform but has facts", p)
			}
		default:
			if !rows[p] {
				t.Errorf("store platform %v has no row in order.Platforms", p)
			}
		}
	}
}
