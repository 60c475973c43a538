package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample())))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	os.Exit(m.Run())
}

// quiet keeps expected retries and dead letters out of the test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// setup starts a server, creates the streams and returns a JetStream
// context on it.
func setup(t testing.TB) jetstream.JetStream {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	return js
}

// fastConfig is a consumer configuration with short timings for tests.
func fastConfig(durable string) bus.ConsumerConfig {
	return bus.ConsumerConfig{
		Stream:          bus.StreamStore,
		Durable:         durable,
		MaxDeliver:      3,
		AckWait:         2 * time.Second,
		Backoff:         []time.Duration{20 * time.Millisecond},
		HandlerTimeout:  5 * time.Second,
		ShutdownTimeout: 5 * time.Second,
		Logger:          quiet,
	}
}

// consume runs bus.Consume in the background; the returned stop cancels it
// and checks it returned nil. stop runs at cleanup too.
func consume(t *testing.T, js jetstream.JetStream, cfg bus.ConsumerConfig, h bus.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, js, cfg, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Consume returned %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Consume did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, "consumer created", func() bool {
		_, err := js.Consumer(context.Background(), cfg.Stream, cfg.Durable)
		return err == nil
	})
	return stop
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// storeEvent is a StoreOrderCreated envelope for order "shopify:acme:<n>".
func storeEvent(id string, order int) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId:       id,
		OrderId:       fmt.Sprintf("shopify:acme:%d", order),
		CorrelationId: "corr-" + id,
		Event:         &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}},
	}
}

// publish publishes env on its subject and waits for the ack.
func publish(t testing.TB, ctx context.Context, p *bus.Publisher, env *eventsv1.Envelope) {
	t.Helper()
	subj, err := bus.SubjectFor(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, subj, env); err != nil {
		t.Fatal(err)
	}
}

// recorder is a handler that records what it saw.
type recorder struct {
	mu   sync.Mutex
	msgs []*bus.Message
	ctxs []context.Context
}

func (r *recorder) handle(ctx context.Context, m *bus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.ctxs = append(r.ctxs, ctx)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = m.Envelope.GetEventId()
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func consumerInfo(t testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func deadLetters(t testing.TB, js jetstream.JetStream, stream string) []bus.DeadLetter {
	t.Helper()
	dl, err := bus.DeadLetters(context.Background(), js, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	return dl
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})

	var rec recorder
	consume(t, js, fastConfig("roundtrip"), rec.handle)

	ctx, span := otel.Tracer("test").Start(ctx, "webhook")
	env := storeEvent("evt-1", 1001)
	publish(t, ctx, p, env)
	span.End()

	waitFor(t, "message handled", func() bool { return rec.count() == 1 })
	m := rec.msgs[0]
	if !proto.Equal(m.Envelope, env) {
		t.Errorf("envelope = %v, want %v", m.Envelope, env)
	}
	for k, want := range map[string]string{
		jetstream.MsgIDHeader: "evt-1",
		bus.HeaderEventType:   "StoreOrderCreated",
		bus.HeaderContentType: envelope.ContentType,
		bus.HeaderOrderID:     "shopify:acme:1001",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if m.Header.Get("traceparent") == "" {
		t.Error("no traceparent header")
	}
	if m.Subject != "store.shopify.acme.1001" || m.Stream != bus.StreamStore || m.Consumer != "roundtrip" {
		t.Errorf("subject, stream, consumer = %q, %q, %q", m.Subject, m.Stream, m.Consumer)
	}
	if m.Deliveries != 1 || m.Sequence != 1 || m.EventType() != "StoreOrderCreated" {
		t.Errorf("deliveries, sequence, type = %d, %d, %q", m.Deliveries, m.Sequence, m.EventType())
	}
	got := trace.SpanContextFromContext(rec.ctxs[0])
	if got.TraceID() != span.SpanContext().TraceID() {
		t.Errorf("consumer trace id = %s, want the publisher's %s", got.TraceID(), span.SpanContext().TraceID())
	}
	if got.SpanID() == span.SpanContext().SpanID() {
		t.Error("consumer runs in the publisher's span, want a span of its own")
	}
}

func TestDuplicatePublishIsDropped(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	env := storeEvent("evt-dup", 1)
	publish(t, ctx, p, env)
	publish(t, ctx, p, env)
	f, err := p.PublishAsync(ctx, bus.StoreSubject(env.GetOrderId()), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.Ack().Duplicate {
		t.Error("async re-publish not reported as duplicate")
	}
	s, err := js.Stream(ctx, bus.StreamStore)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestPublishBatch(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{MaxInFlight: 8})
	var batch []bus.Outgoing
	for i := range 100 {
		env := storeEvent(fmt.Sprintf("evt-%03d", i), i%7)
		batch = append(batch, bus.Outgoing{Subject: bus.StoreSubject(env.GetOrderId()), Envelope: env})
	}
	if err := p.PublishBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	consume(t, js, fastConfig("batch"), rec.handle)
	waitFor(t, "100 messages", func() bool { return rec.count() == 100 })
	for i, id := range rec.ids() {
		if want := fmt.Sprintf("evt-%03d", i); id != want {
			t.Fatalf("message %d is %s, want %s (stream order)", i, id, want)
		}
	}
}

func TestPublishRejectsBadEnvelope(t *testing.T) {
	js := setup(t)
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	ctx := context.Background()
	if err := p.Publish(ctx, "store.a.b.c", &eventsv1.Envelope{EventId: "x"}); !errors.Is(err, envelope.ErrNoEvent) {
		t.Errorf("no event: err = %v, want envelope.ErrNoEvent", err)
	}
	if err := p.Publish(ctx, "store.a.b.c", storeEvent("", 1)); err == nil {
		t.Error("no event id: err = nil")
	}
	if err := p.Publish(ctx, "nostream.a", storeEvent("x", 1)); err == nil {
		t.Error("subject outside every stream: err = nil")
	}
}

func TestDecodeFailureIsDeadLettered(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})

	bad := &nats.Msg{Subject: "store.shopify.acme.1", Data: []byte("not a protobuf \xff\xff"), Header: nats.Header{}}
	bad.Header.Set(jetstream.MsgIDHeader, "bad-1")
	bad.Header.Set("X-Origin", "test")
	if _, err := js.PublishMsg(ctx, bad); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, p, storeEvent("good-1", 1))

	var rec recorder
	cfg := fastConfig("decode")
	cfg.AckWait = 500 * time.Millisecond
	consume(t, js, cfg, rec.handle)
	waitFor(t, "good message", func() bool { return rec.count() == 1 })
	var dl []bus.DeadLetter
	waitFor(t, "dead letter", func() bool { dl = deadLetters(t, js, bus.StreamStore); return len(dl) == 1 })

	d := dl[0]
	if len(d.Reason) < 8 || d.Reason[:8] != "decode: " {
		t.Errorf("reason = %q, want decode: ...", d.Reason)
	}
	if string(d.Data) != string(bad.Data) {
		t.Errorf("data = %q, want the original bytes %q", d.Data, bad.Data)
	}
	if d.Header.Get("X-Origin") != "test" || d.Header.Get(bus.HeaderDLQOrigPrefix+jetstream.MsgIDHeader) != "bad-1" {
		t.Errorf("original headers not kept: %v", d.Header)
	}
	if d.Stream != bus.StreamStore || d.Subject != bad.Subject || d.Consumer != "decode" || d.Deliveries != 1 || d.OriginalSequence != 1 {
		t.Errorf("dead letter = %+v", d)
	}
	// The original is settled: nothing pending, nothing redelivered.
	time.Sleep(time.Second) // past AckWait
	info := consumerInfo(t, js, bus.StreamStore, "decode")
	if info.NumAckPending != 0 || info.NumRedelivered != 0 || info.AckFloor.Stream != 2 {
		t.Errorf("ack pending %d, redelivered %d, ack floor %d; want 0, 0, 2", info.NumAckPending, info.NumRedelivered, info.AckFloor.Stream)
	}
	if n := len(deadLetters(t, js, bus.StreamStore)); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
}

func TestHandlerErrorIsRetriedThenDeadLettered(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	var calls, lastOnes atomic.Int32
	consume(t, js, fastConfig("retry"), func(ctx context.Context, m *bus.Message) error {
		calls.Add(1)
		if m.Last != (m.Deliveries == 3) {
			t.Errorf("delivery %d: Last = %v", m.Deliveries, m.Last)
		}
		if m.Last {
			lastOnes.Add(1)
		}
		return fmt.Errorf("supplier unavailable (attempt %d)", m.Deliveries)
	})
	publish(t, ctx, p, storeEvent("evt-retry", 1))

	var dl []bus.DeadLetter
	waitFor(t, "dead letter", func() bool { dl = deadLetters(t, js, bus.StreamStore); return len(dl) == 1 })
	if got := calls.Load(); got != 3 || lastOnes.Load() != 1 {
		t.Errorf("handler called %d times (%d as the last), want MaxDeliver = 3 (1)", got, lastOnes.Load())
	}
	if dl[0].Reason != "supplier unavailable (attempt 3)" || dl[0].Deliveries != 3 {
		t.Errorf("reason %q after %d deliveries, want the last error after 3", dl[0].Reason, dl[0].Deliveries)
	}
	if dl[0].Header.Get(bus.HeaderEventType) != "StoreOrderCreated" {
		t.Errorf("original headers not kept: %v", dl[0].Header)
	}
	env, err := envelope.Unmarshal(dl[0].Data)
	if err != nil || env.GetEventId() != "evt-retry" {
		t.Errorf("dead letter body: %v, %v", env, err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := calls.Load(); got != 3 {
		t.Errorf("handler called %d times after dead-lettering, want 3", got)
	}
}

// TestDeliveryWithoutOutcomeReachesTheHandler: deliveries that ended with
// no outcome (a process that took the message and died, MaxDeliver times)
// do not dead-letter the message behind the handler's back: the next
// delivery reaches it, marked as the last, so it can record a fact; only
// an error then dead-letters it.
func TestDeliveryWithoutOutcomeReachesTheHandler(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		letters int
	}{
		{name: "fact recorded", err: nil, letters: 0},
		{name: "handler fails", err: errors.New("notifier unavailable"), letters: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := setup(t)
			ctx := context.Background()
			p := bus.NewPublisher(js, bus.PublisherConfig{})
			cfg := fastConfig("crashy")
			cfg.AckWait = 200 * time.Millisecond
			var warm recorder
			stop := consume(t, js, cfg, warm.handle)
			publish(t, ctx, p, storeEvent("warm-up", 1))
			waitFor(t, "warm-up message", func() bool { return warm.count() == 1 })
			stop()

			// A process that takes the message and dies, MaxDeliver times.
			publish(t, ctx, p, storeEvent("evt-crash", 1))
			cons, err := js.Consumer(ctx, bus.StreamStore, "crashy")
			if err != nil {
				t.Fatal(err)
			}
			for range cfg.MaxDeliver {
				msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
				if err != nil {
					t.Fatal(err)
				}
				_ = msg // never acked
			}

			seen := make(chan *bus.Message, 10)
			consume(t, js, cfg, func(_ context.Context, m *bus.Message) error { seen <- m; return tc.err })
			var m *bus.Message
			select {
			case m = <-seen:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler was not called past MaxDeliver")
			}
			if !m.Last || m.Deliveries != 4 || m.Envelope.GetEventId() != "evt-crash" {
				t.Errorf("handled %s on delivery %d, last %v; want evt-crash on 4, last", m.Envelope.GetEventId(), m.Deliveries, m.Last)
			}
			if tc.letters == 0 {
				waitFor(t, "ack", func() bool {
					info := consumerInfo(t, js, bus.StreamStore, "crashy")
					return info.NumAckPending == 0 && info.AckFloor.Stream == 2
				})
				if n := len(deadLetters(t, js, bus.StreamStore)); n != 0 {
					t.Errorf("%d dead letters, want none", n)
				}
				return
			}
			var dl []bus.DeadLetter
			waitFor(t, "dead letter", func() bool { dl = deadLetters(t, js, bus.StreamStore); return len(dl) == 1 })
			if dl[0].Reason != tc.err.Error() || dl[0].Deliveries != 4 || dl[0].OriginalSequence != 2 {
				t.Errorf("reason %q after %d deliveries, want %q after 4", dl[0].Reason, dl[0].Deliveries, tc.err)
			}
		})
	}
}

func TestPermanentErrorIsDeadLetteredAtOnce(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	var calls atomic.Int32
	consume(t, js, fastConfig("permanent"), func(ctx context.Context, m *bus.Message) error {
		calls.Add(1)
		return bus.Permanent(errors.New("SKU_NOT_MAPPED"))
	})
	publish(t, ctx, p, storeEvent("evt-perm", 1))
	var dl []bus.DeadLetter
	waitFor(t, "dead letter", func() bool { dl = deadLetters(t, js, bus.StreamStore); return len(dl) == 1 })
	if calls.Load() != 1 || dl[0].Reason != "SKU_NOT_MAPPED" || dl[0].Deliveries != 1 {
		t.Errorf("calls %d, reason %q, deliveries %d; want 1, SKU_NOT_MAPPED, 1", calls.Load(), dl[0].Reason, dl[0].Deliveries)
	}
}

func TestPanicIsAnError(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	var rec recorder
	consume(t, js, fastConfig("panic"), func(ctx context.Context, m *bus.Message) error {
		switch {
		case m.Envelope.GetEventId() == "evt-always":
			panic("always")
		case m.Deliveries == 1:
			panic("first time")
		}
		return rec.handle(ctx, m)
	})
	publish(t, ctx, p, storeEvent("evt-once", 1))
	publish(t, ctx, p, storeEvent("evt-always", 2))
	waitFor(t, "retried message", func() bool { return rec.count() == 1 })
	if m := rec.msgs[0]; m.Envelope.GetEventId() != "evt-once" || m.Deliveries != 2 {
		t.Errorf("handled %s on delivery %d, want evt-once on 2", m.Envelope.GetEventId(), m.Deliveries)
	}
	var dl []bus.DeadLetter
	waitFor(t, "dead letter", func() bool { dl = deadLetters(t, js, bus.StreamStore); return len(dl) == 1 })
	if want := bus.ErrPanic.Error() + ": always"; dl[0].Reason != want {
		t.Errorf("reason %q, want %q", dl[0].Reason, want)
	}
}

func TestPoisonMessageDoesNotBlock(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	cfg := fastConfig("poison")
	cfg.Backoff = []time.Duration{time.Hour} // the poison would block for an hour
	var rec recorder
	consume(t, js, cfg, func(ctx context.Context, m *bus.Message) error {
		if m.Envelope.GetEventId() == "poison" {
			return errors.New("cannot handle")
		}
		return rec.handle(ctx, m)
	})
	publish(t, ctx, p, storeEvent("poison", 1))
	for i := range 5 {
		publish(t, ctx, p, storeEvent(fmt.Sprintf("next-%d", i), 1)) // same order, too
	}
	waitFor(t, "messages after the poison", func() bool { return rec.count() == 5 })
}

func TestCancelStopsAndCompletesInFlight(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	started := make(chan struct{})
	release := make(chan struct{})
	var handled atomic.Int32
	stop := consume(t, js, fastConfig("shutdown"), func(ctx context.Context, m *bus.Message) error {
		if m.Envelope.GetEventId() == "slow" {
			close(started)
			<-release
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		handled.Add(1)
		return nil
	})
	publish(t, ctx, p, storeEvent("slow", 1))
	publish(t, ctx, p, storeEvent("queued", 2))
	<-started

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Consume returned while a handler was running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Consume did not return after the handler finished")
	}
	if handled.Load() != 1 {
		t.Errorf("handled %d messages, want only the in-flight one", handled.Load())
	}
	info := consumerInfo(t, js, bus.StreamStore, "shutdown")
	if info.AckFloor.Stream != 1 {
		t.Errorf("ack floor %d, want 1: the in-flight message is acked", info.AckFloor.Stream)
	}

	// The message handed back is handled at once by the next run, not
	// after AckWait.
	var rec recorder
	begin := time.Now()
	consume(t, js, fastConfig("shutdown"), rec.handle)
	waitFor(t, "queued message", func() bool { return rec.count() == 1 })
	if rec.ids()[0] != "queued" {
		t.Errorf("next run handled %v, want [queued]", rec.ids())
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("queued message redelivered after %s, want at once", d)
	}
}

func TestShutdownTimeoutCancelsHandler(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	cfg := fastConfig("stuck")
	cfg.ShutdownTimeout = 100 * time.Millisecond
	started := make(chan struct{})
	stop := consume(t, js, cfg, func(ctx context.Context, m *bus.Message) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	publish(t, ctx, p, storeEvent("stuck", 1))
	<-started
	begin := time.Now()
	stop()
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("stop took %s with a 100ms shutdown timeout", d)
	}
	if n := len(deadLetters(t, js, bus.StreamStore)); n != 0 {
		t.Errorf("%d dead letters: a handler canceled by shutdown is not the message's fault", n)
	}
}

func TestRestartResumesFromDurablePosition(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	for i := range 3 {
		publish(t, ctx, p, storeEvent(fmt.Sprintf("a-%d", i), i))
	}
	var first recorder
	stop := consume(t, js, fastConfig("resume"), first.handle)
	waitFor(t, "first run", func() bool { return first.count() == 3 })
	stop()

	for i := range 2 {
		publish(t, ctx, p, storeEvent(fmt.Sprintf("b-%d", i), i))
	}
	var second recorder
	consume(t, js, fastConfig("resume"), second.handle)
	waitFor(t, "second run", func() bool { return second.count() == 2 })
	time.Sleep(300 * time.Millisecond)
	if got, want := second.ids(), []string{"b-0", "b-1"}; !slices.Equal(got, want) {
		t.Errorf("second run handled %v, want %v", got, want)
	}
}

func TestConcurrencyKeepsPerOrderOrder(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	const orders, perOrder = 8, 25
	var batch []bus.Outgoing
	for i := range perOrder {
		for o := range orders {
			env := storeEvent(fmt.Sprintf("o%d-%02d", o, i), o)
			batch = append(batch, bus.Outgoing{Subject: bus.StoreSubject(env.GetOrderId()), Envelope: env})
		}
	}
	if err := p.PublishBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("parallel")
	cfg.Concurrency = 4
	var (
		mu      sync.Mutex
		seen    = map[string][]string{}
		running atomic.Int32
		peak    atomic.Int32
	)
	consume(t, js, cfg, func(ctx context.Context, m *bus.Message) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		seen[m.Envelope.GetOrderId()] = append(seen[m.Envelope.GetOrderId()], m.Envelope.GetEventId())
		return nil
	})
	waitFor(t, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ids := range seen {
			n += len(ids)
		}
		return n == orders*perOrder
	})
	mu.Lock()
	defer mu.Unlock()
	for order, ids := range seen {
		if !slices.IsSorted(ids) {
			t.Errorf("order %s handled out of order: %v", order, ids)
		}
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d handler ran at once, want parallelism across orders", peak.Load())
	}
}

func TestMiddlewareWrapsHandler(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	var order []string
	var mu sync.Mutex
	mw := func(name string) bus.Middleware {
		return func(next bus.Handler) bus.Handler {
			return func(ctx context.Context, m *bus.Message) error {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return next(ctx, m)
			}
		}
	}
	cfg := fastConfig("middleware")
	cfg.Middleware = []bus.Middleware{mw("outer"), mw("inner")}
	var rec recorder
	consume(t, js, cfg, rec.handle)
	publish(t, ctx, p, storeEvent("evt-mw", 1))
	waitFor(t, "message", func() bool { return rec.count() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"outer", "inner"}) {
		t.Errorf("middleware ran %v, want [outer inner]", order)
	}
}

func TestEnsureStreams(t *testing.T) {
	js := setup(t) // creates them once
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	for _, want := range bus.StreamConfigs(bus.Config{}) {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		got := s.CachedInfo().Config
		if got.Storage != jetstream.FileStorage || got.PersistMode != jetstream.DefaultPersistMode ||
			!slices.Equal(got.Subjects, want.Subjects) || got.Duplicates != bus.DefaultDuplicateWindow {
			t.Errorf("stream %s: storage %v, persist %v, subjects %v, duplicates %s", want.Name, got.Storage, got.PersistMode, got.Subjects, got.Duplicates)
		}
	}
	if err := (bus.Config{Replicas: -1, DuplicateWindow: 48 * time.Hour, DeadLetterMaxAge: time.Hour}).Validate(); err == nil {
		t.Error("Validate accepted a bad config")
	}
}

func TestConsumerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  bus.ConsumerConfig
		ok   bool
	}{
		{"minimal", bus.ConsumerConfig{Stream: bus.StreamStore, Durable: "orders"}, true},
		{"no stream", bus.ConsumerConfig{Durable: "orders"}, false},
		{"no durable", bus.ConsumerConfig{Stream: bus.StreamStore}, false},
		{"dotted durable", bus.ConsumerConfig{Stream: bus.StreamStore, Durable: "orders.v1"}, false},
		{"negative backoff", bus.ConsumerConfig{Stream: bus.StreamStore, Durable: "o", Backoff: []time.Duration{-1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad sku")
	err := fmt.Errorf("place order: %w", bus.Permanent(base))
	if !bus.IsPermanent(err) || !errors.Is(err, base) {
		t.Errorf("IsPermanent %v, Is(base) %v; want both", bus.IsPermanent(err), errors.Is(err, base))
	}
	if bus.IsPermanent(base) || bus.Permanent(nil) != nil {
		t.Error("plain error is permanent, or Permanent(nil) is not nil")
	}
}

func TestConsumeReturnsWhenConsumerDeleted(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(ctx, js, fastConfig("deleted"), func(context.Context, *bus.Message) error { return nil })
	}()
	waitFor(t, "consumer created", func() bool {
		_, err := js.Consumer(ctx, bus.StreamStore, "deleted")
		return err == nil
	})
	if err := js.DeleteConsumer(ctx, bus.StreamStore, "deleted"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Consume returned nil after its consumer was deleted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume still running after its consumer was deleted")
	}
}

// TestRetryLaterIsNeverDeadLettered: a RetryLater error is redelivered
// after its delay even on and past the last delivery, until the handler
// succeeds; nothing is dead-lettered.
func TestRetryLaterIsNeverDeadLettered(t *testing.T) {
	js := setup(t)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	cfg := fastConfig("later")
	started := make(chan struct{})
	cfg.Started = func() { close(started) }
	var calls, lastOnes atomic.Int32
	consume(t, js, cfg, func(ctx context.Context, m *bus.Message) error {
		calls.Add(1)
		if m.Last {
			lastOnes.Add(1)
		}
		if m.Deliveries < 5 { // MaxDeliver is 3
			return bus.RetryLater(errors.New("peer down"), 20*time.Millisecond)
		}
		return nil
	})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Started was not called")
	}
	publish(t, ctx, p, storeEvent("evt-later", 1))
	waitFor(t, "ack", func() bool {
		info := consumerInfo(t, js, bus.StreamStore, "later")
		return info.NumAckPending == 0 && info.AckFloor.Stream == 1
	})
	if calls.Load() != 5 || lastOnes.Load() != 3 {
		t.Errorf("handler called %d times (%d as the last), want 5 (3)", calls.Load(), lastOnes.Load())
	}
	if n := len(deadLetters(t, js, bus.StreamStore)); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}
