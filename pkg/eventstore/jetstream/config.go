package jetstream

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for [Config].
const (
	// DefaultStream is the JetStream stream holding every event stream.
	DefaultStream = "EVENTSTORE"
	// DefaultSubjectPrefix is the first token of every event's subject.
	DefaultSubjectPrefix = "es"
	// DefaultDuplicateWindow is how long the server remembers event ids
	// (Nats-Msg-Id) to drop duplicates. See [Config.DuplicateWindow].
	DefaultDuplicateWindow = 10 * time.Minute
	// DefaultTipCacheSize is how many streams' last revisions a store
	// remembers.
	DefaultTipCacheSize = 100_000
	// DefaultMaxConcurrentBatches bounds a store's atomic batches in
	// flight, below the server's limit of 50 per stream.
	DefaultMaxConcurrentBatches = 32
)

// MaxAppendEvents is the most events one append can hold: the server's
// limit on an atomic batch (nats-server's default max_batch_size).
const MaxAppendEvents = 1000

// Config configures a [Store]. The zero value is usable: every field has a
// default.
type Config struct {
	// Stream is the JetStream stream's name; DefaultStream when empty.
	Stream string
	// SubjectPrefix starts every subject, "<prefix>.<category>.<rest>"
	// (see [Subject]); the stream binds "<prefix>.>". DefaultSubjectPrefix
	// when empty. It must be a literal subject and not overlap another
	// stream's subjects.
	SubjectPrefix string
	// Replicas of the stream in a cluster; 1 when zero.
	Replicas int
	// Storage of the stream; the zero value is file storage, the only one
	// that survives a restart.
	Storage jetstream.StorageType
	// DuplicateWindow is how long the server remembers event ids to drop a
	// re-published event; DefaultDuplicateWindow (10m) when zero.
	//
	// It need not outlive the platforms' webhook retry windows (Shopify
	// retries for hours): appends at an exact revision or at NoStream are
	// idempotent for ever, since a conflicting append checks whether the
	// events at the expected revision are the ones being appended (as
	// EventStoreDB does), and the order aggregate drops a replayed platform
	// event anyway (deterministic event ids, state checks). The window only
	// guards appends at Any and retries of an append in flight. The server
	// keeps the window's ids in memory (of the order of 150 bytes each), so
	// a day at 1,000 events/s would hold 86M ids, about 13 GB; ten minutes,
	// 600k ids, about 90 MB.
	DuplicateWindow time.Duration
	// TipCacheSize is how many streams' last revision and sequence the store
	// remembers, so appends need not look them up; DefaultTipCacheSize when
	// zero, none when negative.
	TipCacheSize int
	// MaxPackedBytes is the largest multi-event append, in bytes of packed
	// events, written as one message; larger ones are written as an atomic
	// batch, which on R1 file storage costs 10 to 40 single appends (the
	// server stages it in a file store of its own). Zero means the server's
	// max payload less 4 KiB for headers; negative, never pack (tests).
	MaxPackedBytes int
	// MaxConcurrentBatches bounds the atomic batches in flight;
	// DefaultMaxConcurrentBatches when zero.
	MaxConcurrentBatches int
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.TipCacheSize == 0 {
		c.TipCacheSize = DefaultTipCacheSize
	}
	if c.MaxConcurrentBatches == 0 {
		c.MaxConcurrentBatches = DefaultMaxConcurrentBatches
	}
	return c
}

// Validate reports every problem with c, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.ContainsAny(c.Stream, ". *>\t\r\n/\\") {
		errs = append(errs, fmt.Errorf("stream name %q has a character JetStream forbids", c.Stream))
	}
	if !literalSubject(c.SubjectPrefix) {
		errs = append(errs, fmt.Errorf("subject prefix %q is not a literal subject", c.SubjectPrefix))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d not in 1..5", c.Replicas))
	}
	if c.Storage != jetstream.FileStorage && c.Storage != jetstream.MemoryStorage {
		errs = append(errs, fmt.Errorf("unknown storage %v", c.Storage))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, errors.New("negative duplicate window"))
	}
	if c.MaxConcurrentBatches < 0 {
		errs = append(errs, errors.New("negative max concurrent batches"))
	}
	return errors.Join(errs...)
}

// literalSubject reports whether s is dot-separated non-empty safe tokens.
func literalSubject(s string) bool {
	if s == "" {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || !safe(tok) {
			return false
		}
	}
	return true
}
