// Package ledger keeps the notifier's decisions in a JetStream key-value
// bucket (file storage): one key per shipment, written once with
// create-if-absent, so that retries, restarts and several notifier
// replicas all see the first decision and no other.
//
// Keys are "<platform>.<store>.<store order id>.<shipment>": the order id
// parts are already restricted to letters, digits, '-' and '_' (see
// order.ParseID); the shipment id, which comes from the supplier, is
// encoded with EncodeToken. So a store's or an order's records are one
// key filter away, and `nats kv get` reads them.
//
// Values are JSON (format version 1), readable with the nats CLI. A record
// changes once after it is created: when its ShippingConfirmationIssued
// event is stored on the bus, published_at is set, by compare-and-set.
package ledger

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

// DefaultBucket is the default name of the ledger bucket. Renaming the
// bucket of a running deployment starts an empty ledger: every shipment
// would be decided again.
const DefaultBucket = "dropsync_confirmations"

// History is how many revisions of a record the bucket keeps: the decision
// and its publication mark, with room to spare, for audit.
const History = 4

// readAttempts bounds the reads of a record another caller has just
// created, in case the replica answering lags the write.
const readAttempts = 10

// markAttempts bounds compare-and-set rounds of MarkPublished.
const markAttempts = 5

// Config shapes the bucket.
type Config struct {
	// Bucket is the bucket name; DefaultBucket when empty.
	Bucket string
	// Replicas of the bucket's stream: 1 embedded, 3 on a cluster.
	Replicas int
}

// KV is the ledger over a JetStream key-value bucket. It implements
// app.Ledger and is safe for concurrent use.
type KV struct {
	kv  jetstream.KeyValue
	log *slog.Logger
}

var _ app.Ledger = (*KV)(nil)

// Open creates the bucket, or updates it to cfg, and returns the ledger.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*KV, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "dropsync notifier: one shipping-confirmation decision per shipment",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		History:     History,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger bucket %s: %w", cfg.Bucket, err)
	}
	return &KV{kv: kv, log: log}, nil
}

// Create implements app.Ledger with kv.Create: it fails when the key
// exists, and then the existing record is read and returned.
func (l *KV) Create(ctx context.Context, r app.Record) (app.Record, bool, error) {
	key, err := Key(r.OrderID, r.ShipmentID)
	if err != nil {
		return app.Record{}, false, err
	}
	val, err := encode(r)
	if err != nil {
		return app.Record{}, false, err
	}
	_, err = l.kv.Create(ctx, key, val)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return app.Record{}, false, unavailable("create "+key, err)
	}
	for attempt := 1; ; attempt++ {
		got, err := l.get(ctx, key)
		switch {
		case err == nil:
			return got, false, nil
		case !errors.Is(err, app.ErrNotFound):
			return app.Record{}, false, err
		case attempt == readAttempts:
			return app.Record{}, false, unavailable("read "+key+" after it existed", err)
		}
		select {
		case <-ctx.Done():
			return app.Record{}, false, ctx.Err()
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// Get implements app.Ledger.
func (l *KV) Get(ctx context.Context, orderID, shipmentID string) (app.Record, error) {
	key, err := Key(orderID, shipmentID)
	if err != nil {
		return app.Record{}, err
	}
	return l.get(ctx, key)
}

func (l *KV) get(ctx context.Context, key string) (app.Record, error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return app.Record{}, fmt.Errorf("%w: %s", app.ErrNotFound, key)
	}
	if err != nil {
		return app.Record{}, unavailable("get "+key, err)
	}
	return decode(e.Value())
}

// MarkPublished implements app.Ledger by compare-and-set on the record's
// revision, re-reading it when another caller changed it first.
func (l *KV) MarkPublished(ctx context.Context, orderID, shipmentID string, at time.Time) (app.Record, error) {
	key, err := Key(orderID, shipmentID)
	if err != nil {
		return app.Record{}, err
	}
	for range markAttempts {
		e, err := l.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return app.Record{}, fmt.Errorf("%w: %s", app.ErrNotFound, key)
		}
		if err != nil {
			return app.Record{}, unavailable("get "+key, err)
		}
		r, err := decode(e.Value())
		if err != nil {
			return app.Record{}, err
		}
		if !r.PublishedAt.IsZero() {
			return r, nil
		}
		r.PublishedAt = at
		val, err := encode(r)
		if err != nil {
			return app.Record{}, err
		}
		_, err = l.kv.Update(ctx, key, val, e.Revision())
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return app.Record{}, unavailable("mark "+key, err)
		}
	}
	return app.Record{}, unavailable("mark "+key, errors.New("changed concurrently too often"))
}

// List implements app.Ledger: it lists the keys the filter matches, sorts
// them and reads the page's records. Listing costs one pass over the
// filter's keys (headers only) per page; the page token is the last key of
// the page, base64url-encoded.
func (l *KV) List(ctx context.Context, f app.Filter, pageToken string, n int) ([]app.Record, string, error) {
	filter, prefix, err := keyFilter(f)
	if err != nil {
		return nil, "", err
	}
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || !strings.HasPrefix(string(b), prefix) || !validKey(string(b)) {
			return nil, "", fmt.Errorf("%w for this filter", app.ErrBadPageToken)
		}
		after = string(b)
	}
	lister, err := l.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, "", unavailable("list "+filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		if k > after {
			keys = append(keys, k)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	slices.Sort(keys)
	next := ""
	if len(keys) > n {
		keys = keys[:n]
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[n-1]))
	}
	out := make([]app.Record, 0, len(keys))
	for _, k := range keys {
		r, err := l.get(ctx, k)
		if errors.Is(err, app.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, next, nil
}

// Watch implements app.Ledger with a watcher on every key.
func (l *KV) Watch(ctx context.Context, fn func(app.Record)) error {
	w, err := l.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return unavailable("watch", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return unavailable("watch", errors.New("watcher stopped"))
			}
			if e == nil { // every existing record was delivered
				continue
			}
			r, err := decode(e.Value())
			if err != nil {
				l.log.WarnContext(ctx, "ledger record does not decode", "key", e.Key(), "err", err)
				continue
			}
			fn(r)
		}
	}
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", app.ErrLedgerUnavailable, op, err)
}

// Key returns the ledger key of a shipment:
// "<platform>.<store>.<store order id>.<EncodeToken(shipment id)>".
func Key(orderID, shipmentID string) (string, error) {
	id, err := order.ParseID(orderID)
	if err != nil {
		return "", err
	}
	return orderPrefix(id) + EncodeToken(shipmentID), nil
}

func orderPrefix(id order.ID) string {
	return order.PlatformWord(id.Platform) + "." + id.Store + "." + id.StoreOrderID + "."
}

// keyFilter returns the key filter of f and the prefix every matching key has.
func keyFilter(f app.Filter) (filter, prefix string, err error) {
	switch {
	case f.OrderID != "":
		id, err := order.ParseID(f.OrderID)
		if err != nil {
			return "", "", err
		}
		p := orderPrefix(id)
		return p + "*", p, nil
	case f.Store != "":
		platform, store, err := order.ParseStoreKey(f.Store)
		if err != nil {
			return "", "", err
		}
		p := order.PlatformWord(platform) + "." + store + "."
		return p + ">", p, nil
	}
	return jetstream.AllKeys, "", nil
}

// escape starts an escaped byte in a key token ("=2F" is '/'); the token
// made of escape alone stands for the empty string.
const escape = '='

const hexDigits = "0123456789ABCDEF"

// safe reports whether b stands for itself in a token.
func safe(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// EncodeToken turns any string into one valid, non-empty KV key token,
// reversibly: letters, digits, '-' and '_' stand for themselves, any other
// byte (including '.', '*', '>', '/', '=' itself and non-ASCII) becomes
// '=' and two upper-case hex digits, and "" becomes "=".
func EncodeToken(s string) string {
	if s == "" {
		return string(escape)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escape)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// validKey reports whether k has the shape of a ledger key.
func validKey(k string) bool {
	toks := strings.Split(k, ".")
	if len(toks) != 4 {
		return false
	}
	for _, t := range toks {
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if !safe(t[i]) && t[i] != escape {
				return false
			}
		}
	}
	return true
}

// value is a record as stored (format version 1).
type value struct {
	Version       int        `json:"v"`
	OrderID       string     `json:"order_id"`
	ShipmentID    string     `json:"shipment_id"`
	Store         string     `json:"store"`
	Decision      string     `json:"decision"`
	Channel       string     `json:"channel,omitempty"`
	Reason        string     `json:"reason"`
	RequestID     string     `json:"request_id"`
	DecidedAt     time.Time  `json:"decided_at"`
	OrderRevision uint64     `json:"order_revision"`
	EventID       string     `json:"event_id,omitempty"`
	PublishedAt   *time.Time `json:"published_at,omitempty"`
}

const formatVersion = 1

func encode(r app.Record) ([]byte, error) {
	v := value{
		Version:       formatVersion,
		OrderID:       r.OrderID,
		ShipmentID:    r.ShipmentID,
		Store:         r.Store,
		Decision:      r.Decision.String(),
		Channel:       r.Channel,
		Reason:        r.Reason,
		RequestID:     r.RequestID,
		DecidedAt:     r.DecidedAt.UTC(),
		OrderRevision: r.OrderRevision,
		EventID:       r.EventID,
	}
	if !r.PublishedAt.IsZero() {
		t := r.PublishedAt.UTC()
		v.PublishedAt = &t
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode ledger record: %w", err)
	}
	return b, nil
}

func decode(b []byte) (app.Record, error) {
	var v value
	if err := json.Unmarshal(b, &v); err != nil {
		return app.Record{}, fmt.Errorf("decode ledger record: %w", err)
	}
	if v.Version != formatVersion {
		return app.Record{}, fmt.Errorf("decode ledger record: format version %d", v.Version)
	}
	d, ok := notifierv1.Decision_value[v.Decision]
	if !ok {
		return app.Record{}, fmt.Errorf("decode ledger record: decision %q", v.Decision)
	}
	r := app.Record{
		OrderID:       v.OrderID,
		ShipmentID:    v.ShipmentID,
		Store:         v.Store,
		Decision:      notifierv1.Decision(d),
		Channel:       v.Channel,
		Reason:        v.Reason,
		RequestID:     v.RequestID,
		DecidedAt:     v.DecidedAt,
		OrderRevision: v.OrderRevision,
		EventID:       v.EventID,
	}
	if v.PublishedAt != nil {
		r.PublishedAt = *v.PublishedAt
	}
	return r, nil
}
