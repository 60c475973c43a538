package telemetry

import (
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns the logger every service uses: text or JSON lines on w
// at level (debug, info, warn, error), each with the trace and span ids of
// its context (see NewLogHandler).
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewLogHandler(h))
}
