package shopifysim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
	"github.com/dropsync/dropsync/pkg/internal/sched"
)

// Webhook headers, as Shopify sends them.
const (
	HeaderTopic       = "X-Shopify-Topic"
	HeaderHmac        = "X-Shopify-Hmac-Sha256"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderAPIVersion  = "X-Shopify-API-Version"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderEventID     = "X-Shopify-Event-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
)

// Sign returns base64(HMAC-SHA256(body, secret)), the X-Shopify-Hmac-Sha256
// of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Delivery is one webhook the simulator sent or meant to send.
type Delivery struct {
	Shop, Topic        string
	EventID, WebhookID string
	// OrderID is the order the webhook is about.
	OrderID int64
	// Body is the JSON payload, byte for byte what was signed.
	Body []byte
	// TriggeredAt is when the event happened.
	TriggeredAt time.Time
	// Attempts made so far and the last HTTP status (0: no answer).
	Attempts, LastStatus int
	// Delivered: a 2xx came back within the timeout.
	Delivered bool
	// Dropped: fault injection chose never to send it.
	Dropped bool
	// Duplicate: this is an injected second copy of another delivery.
	Duplicate bool
	// GaveUp: every retry failed.
	GaveUp bool
}

type delivery struct {
	rec *Delivery
	url string
	key string
	ver string
}

// deliverer sends queued webhooks one at a time, in due order, retrying
// failures on the configured schedule.
type deliverer struct {
	s       *Sim
	q       *sched.Queue[*delivery]
	mu      sync.Mutex          // guards records and the records' fields
	records ring.Log[*Delivery] // bounded: the newest ring.DefaultMax (the queue holds its own)
}

func newDeliverer(s *Sim) *deliverer {
	d := &deliverer{s: s}
	d.q = sched.New(d.send)
	return d
}

func (d *deliverer) close() { d.q.Close() }

// enqueue queues a webhook about o, applying the webhook faults; s.mu is
// held.
func (s *Sim) enqueue(o *simOrder, topic string, body []byte) {
	sh := o.shop
	now := s.cfg.Now()
	rec := &Delivery{
		Shop: sh.cfg.Domain, Topic: topic, OrderID: o.id, Body: body, TriggeredAt: now,
		EventID: s.uuid(), WebhookID: s.uuid(),
	}
	d := s.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records.Append(rec)
	if sh.cfg.WebhookURL == "" {
		return
	}
	if s.chance(s.faults.DropWebhooks) {
		rec.Dropped = true
		return
	}
	delay := func() time.Duration {
		if !s.chance(s.faults.ReorderWebhooks) {
			return 0
		}
		m := s.faults.MaxReorderDelay
		if m <= 0 {
			m = 200 * time.Millisecond
		}
		return time.Duration(s.rng.Int64N(int64(m)) + 1)
	}
	d.q.Push(&delivery{rec: rec, url: sh.cfg.WebhookURL, key: sh.cfg.AppSecret, ver: s.cfg.APIVersion}, time.Now().Add(delay()))
	if s.chance(s.faults.DuplicateWebhooks) {
		dup := *rec
		dup.Duplicate, dup.WebhookID = true, s.uuid()
		d.records.Append(&dup)
		d.q.Push(&delivery{rec: &dup, url: sh.cfg.WebhookURL, key: sh.cfg.AppSecret, ver: s.cfg.APIVersion}, time.Now().Add(delay()))
	}
}

// uuid returns a random UUID from the seeded generator; s.mu is held.
func (s *Sim) uuid() string {
	a, b := s.rng.Uint64(), s.rng.Uint64()
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// send makes one attempt and requeues a failure.
func (d *deliverer) send(ctx context.Context, x *delivery) {
	status := d.post(ctx, x)
	s := d.s
	d.mu.Lock()
	defer d.mu.Unlock()
	x.rec.Attempts++
	x.rec.LastStatus = status
	if status >= 200 && status < 300 {
		x.rec.Delivered = true
		return
	}
	retries := s.cfg.Webhooks.Retries
	if x.rec.Attempts > len(retries) {
		x.rec.GaveUp = true
		s.cfg.Logger.Warn("shopifysim: webhook given up", "topic", x.rec.Topic, "attempts", x.rec.Attempts, "status", status)
		return
	}
	d.q.Push(x, time.Now().Add(retries[x.rec.Attempts-1]))
}

// post sends the webhook and returns the status, 0 when there was no
// answer in time.
func (d *deliverer) post(ctx context.Context, x *delivery) int {
	ctx, cancel := context.WithTimeout(ctx, d.s.cfg.Webhooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url, bytes.NewReader(x.rec.Body))
	if err != nil {
		return 0
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Shopify-Captain-Hook")
	h.Set(HeaderTopic, x.rec.Topic)
	h.Set(HeaderHmac, Sign(x.key, x.rec.Body))
	h.Set(HeaderShopDomain, x.rec.Shop)
	h.Set(HeaderAPIVersion, x.ver)
	h.Set(HeaderWebhookID, x.rec.WebhookID)
	h.Set(HeaderEventID, x.rec.EventID)
	h.Set(HeaderTriggeredAt, x.rec.TriggeredAt.UTC().Format(time.RFC3339Nano))
	resp, err := d.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Deliveries lists the webhooks the simulator meant to send, in the order
// the events happened (injected duplicates right after their original):
// the newest 10,000, as the log is bounded.
func (s *Sim) Deliveries() []Delivery {
	d := s.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Delivery, 0, d.records.Len())
	d.records.Each(func(r *Delivery) bool { out = append(out, *r); return true })
	return out
}

// WaitWebhooks waits until no webhook is queued or being sent (retries
// included), or ctx ends.
func (s *Sim) WaitWebhooks(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if s.hooks.q.Idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shopifysim: webhooks still pending: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Redeliver sends a recorded delivery again with its original event id and
// body (a late duplicate, as after Shopify's retry window).
func (s *Sim) Redeliver(eventID string) error {
	d := s.hooks
	d.mu.Lock()
	var orig *Delivery
	d.records.Each(func(r *Delivery) bool {
		if r.EventID == eventID && !r.Duplicate {
			c := *r
			orig = &c
			return false
		}
		return true
	})
	d.mu.Unlock()
	if orig == nil {
		return fmt.Errorf("%w: no delivery with event id %s", ErrInvalid, eventID)
	}
	s.mu.Lock()
	var url, key string
	if sh := s.shops[orig.Shop]; sh != nil {
		url, key = sh.cfg.WebhookURL, sh.cfg.AppSecret
	}
	s.mu.Unlock()
	if url == "" {
		return fmt.Errorf("%w: shop %s has no webhook url", ErrInvalid, orig.Shop)
	}
	dup := *orig
	dup.Duplicate, dup.Attempts, dup.Delivered, dup.Dropped, dup.GaveUp, dup.LastStatus = true, 0, false, false, false, 0
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records.Append(&dup)
	d.q.Push(&delivery{rec: &dup, url: url, key: key, ver: s.cfg.APIVersion}, time.Now())
	return nil
}
