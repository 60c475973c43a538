package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Dedupe remembers the keys of deliveries already stored, for longer than
// the platforms retry (JetStream's duplicate window is shorter).
type Dedupe interface {
	// Seen reports whether key was remembered (and has not expired).
	Seen(ctx context.Context, key string) (bool, error)
	// Remember records key; remembering it again is not an error.
	Remember(ctx context.Context, key string) error
}

// Defaults of KVDedupeConfig.
const (
	// DefaultDedupeBucket is the key-value bucket of delivery records.
	DefaultDedupeBucket = "dropsync_webhook_dedupe"
	// DefaultDedupeTTL is how long a delivery is remembered: above
	// Shopify's 4 h and Wix's roughly 2 days of retries, with a day of
	// margin for deliveries that arrive late.
	DefaultDedupeTTL = 72 * time.Hour
)

// KVDedupeConfig configures NewKVDedupe.
type KVDedupeConfig struct {
	// Bucket names the key-value bucket. Default DefaultDedupeBucket.
	Bucket string
	// TTL is how long a key is remembered (the bucket's max age); it must
	// exceed the longest platform retry window. Default DefaultDedupeTTL.
	TTL time.Duration
	// Replicas of the bucket: 1 embedded, 3 on a cluster. Default 1.
	Replicas int
}

// KVDedupe is a Dedupe in a JetStream key-value bucket whose TTL expires
// the records: durable, shared by every replica of a connector.
type KVDedupe struct {
	kv jetstream.KeyValue
}

// NewKVDedupe opens the bucket, creating or updating it to cfg.
func NewKVDedupe(ctx context.Context, js jetstream.JetStream, cfg KVDedupeConfig) (*KVDedupe, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultDedupeBucket
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultDedupeTTL
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "dropsync webhook deliveries already stored, by platform delivery id",
		TTL:         cfg.TTL,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("dedupe bucket %s: %w", cfg.Bucket, err)
	}
	return &KVDedupe{kv: kv}, nil
}

// kvKey maps any delivery key to a valid key-value key,
// "d.<platform>.<hash>": the platform is the delivery key's first
// '/'-separated part (every connector's keys start with its platform's
// word), so each connector's NATS user may read and write its own
// platform's records only (DedupeKeys, pkg/natsperm). Records written
// before the platform was in the key ("d.<hash>") are not read: after an
// upgrade, a redelivery of an older delivery is dropped by JetStream's
// duplicate window or by the order aggregate's event id instead.
func kvKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	platform, _, _ := strings.Cut(key, "/")
	if !keyToken(platform) {
		platform = "_"
	}
	return "d." + platform + "." + hex.EncodeToString(sum[:20])
}

// DedupeKeys is the key filter of platform's records in the dedupe
// bucket: what its connector's NATS user may read and write.
func DedupeKeys(platform string) string { return "d." + platform + ".*" }

// keyToken reports whether s is a non-empty key token of letters, digits,
// '-' and '_'.
func keyToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Seen implements Dedupe.
func (d *KVDedupe) Seen(ctx context.Context, key string) (bool, error) {
	_, err := d.kv.Get(ctx, kvKey(key))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("dedupe seen: %w", err)
	}
}

// Remember implements Dedupe. The value is the time it was recorded, for
// operators.
func (d *KVDedupe) Remember(ctx context.Context, key string) error {
	if _, err := d.kv.Put(ctx, kvKey(key), []byte(strconv.FormatInt(time.Now().Unix(), 10))); err != nil {
		return fmt.Errorf("dedupe remember: %w", err)
	}
	return nil
}
