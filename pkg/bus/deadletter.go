package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"

	"github.com/dropsync/dropsync/pkg/metrics"
)

// DeadLetter is one message in the DEAD_LETTER stream.
type DeadLetter struct {
	// Sequence in the DEAD_LETTER stream.
	Sequence uint64
	// Time the dead letter was stored.
	Time time.Time
	// Reason, from HeaderDLQReason.
	Reason string
	// Stream, Subject and Consumer the message came from and gave up on.
	Stream, Subject, Consumer string
	// Deliveries to Consumer before it gave up.
	Deliveries uint64
	// OriginalSequence is the message's sequence in Stream.
	OriginalSequence uint64
	// Header holds the original headers plus the Dropsync-Dlq-* ones.
	Header nats.Header
	// Data is the original body, byte for byte.
	Data []byte
}

// DeadLetters reads up to limit dead letters (0: all) of stream, oldest
// first; an empty stream reads those of every stream. It is meant for
// tests and operators' tools, not for a hot path: it holds what it reads.
func DeadLetters(ctx context.Context, js jetstream.JetStream, stream string, limit int) ([]DeadLetter, error) {
	filter := KindDeadLetter + ".>"
	if stream != "" {
		filter = DeadLetterSubject(stream)
	}
	s, err := js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var total uint64
	for _, n := range info.State.Subjects {
		total += n
	}
	if limit > 0 && uint64(limit) < total {
		total = uint64(limit)
	}
	if total == 0 {
		return nil, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, total)
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(int(min(total-uint64(len(out)), 256)), jetstream.FetchContext(ctx))
		if err != nil {
			return out, fmt.Errorf("dead letters: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return out, fmt.Errorf("dead letters: %w", err)
			}
			h := msg.Headers()
			d := DeadLetter{
				Sequence: meta.Sequence.Stream,
				Time:     meta.Timestamp,
				Reason:   h.Get(HeaderDLQReason),
				Stream:   h.Get(HeaderDLQStream),
				Subject:  h.Get(HeaderDLQSubject),
				Consumer: h.Get(HeaderDLQConsumer),
				Header:   h,
				Data:     msg.Data(),
			}
			d.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDLQDeliveries), 10, 64)
			d.OriginalSequence, _ = strconv.ParseUint(h.Get(HeaderDLQSequence), 10, 64)
			out = append(out, d)
			if meta.NumPending == 0 {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return out, fmt.Errorf("dead letters: %w", err)
		}
		if got == 0 {
			return out, nil // removed meanwhile (max age)
		}
	}
	return out, nil
}

// DefaultDeadLetterEvery is how often WatchDeadLetters reads the depth.
const DefaultDeadLetterEvery = 15 * time.Second

// WatchDeadLetters keeps the dead-letter depth gauge
// (metrics.DeadLetterDepth, per origin stream) current: every period
// (DefaultDeadLetterEvery when zero) it reads how many messages the
// DEAD_LETTER stream holds under each "dlq.<stream>", until ctx ends. The
// event streams are reported at zero when they have none, so an alert
// has a series to watch. One service runs it (the orders service), so the
// figure is not exported several times. A failed read keeps the last
// figures and is retried at the next period.
func WatchDeadLetters(ctx context.Context, js jetstream.JetStream, every time.Duration) error {
	if every <= 0 {
		every = DefaultDeadLetterEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		readDeadLetterDepth(ctx, js)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func readDeadLetterDepth(ctx context.Context, js jetstream.JetStream) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(KindDeadLetter+".>"))
	if err != nil {
		return
	}
	depth := map[string]int64{StreamStore: 0, StreamSupplier: 0, StreamOrder: 0}
	for subject, n := range info.State.Subjects {
		depth[strings.TrimPrefix(subject, KindDeadLetter+".")] += int64(n)
	}
	for stream, n := range depth {
		metrics.DeadLetterDepthGauge.Set(n, attribute.String(metrics.LabelStream, stream))
	}
}
