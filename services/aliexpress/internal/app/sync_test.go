package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/services/aliexpress/internal/app"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

func orderQuery(id int64) string { return fmt.Sprintf(`{"order_id":%d}`, id) }

// The starvation seen in `make run`: shipped orders stay open until the
// buyer accepts them, and under strict priority classes they took every
// call, so newly placed orders were never polled and their payment never
// seen. With the schedule every new order is polled as soon as it is
// visible, however many shipped orders there are.
func TestNewOrdersAreNotStarvedByShippedOnes(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.budget = 5000 })
	ctx := context.Background()
	var shipped []int64
	for i := range 40 {
		id := r.place(t, fmt.Sprint("shipped-", i), i%4)
		if err := r.sim.Pay(id); err != nil {
			t.Fatal(err)
		}
		if err := r.sim.Ship(id, fmt.Sprintf("LP%03d", i), ""); err != nil {
			t.Fatal(err)
		}
		shipped = append(shipped, id)
	}
	r.clock.Advance(time.Minute)
	// Spend rounds until every shipped order is known as shipped.
	for range 100 {
		if _, err := r.syncer.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(10 * time.Second)
	}
	for _, o := range r.store.Open() {
		if !o.Shipped() {
			t.Fatalf("order %s not seen shipped after 100 rounds", o.AEOrderID)
		}
	}
	fresh := r.place(t, "fresh", 0)
	r.sim.ResetCalls()
	r.clock.Advance(15 * time.Second)
	if _, err := r.syncer.PollDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.polled(); !slices.Contains(got, orderQuery(fresh)) {
		t.Errorf("a round after the new order became visible polled %v, not the new order %d", got, fresh)
	}
	for _, id := range shipped {
		if slices.Contains(r.polled(), orderQuery(id)) {
			t.Errorf("shipped order %d polled again within a minute", id)
		}
	}
}

// Every call counts against the day's budget, the pace spreads it over the
// day, and the count survives a restart of the connector.
func TestBudgetIsPacedAndSurvivesRestart(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.budget = 2400 }) // 100 an hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.budget.Run(ctx) }()
	for i := range 60 {
		r.place(t, fmt.Sprint("o-", i), i%4)
	}
	r.clock.Set(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC)) // half an hour into a new day: 50 earned
	for range 5 {
		if _, err := r.syncer.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	used, _ := r.budget.Used()
	if want := 50 + domain.PaceBurst(2400); used > want || used < 50 {
		t.Errorf("used %d calls half an hour into the day, want 50 earned plus the burst (%d) at most", used, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	again, err := app.OpenBudget(context.Background(), r.store, "default", 2400, r.clock.Now, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.Used(); got != used {
		t.Errorf("after a restart the day's use is %d, want %d", got, used)
	}
	r.clock.Advance(24 * time.Hour)
	if got, _ := again.Used(); got != 0 {
		t.Errorf("the next day starts at %d calls", got)
	}
}

// A store's own supplier_sync_times decide its fixed-time syncs; other
// stores keep the default.
func TestPerStoreSyncTimes(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.budget = 5000
		c.sync = func(s *app.SyncConfig) {
			s.SyncTimes = []time.Duration{2 * time.Hour}
			s.Schedule.MinInterval = 72 * time.Hour // only the sweeps decide
			s.Schedule.UnpaidCeiling = 72 * time.Hour
			s.StoreSyncTimes = func(_ context.Context, store string) ([]time.Duration, bool) {
				if store == "shopify:acme" {
					return []time.Duration{14 * time.Hour}, true
				}
				return nil, false
			}
		}
	})
	ctx := context.Background()
	acme := r.place(t, "a1", 0) // shopify:acme
	other := r.placeFor(t, "shopify:other", "o1", 1)
	r.clock.Set(time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC))
	if _, err := r.syncer.PollDue(ctx); err != nil { // first polls
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want []int64
	}{
		{time.Date(2026, 11, 21, 2, 0, 30, 0, time.UTC), []int64{other}},
		{time.Date(2026, 11, 21, 14, 0, 30, 0, time.UTC), []int64{acme}},
	} {
		r.clock.Set(tc.at)
		r.sim.ResetCalls()
		if _, err := r.syncer.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, id := range tc.want {
			want = append(want, orderQuery(id))
		}
		if got := r.polled(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at %s polled %v, want %v", tc.at.Format("15:04"), got, want)
		}
	}
}

// AliExpress's own limit errors pause polling, for longer at each refusal
// in a row and never beyond the cap; a working call ends the pause.
func TestLimitErrorsBackOff(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.budget = 5000 })
	ctx := context.Background()
	r.place(t, "a", 0)
	r.clock.Advance(time.Minute)
	r.sim.InjectFault(aliexpresssim.Fault{Method: aliexpresssim.MethodOrderGet, Code: "7", Msg: "App Call Limited",
		SubCode: "accesscontrol.limited-by-app-access-count", Times: 1})
	if _, err := r.syncer.PollDue(ctx); err == nil {
		t.Fatal("a spent quota was not an error")
	}
	_, resume := r.syncer.Next()
	if d := resume.Sub(r.clock.Now()); d <= 0 || d > time.Hour {
		t.Fatalf("paused for %v after a spent quota, want up to the 1h cap", d)
	}
	r.sim.ResetCalls()
	r.clock.Advance(30 * time.Minute)
	if _, err := r.syncer.PollDue(ctx); err != nil || len(r.polled()) != 0 {
		t.Fatalf("polled %v while paused (%v)", r.polled(), err)
	}
	r.clock.Advance(31 * time.Minute)
	if res, err := r.syncer.PollDue(ctx); err != nil || res.Polled != 1 {
		t.Fatalf("after the pause: %+v, %v", res, err)
	}
	if _, resume := r.syncer.Next(); !resume.IsZero() {
		t.Errorf("still paused until %v after a working call", resume)
	}
}
