package telemetry

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys NewLogHandler adds.
const (
	// TraceIDKey is the attribute holding the W3C trace id (32 hex digits).
	TraceIDKey = "trace_id"
	// SpanIDKey is the attribute holding the span id (16 hex digits).
	SpanIDKey = "span_id"
)

// NewLogHandler wraps inner so that every record logged with a context that
// carries a valid span gets trace_id and span_id attributes, at the top
// level even inside WithGroup. Log with the *Context methods
// (logger.InfoContext(ctx, ...)) for the ids to appear.
func NewLogHandler(inner slog.Handler) slog.Handler {
	return &logHandler{base: inner}
}

// logHandler adds trace ids. Attributes and groups added before the first
// group go to base directly; from the first group on they are kept here and
// rebuilt as nested group attributes per record, so that the trace ids stay
// at the top level.
type logHandler struct {
	base   slog.Handler
	groups []group
}

// group is an open group with the attributes added inside it.
type group struct {
	name  string
	attrs []slog.Attr
}

// Enabled reports whether the inner handler handles level.
func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

// Handle adds the trace ids of ctx to r and passes it on.
func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if len(h.groups) == 0 {
		if sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
		}
		return h.base.Handle(ctx, r)
	}
	// Rebuild the open groups innermost first, the record's own attributes
	// belonging to the innermost one.
	inner := slices.Clone(h.groups[len(h.groups)-1].attrs)
	r.Attrs(func(a slog.Attr) bool {
		inner = append(inner, a)
		return true
	})
	nested := slog.Attr{Key: h.groups[len(h.groups)-1].name, Value: slog.GroupValue(inner...)}
	for i := len(h.groups) - 2; i >= 0; i-- {
		g := h.groups[i]
		attrs := append(slices.Clone(g.attrs), nested)
		nested = slog.Attr{Key: g.name, Value: slog.GroupValue(attrs...)}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if sc.IsValid() {
		out.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	out.AddAttrs(nested)
	return h.base.Handle(ctx, out)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	if len(h.groups) == 0 {
		return &logHandler{base: h.base.WithAttrs(attrs)}
	}
	groups := slices.Clone(h.groups)
	last := &groups[len(groups)-1]
	last.attrs = append(slices.Clone(last.attrs), attrs...)
	return &logHandler{base: h.base, groups: groups}
}

// WithGroup returns a handler that nests later attributes under name.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logHandler{base: h.base, groups: append(slices.Clone(h.groups), group{name: name})}
}
