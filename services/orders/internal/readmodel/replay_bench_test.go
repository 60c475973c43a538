package readmodel_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// BenchmarkReplay rebuilds every order's status from the event store: 1M
// events (100k orders of 10 events each, one event per message), replayed
// into a fresh read model, against a raw ordered pull consumer reading the
// same stream in the same run (SPEC: replay >= 0.5 x raw pull-consume, 1M
// events with a bounded memory). It reports the peak heap during the replay
// next to what the model itself holds: a replay that buffered the events
// would need hundreds of MB more. The server syncs lazily here, only to
// fill the stream quickly; reads do not fsync.
func BenchmarkReplay(b *testing.B) {
	const orders, perOrder = 100_000, 10
	url := serverProcess(b)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	store, err := jsstore.New(ctx, js, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	fill(b, store, orders, perOrder)

	b.ResetTimer()
	for range b.N {
		// Baseline: every message of the stream through a raw ordered consumer.
		start := time.Now()
		c, err := js.OrderedConsumer(ctx, "EVENTSTORE", jetstream.OrderedConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		it, err := c.Messages(jetstream.PullMaxMessages(1000))
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < orders*perOrder; n++ {
			if _, err := it.Next(); err != nil {
				b.Fatal(err)
			}
		}
		it.Stop()
		raw := float64(orders*perOrder) / time.Since(start).Seconds()

		// The read model's replay, with the heap sampled as it goes.
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		model := readmodel.New()
		start = time.Now()
		n := 0
		for rec, err := range store.ReadAll(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: readmodel.StreamPrefix}) {
			if err != nil {
				b.Fatal(err)
			}
			if err := model.ApplyRecorded(rec); err != nil {
				b.Fatal(err)
			}
			n++
		}
		replay := float64(n) / time.Since(start).Seconds()
		close(stop)
		wg.Wait()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if n != orders*perOrder || model.Len() != orders {
			b.Fatalf("replayed %d events into %d orders", n, model.Len())
		}
		b.ReportMetric(raw, "raw-consume-msgs/s")
		b.ReportMetric(replay, "replay-events/s")
		b.ReportMetric(replay/raw, "replay/raw")
		b.ReportMetric(float64(peak.Load()-base.HeapInuse)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(after.HeapInuse-base.HeapInuse)/(1<<20), "model-MiB")
	}
}

// serverProcess runs the NATS server in a child process (this test binary
// again, see TestMain), so the heap measured is the replay's alone, not the
// server's block cache. It returns the server's URL.
func serverProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"="+b.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("server process: %v", err)
	}
	return strings.TrimSpace(line)
}

// serverEnv, when set to a folder, makes the test binary a NATS server
// (fsync relaxed: the benchmark fills the stream fast; reads do not fsync)
// that prints its URL and runs until interrupted.
const serverEnv = "DROPSYNC_BENCH_NATS_SERVER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serverEnv); dir != "" {
		srv, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: dir, RelaxedSync: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(srv.URL())
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		srv.Stop()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fill appends orders of perOrder events each, one event per append (one
// message each), from several goroutines.
func fill(b *testing.B, store eventstore.Store, orders, perOrder int) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= orders {
					return
				}
				id := fmt.Sprintf("shopify:replay-%d:%d", i%25, 7_000_000+i)
				for k := range perOrder {
					env := &eventsv1.Envelope{EventId: envelope.ID(id, fmt.Sprint(k)), OrderId: id, OccurredAt: timestamppb.Now()}
					if k == 0 {
						env.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: &eventsv1.StoreOrder{StoreOrderId: id, Name: "#1"}}}
					} else {
						env.Event = &eventsv1.Envelope_OrderStatusChanged{OrderStatusChanged: &eventsv1.OrderStatusChanged{From: eventsv1.Tab(k - 1), To: eventsv1.Tab(k%8 + 1)}}
					}
					data, err := envelope.Marshal(env)
					if err != nil {
						errs <- err
						return
					}
					expected := eventstore.NoStream()
					if k > 0 {
						expected = eventstore.Exact(uint64(k - 1))
					}
					if _, err := store.Append(ctx, readmodel.StreamPrefix+id, expected, eventstore.EventData{ID: env.GetEventId(), Type: envelope.Type(env), Data: data}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
