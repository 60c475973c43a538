package wixsim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
	"github.com/dropsync/dropsync/pkg/internal/sched"
)

// WebhookContentType is the Content-Type of a webhook delivery: the body is
// the JWT itself, as text (Wix's samples read it with express.text()).
const WebhookContentType = "text/plain"

// Entity names of the events the simulator sends ("wix.ecom.v1." + entity
// is the entityFqdn; the event type adds "_" + the slug).
const (
	FqdnOrder        = "wix.ecom.v1.order"
	FqdnFulfillments = "wix.ecom.v1.fulfillments"
)

// Event types the simulator sends.
const (
	EventOrderCreated         = "wix.ecom.v1.order_created"
	EventOrderUpdated         = "wix.ecom.v1.order_updated"
	EventOrderApproved        = "wix.ecom.v1.order_approved"
	EventOrderCanceled        = "wix.ecom.v1.order_canceled"
	EventPaymentStatusUpdated = "wix.ecom.v1.order_payment_status_updated"
	EventFulfillmentsUpdated  = "wix.ecom.v1.fulfillments_updated"
)

// Event is one webhook event the simulator produced.
type Event struct {
	// ID is the event's unique id: receivers dedupe on it.
	ID string
	// Type is the eventType, e.g. EventOrderApproved.
	Type string
	// SiteID and InstanceID say whose event it is; OrderID what it is
	// about.
	SiteID, InstanceID, OrderID string
	// Time is the eventTime.
	Time time.Time
	// Payload is the innermost JSON: the event with its entity, as the
	// receiver has it after both decodings.
	Payload []byte
	// JWT is the delivered body.
	JWT string
}

// Delivery is one webhook the simulator sent or meant to send.
type Delivery struct {
	// EventID and Type of the event delivered.
	EventID, Type string
	// Attempts made so far and the last HTTP status (0: no answer in
	// time).
	Attempts, LastStatus int
	// Delivered: a 200 came back within the timeout.
	Delivered bool
	// Dropped: fault injection chose never to send it.
	Dropped bool
	// Duplicate: an injected second copy of another delivery, or a
	// Redeliver.
	Duplicate bool
	// GaveUp: every retry failed.
	GaveUp bool
}

// EncodeClaims builds a webhook's JWT claims as Wix does, each layer a JSON
// string inside the next: payload (the event) is the "data" of
// {eventType, instanceId, data, identity}, which is itself the "data"
// claim, next to iat and exp.
func EncodeClaims(eventType, instanceID string, payload []byte, iat time.Time, ttl time.Duration) ([]byte, error) {
	outer, err := json.Marshal(map[string]string{
		"eventType":  eventType,
		"instanceId": instanceID,
		"data":       string(payload),
		"identity":   `{"identityType":"APP"}`,
	})
	if err != nil {
		return nil, fmt.Errorf("wixsim: encode event: %w", err)
	}
	claims, err := json.Marshal(map[string]any{"data": string(outer), "iat": iat.Unix(), "exp": iat.Add(ttl).Unix()})
	if err != nil {
		return nil, fmt.Errorf("wixsim: encode claims: %w", err)
	}
	return claims, nil
}

// SignRS256 returns the compact JWT of claims signed with key (RS256), with
// kid in its header, as Wix signs webhooks with the app's key.
func SignRS256(key *rsa.PrivateKey, kid string, claims []byte) (string, error) {
	hdr, err := json.Marshal(map[string]string{"kid": kid, "alg": "RS256"})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("wixsim: sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// PublicKeyPEM encodes a public key as the app dashboard shows it:
// "-----BEGIN PUBLIC KEY-----" (PKIX).
func PublicKeyPEM(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("wixsim: public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// PublicKeyPEM is the app's public key, which the connector verifies
// webhooks with.
func (s *Sim) PublicKeyPEM() string {
	p, err := PublicKeyPEM(&s.key.PublicKey)
	if err != nil {
		panic(err) // an RSA public key always marshals
	}
	return p
}

// Sign signs claims with the app's key, as the simulator signs webhooks.
func (s *Sim) Sign(claims []byte) (string, error) { return SignRS256(s.key, s.cfg.KeyID, claims) }

// emit records an event about o and queues its delivery, applying the
// webhook faults. body holds the createdEvent, updatedEvent or actionEvent.
// s.mu is held.
func (s *Sim) emit(o *simOrder, entity, slug string, body map[string]any) {
	now := s.cfg.Now()
	fqdn := "wix.ecom.v1." + entity
	ev := map[string]any{
		"id":                          s.uuid(),
		"entityFqdn":                  fqdn,
		"slug":                        slug,
		"entityId":                    o.o.ID,
		"eventTime":                   formatDate(now),
		"triggeredByAnonymizeRequest": false,
	}
	for k, v := range body {
		ev[k] = v
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		s.cfg.Logger.Error("wixsim: encode event", "err", err)
		return
	}
	e := &Event{
		ID: ev["id"].(string), Type: fqdn + "_" + slug,
		SiteID: o.site.cfg.SiteID, InstanceID: o.site.cfg.InstanceID, OrderID: o.o.ID,
		Time: now, Payload: payload,
	}
	claims, err := EncodeClaims(e.Type, e.InstanceID, payload, now, s.cfg.Webhooks.TTL)
	if err == nil {
		e.JWT, err = s.Sign(claims)
	}
	if err != nil {
		s.cfg.Logger.Error("wixsim: sign event", "err", err)
		return
	}
	d := s.webhooks
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, e)
	rec := &Delivery{EventID: e.ID, Type: e.Type}
	d.records.Append(rec)
	if d.url == "" {
		return
	}
	if s.chance(s.f.DropWebhooks) {
		rec.Dropped = true
		return
	}
	delay := func() time.Duration {
		if !s.chance(s.f.ReorderWebhooks) {
			return 0
		}
		m := s.f.MaxReorderDelay
		if m <= 0 {
			m = 200 * time.Millisecond
		}
		return time.Duration(s.rng.Int64N(int64(m)) + 1)
	}
	d.q.Push(&delivery{rec: rec, ev: e, url: d.url}, time.Now().Add(delay()))
	if s.chance(s.f.DuplicateWebhooks) {
		dup := &Delivery{EventID: e.ID, Type: e.Type, Duplicate: true}
		d.records.Append(dup)
		d.q.Push(&delivery{rec: dup, ev: e, url: d.url}, time.Now().Add(delay()))
	}
}

type delivery struct {
	rec *Delivery
	ev  *Event
	url string
}

// deliverer sends queued webhooks, in due order, retrying failures on the
// configured (scaled) schedule. One delivery is in flight at a time.
type deliverer struct {
	s       *Sim
	q       *sched.Queue[*delivery]
	mu      sync.Mutex // guards url, records, events and the records' fields
	url     string
	records ring.Log[*Delivery] // bounded: the newest ring.DefaultMax (the queue holds its own)
	events  []*Event
}

func newDeliverer(s *Sim) *deliverer {
	d := &deliverer{s: s, url: s.cfg.Webhooks.URL}
	d.q = sched.New(d.send)
	return d
}

func (d *deliverer) close() { d.q.Close() }

// send makes one attempt and requeues a failure: anything but a 200 within
// the timeout fails.
func (d *deliverer) send(ctx context.Context, x *delivery) {
	status := d.post(ctx, x)
	cfg := d.s.cfg.Webhooks
	d.mu.Lock()
	defer d.mu.Unlock()
	x.rec.Attempts++
	x.rec.LastStatus = status
	if status == http.StatusOK {
		x.rec.Delivered = true
		return
	}
	if x.rec.Attempts > len(cfg.Retries) {
		x.rec.GaveUp = true
		d.s.cfg.Logger.Warn("wixsim: webhook given up", "type", x.rec.Type, "attempts", x.rec.Attempts, "status", status)
		return
	}
	d.q.Push(x, time.Now().Add(time.Duration(float64(cfg.Retries[x.rec.Attempts-1])*cfg.TimeScale)))
}

// post sends the JWT and returns the status, 0 when there was no answer in
// time.
func (d *deliverer) post(ctx context.Context, x *delivery) int {
	ctx, cancel := context.WithTimeout(ctx, d.s.cfg.Webhooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url, bytes.NewReader([]byte(x.ev.JWT)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", WebhookContentType)
	req.Header.Set("User-Agent", "Wix-Webhooks")
	resp, err := d.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0
	}
	defer func() { _ = resp.Body.Close() }() // the body is drained below; a close error changes nothing
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode
}

// Events lists every event produced, oldest first.
func (s *Sim) Events() []Event {
	d := s.webhooks
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Event, len(d.events))
	for i, e := range d.events {
		out[i] = *e
	}
	return out
}

// Deliveries lists the webhooks the simulator meant to send, in the order
// the events happened (injected duplicates right after their original):
// the newest 10,000, as the log is bounded.
func (s *Sim) Deliveries() []Delivery {
	d := s.webhooks
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
		if s.webhooks.q.Idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wixsim: webhooks still pending: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Redeliver sends an event again, the same JWT (a late duplicate, as after
// JetStream's duplicate window).
func (s *Sim) Redeliver(eventID string) error {
	d := s.webhooks
	d.mu.Lock()
	defer d.mu.Unlock()
	var ev *Event
	for _, e := range d.events {
		if e.ID == eventID {
			ev = e
		}
	}
	if ev == nil {
		return fmt.Errorf("%w: no event %s", ErrInvalid, eventID)
	}
	if d.url == "" {
		return fmt.Errorf("%w: no webhook url", ErrInvalid)
	}
	rec := &Delivery{EventID: ev.ID, Type: ev.Type, Duplicate: true}
	d.records.Append(rec)
	d.q.Push(&delivery{rec: rec, ev: ev, url: d.url}, time.Now())
	return nil
}
