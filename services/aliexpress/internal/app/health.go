package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
)

// Health is the state of the AliExpress connection: healthy until
// AliExpress refuses the credentials or the app's call limits, healthy
// again after a call succeeds. Each change is logged, and going unhealthy is counted
// (dropsync.aliexpress.connection.unhealthy). It is safe for concurrent use.
type Health struct {
	mu          sync.Mutex
	now         func() time.Time
	log         *slog.Logger
	healthy     bool
	reason      string
	changedAt   time.Time
	lastSuccess time.Time
	unhealthy   int64
	counter     metric.Int64Counter
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
	c, _ := otel.Meter("github.com/dropsync/dropsync/services/aliexpress").Int64Counter(
		"dropsync.aliexpress.connection.unhealthy",
		metric.WithDescription("Times the AliExpress connection went unhealthy (credentials refused)"))
	return &Health{now: now, log: log, healthy: true, changedAt: now(), counter: c, changes: make(chan HealthState, 64)}
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
			if h.counter != nil {
				h.counter.Add(context.Background(), 1)
			}
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
