package woocommercesim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
)

// Webhook headers, as WooCommerce sends them.
const (
	HeaderSource     = "X-WC-Webhook-Source"
	HeaderTopic      = "X-WC-Webhook-Topic"
	HeaderResource   = "X-WC-Webhook-Resource"
	HeaderEvent      = "X-WC-Webhook-Event"
	HeaderSignature  = "X-WC-Webhook-Signature"
	HeaderWebhookID  = "X-WC-Webhook-ID"
	HeaderDeliveryID = "X-WC-Webhook-Delivery-ID"
)

// UserAgent is the User-Agent of deliveries and pings.
const UserAgent = "WooCommerce/9.1.4 Hookshot (WordPress/6.6.2)"

// Webhook statuses.
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// Topics the simulator delivers.
var Topics = []string{"order.created", "order.updated", "order.deleted", "order.restored"}

// Sign returns base64(HMAC-SHA256(body, secret)), the X-WC-Webhook-Signature
// of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// WebhookConfig registers a webhook.
type WebhookConfig struct {
	// Name is for people.
	Name string
	// Topic is order.created, order.updated, order.deleted or
	// order.restored.
	Topic string
	// DeliveryURL receives the deliveries.
	DeliveryURL string
	// Secret signs them.
	Secret string
}

// Webhook is a registered webhook's state.
type Webhook struct {
	ID                       int64
	Name, Topic, DeliveryURL string
	// Status is active, paused or disabled (after consecutive failures).
	Status string
	// FailureCount is WooCommerce's count of consecutive failures.
	FailureCount int
	// PendingDelivery is true until a ping got 200.
	PendingDelivery bool
	secret          string
}

// Delivery is one webhook delivery (or ping) the simulator sent or meant
// to send.
type Delivery struct {
	WebhookID  int64
	DeliveryID string
	Topic      string
	// OrderID is the order it is about (0 for a ping).
	OrderID int64
	// Body is the payload, byte for byte what was signed.
	Body []byte
	// Ping marks the activation ping.
	Ping bool
	// Status is the answer's HTTP status; 0 when none came in time.
	Status int
	// Delivered: the answer was 2xx, 301 or 302 (200 for a ping).
	Delivered bool
	// Dropped: fault injection chose not to send it.
	Dropped bool
	// Skipped: the webhook was no longer active, or the order was gone.
	Skipped bool
	// At is when it was sent.
	At time.Time
}

type queued struct {
	hook    int64
	orderID int64
	topic   string
	due     time.Time
}

// deliverer sends queued deliveries one at a time, in due order.
type deliverer struct {
	s      *Sim
	hooks  map[int64]*Webhook // guarded by s.mu, like everything below
	order  []int64
	queue  []queued
	recs   ring.Log[Delivery] // bounded: the newest ring.DefaultMax
	busy   bool
	nextID int64
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newDeliverer(s *Sim) *deliverer {
	d := &deliverer{s: s, hooks: map[int64]*Webhook{}, nextID: 10, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go d.loop()
	return d
}

func (d *deliverer) close() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
	})
}

func (d *deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// AddWebhook registers an active webhook and sends its activation ping. A
// ping that does not get 200 gives an error wrapping ErrPing; the webhook
// stays registered, as in WooCommerce, with PendingDelivery set.
func (s *Sim) AddWebhook(c WebhookConfig) (int64, error) {
	if !slices.Contains(Topics, c.Topic) {
		return 0, fmt.Errorf("%w: topic %q", ErrInvalid, c.Topic)
	}
	if c.DeliveryURL == "" || c.Secret == "" {
		return 0, fmt.Errorf("%w: a webhook needs a delivery url and a secret", ErrInvalid)
	}
	s.mu.Lock()
	d := s.hooks
	d.nextID++
	h := &Webhook{ID: d.nextID, Name: c.Name, Topic: c.Topic, DeliveryURL: c.DeliveryURL, Status: WebhookActive, PendingDelivery: true, secret: c.Secret}
	d.hooks[h.ID] = h
	d.order = append(d.order, h.ID)
	s.mu.Unlock()
	return h.ID, s.Ping(h.ID)
}

// Ping sends a webhook's ping: a form-encoded "webhook_id=N", unsigned.
func (s *Sim) Ping(id int64) error {
	s.mu.Lock()
	h, ok := s.hooks.hooks[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: no webhook %d", ErrInvalid, id)
	}
	url := h.DeliveryURL
	s.mu.Unlock()
	body := []byte("webhook_id=" + strconv.FormatInt(id, 10))
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WebhookTimeout)
	defer cancel()
	status := 0
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("User-Agent", UserAgent)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := s.cfg.HTTPClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
			status = resp.StatusCode
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.recs.Append(Delivery{WebhookID: id, Ping: true, Body: body, Status: status, Delivered: status == http.StatusOK, At: s.now()})
	if status != http.StatusOK {
		return fmt.Errorf("%w: delivery URL returned response code: %d", ErrPing, status)
	}
	h.PendingDelivery = false
	return nil
}

// ActivateWebhook sets a paused or disabled webhook active again, with no
// failures counted.
func (s *Sim) ActivateWebhook(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hooks.hooks[id]
	if !ok {
		return fmt.Errorf("%w: no webhook %d", ErrInvalid, id)
	}
	h.Status, h.FailureCount = WebhookActive, 0
	return nil
}

// Webhooks lists the registered webhooks in creation order.
func (s *Sim) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.hooks.order))
	for _, id := range s.hooks.order {
		h := *s.hooks.hooks[id]
		h.secret = ""
		out = append(out, h)
	}
	return out
}

// Deliveries lists every delivery and ping, in the order they were sent.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, s.hooks.recs.Len())
	s.hooks.recs.Each(func(r Delivery) bool {
		r.Body = append([]byte(nil), r.Body...)
		out = append(out, r)
		return true
	})
	return out
}

// WaitWebhooks waits until no delivery is queued or being sent, or ctx
// ends.
func (s *Sim) WaitWebhooks(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		idle := len(s.hooks.queue) == 0 && !s.hooks.busy
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("woocommercesim: webhooks still pending: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// trigger queues a delivery of o for every active webhook of topic, unless
// one for the same order is still queued (Action Scheduler keeps one
// pending action per webhook and resource); s.mu is held.
func (s *Sim) trigger(o *order, topic string) {
	d := s.hooks
	due := time.Now().Add(s.cfg.WebhookDelay)
	for _, id := range d.order {
		h := d.hooks[id]
		if h.Topic != topic || h.Status != WebhookActive {
			continue
		}
		if slices.ContainsFunc(d.queue, func(q queued) bool { return q.hook == id && q.orderID == o.id }) {
			continue
		}
		d.queue = append(d.queue, queued{hook: id, orderID: o.id, topic: topic, due: due})
	}
	d.poke()
}

// deliveryID is WooCommerce's wp_hash(webhook id . time()): the same for
// two deliveries of a webhook within one second.
func (s *Sim) deliveryID(hook int64, at time.Time) string {
	m := hmac.New(md5.New, []byte("woocommercesim-salt-"+strconv.FormatUint(s.cfg.Seed, 10)))
	m.Write([]byte(strconv.FormatInt(hook, 10) + strconv.FormatInt(at.Unix(), 10)))
	return hex.EncodeToString(m.Sum(nil))
}

func (d *deliverer) loop() {
	defer close(d.done)
	s := d.s
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *queued
		wait := time.Hour
		if len(d.queue) > 0 {
			if w := time.Until(d.queue[0].due); w <= 0 {
				q := d.queue[0]
				next = &q
				d.queue = d.queue[1:]
				d.busy = true
			} else {
				wait = w
			}
		}
		s.mu.Unlock()
		if next != nil {
			d.send(*next)
			continue
		}
		timer.Reset(wait)
		select {
		case <-d.stop:
			return
		case <-d.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// send makes the one attempt WooCommerce makes and counts a failure.
func (d *deliverer) send(q queued) {
	s := d.s
	s.mu.Lock()
	h := d.hooks[q.hook]
	now := s.now()
	rec := Delivery{WebhookID: q.hook, Topic: q.topic, OrderID: q.orderID, At: now, DeliveryID: s.deliveryID(q.hook, now)}
	var body []byte
	o, exists := s.orders[q.orderID]
	switch {
	case h.Status != WebhookActive:
		rec.Skipped = true
	case strings.HasSuffix(q.topic, ".deleted"):
		body, _ = json.Marshal(map[string]int64{"id": q.orderID})
	case !exists:
		rec.Skipped = true
	default:
		body, _ = json.Marshal(s.render(o))
	}
	rec.Body = body
	if !rec.Skipped && s.chance(s.faults.DropWebhooks) {
		rec.Dropped = true
	}
	if rec.Skipped || rec.Dropped {
		d.recs.Append(rec)
		d.busy = false
		s.mu.Unlock()
		return
	}
	url, secret, source := h.DeliveryURL, h.secret, s.siteURL+"/"
	s.mu.Unlock()

	resource, event, _ := strings.Cut(q.topic, ".")
	status := 0
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WebhookTimeout)
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		hd := req.Header
		hd.Set("User-Agent", UserAgent)
		hd.Set("Content-Type", "application/json")
		hd.Set(HeaderSource, source)
		hd.Set(HeaderTopic, q.topic)
		hd.Set(HeaderResource, resource)
		hd.Set(HeaderEvent, event)
		hd.Set(HeaderSignature, Sign(secret, body))
		hd.Set(HeaderWebhookID, strconv.FormatInt(q.hook, 10))
		hd.Set(HeaderDeliveryID, rec.DeliveryID)
		if resp, err := s.cfg.HTTPClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
			status = resp.StatusCode
		}
	}
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	d.busy = false
	rec.Status = status
	rec.Delivered = status >= 200 && status < 303
	d.recs.Append(rec)
	if rec.Delivered {
		h.FailureCount = 0
		return
	}
	// WC_Webhook::failed_delivery.
	if h.FailureCount > s.cfg.MaxDeliveryFailures {
		h.Status = WebhookDisabled
		s.cfg.Logger.Warn("woocommercesim: webhook disabled after consecutive failures", "webhook", h.ID, "failures", h.FailureCount)
	} else {
		h.FailureCount++
	}
}
