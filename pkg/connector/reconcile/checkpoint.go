package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Checkpoints keeps each reconciler's position: the newest change it has
// published.
type Checkpoints interface {
	// Load returns the checkpoint of name; ok is false when there is none.
	Load(ctx context.Context, name string) (t time.Time, ok bool, err error)
	// Save stores the checkpoint of name.
	Save(ctx context.Context, name string, t time.Time) error
}

// DefaultBucket is the key-value bucket of reconciliation checkpoints.
const DefaultBucket = "dropsync_reconcile"

// KVCheckpoints keeps checkpoints in a JetStream key-value bucket, so they
// survive restarts and are shared by replicas.
type KVCheckpoints struct {
	kv jetstream.KeyValue
}

// NewKVCheckpoints opens the bucket (DefaultBucket when empty), creating it
// if needed.
func NewKVCheckpoints(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*KVCheckpoints, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "dropsync reconciliation checkpoints: newest store change published, per store",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint bucket %s: %w", bucket, err)
	}
	return &KVCheckpoints{kv: kv}, nil
}

// Load implements Checkpoints.
func (c *KVCheckpoints) Load(ctx context.Context, name string) (time.Time, bool, error) {
	e, err := c.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("load checkpoint %s: %w", name, err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("load checkpoint %s: %w", name, err)
	}
	return t, true, nil
}

// Save implements Checkpoints.
func (c *KVCheckpoints) Save(ctx context.Context, name string, t time.Time) error {
	if _, err := c.kv.Put(ctx, name, []byte(t.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", name, err)
	}
	return nil
}

// MemoryCheckpoints keeps checkpoints in memory, for tests and tools.
type MemoryCheckpoints struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// Load implements Checkpoints.
func (c *MemoryCheckpoints) Load(_ context.Context, name string) (time.Time, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[name]
	return t, ok, nil
}

// Save implements Checkpoints.
func (c *MemoryCheckpoints) Save(_ context.Context, name string, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]time.Time)
	}
	c.m[name] = t
	return nil
}
