package consumers

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// wmLogger adapts slog for Watermill, keeping only errors and infos: Watermill logs every message
// at debug and trace level, and even a discarded slog record costs its attributes on the hot path.
type wmLogger struct{ l *slog.Logger }

func (w wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	w.l.Error(msg, append(attrs(fields), "err", err)...)
}

func (w wmLogger) Info(msg string, fields watermill.LogFields) {
	if w.l.Enabled(context.Background(), slog.LevelDebug) {
		w.l.Debug(msg, attrs(fields)...)
	}
}

func (wmLogger) Debug(string, watermill.LogFields) {}

func (wmLogger) Trace(string, watermill.LogFields) {}

func (w wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{l: w.l.With(attrs(fields)...)}
}

func attrs(fields watermill.LogFields) []any {
	out := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		out = append(out, k, v)
	}
	return out
}
