package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
)

// Health is the state of the AliExpress connection: healthy until
// AliExpress refuses the credentials or the app's call limits, healthy
// again after a call succeeds. Each change is logged, and going unhealthy is counted
// (metrics.AliExpressUnhealthy). It is safe for concurrent use.
type Health struct {
	mu          sync.Mutex
	now         func() time.Time
	log         *slog.Logger
	healthy     bool
	reason      string
	changedAt   time.Time
	lastSuccess time.Time
	unhealthy   int64
	account     string
	changes     chan HealthState
}

// HealthState is a snapshot of Health.
type HealthState struct {
	Healthy                bool
	Reason                 string
	ChangedAt, LastSuccess time.Time
	UnhealthyCount         int64
}

// NewHealth returns a healthy Health.
func NewHealth(now func() time.Time, log *slog.Logger) *Health {
	return &Health{now: now, log: log, healthy: true, changedAt: now(), changes: make(chan HealthState, 64)}
}

// ForAccount exports h as the account's connection health gauge
// (dropsync_connection_healthy{platform="aliexpress",account=...}: 1 or 0),
// read at each collection, and returns h.
func (h *Health) ForAccount(account string) *Health {
	h.mu.Lock()
	h.account = account
	h.mu.Unlock()
	attrs := []attribute.KeyValue{attribute.String(metrics.LabelPlatform, "aliexpress"), attribute.String(metrics.LabelAccount, account)}
	metrics.ConnectionHealthyGauge.SetSource("aliexpress:"+account, func(o metrics.Observe) {
		v := int64(0)
		if h.State().Healthy {
			v = 1
		}
		o(v, attrs...)
	})
	return h
}

// Changes delivers every change of state, for publishing as events. When
// nobody keeps up (64 behind) a change is dropped from the feed, logged,
// and still visible through State.
func (h *Health) Changes() <-chan HealthState { return h.changes }

// changed runs under h.mu.
func (h *Health) changed() {
	st := HealthState{Healthy: h.healthy, Reason: h.reason, ChangedAt: h.changedAt, LastSuccess: h.lastSuccess, UnhealthyCount: h.unhealthy}
	select {
	case h.changes <- st:
	default:
		h.log.Warn("aliexpress connection change not published: feed full", "healthy", st.Healthy)
	}
}

// Observe is aeapi.Config.OnHealth: nil is a working call, an error a
// refused credential or call limit.
func (h *Health) Observe(err *aeapi.APIError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if err == nil {
		h.lastSuccess = now
		if !h.healthy {
			h.healthy, h.reason, h.changedAt = true, "", now
			h.log.Info("aliexpress connection healthy again")
			h.changed()
		}
		return
	}
	reason := "AliExpress " + err.Code
	if err.SubCode != "" {
		reason += "/" + err.SubCode
	}
	if err.Msg != "" {
		reason += ": " + err.Msg
	}
	if h.healthy || h.reason != reason {
		if h.healthy {
			h.unhealthy++
			metrics.RecordAliExpressUnhealthy(context.Background(), h.account)
		}
		h.healthy, h.reason, h.changedAt = false, reason, now
		if err.Auth() {
			h.log.Error("aliexpress connection unhealthy: the credentials were refused; renew the authorization", "reason", reason)
		} else {
			h.log.Error("aliexpress connection unhealthy: AliExpress refuses the app's calls over its call limits; polling backs off", "reason", reason)
		}
		h.changed()
	}
}

// State returns a snapshot.
func (h *Health) State() HealthState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HealthState{Healthy: h.healthy, Reason: h.reason, ChangedAt: h.changedAt, LastSuccess: h.lastSuccess, UnhealthyCount: h.unhealthy}
}
