package auth

import (
	"log/slog"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// Outcomes of an audited request.
const (
	OutcomeAllowed         = "allowed"
	OutcomeUnauthenticated = "unauthenticated"
	OutcomeForbidden       = "forbidden"
	OutcomeRateLimited     = "rate_limited"
	OutcomeInvalid         = "invalid_request"
	OutcomeError           = "error"
)

const (
	maxAuditParams   = 32
	maxAuditValueLen = 256
)

// AuditRecord is who asked what, and what they got.
type AuditRecord struct {
	Time     time.Time
	Subject  string
	Roles    []Role
	TenantID string
	Method   string
	Endpoint string // the route pattern or path
	Params   map[string]string
	Status   int
	Outcome  string // one of the Outcome constants
	Reason   Reason // why credentials were refused, when they were
}

// LogAudit writes a as one Info line with message "audit" and the keys request_time, subject,
// roles, tenant_id, method, endpoint, params (a group, keys sorted; at most 32, values cut to 256
// bytes), status, outcome and, when set, reason. A nil logger writes nothing.
func LogAudit(l *slog.Logger, a AuditRecord) {
	if l == nil {
		return
	}
	roles := make([]string, len(a.Roles))
	for i, r := range a.Roles {
		roles[i] = string(r)
	}
	keys := slices.Sorted(maps.Keys(a.Params))
	params := make([]any, 0, min(len(keys), maxAuditParams))
	for _, k := range keys[:min(len(keys), maxAuditParams)] {
		params = append(params, slog.String(cut(k), cut(a.Params[k])))
	}
	attrs := []any{
		slog.Time("request_time", a.Time),
		slog.String("subject", a.Subject),
		slog.Any("roles", roles),
		slog.String("tenant_id", a.TenantID),
		slog.String("method", a.Method),
		slog.String("endpoint", a.Endpoint),
		slog.Group("params", params...),
		slog.Int("status", a.Status),
		slog.String("outcome", a.Outcome),
	}
	if len(keys) > maxAuditParams {
		attrs = append(attrs, slog.Int("params_dropped", len(keys)-maxAuditParams))
	}
	if a.Reason != "" {
		attrs = append(attrs, slog.String("reason", string(a.Reason)))
	}
	l.Info("audit", attrs...)
}

func cut(s string) string {
	if len(s) <= maxAuditValueLen {
		return s
	}
	n := maxAuditValueLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
