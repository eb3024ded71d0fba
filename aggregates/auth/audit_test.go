package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogAudit(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	LogAudit(l, AuditRecord{
		Time: testNow, Subject: "alice", Roles: []Role{RoleTenantAdmin}, TenantID: "acme",
		Method: "GET", Endpoint: "GET /v1/rollups/email-volume",
		Params: map[string]string{"step": "1h", "from": "2026-03-01T00:00:00Z", "q": strings.Repeat("é", 300)},
		Status: 200, Outcome: OutcomeAllowed,
	})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 1)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, "audit", got["msg"])
	assert.Equal(t, "alice", got["subject"])
	assert.Equal(t, []any{"tenant_admin"}, got["roles"])
	assert.Equal(t, "acme", got["tenant_id"])
	assert.Equal(t, "GET", got["method"])
	assert.Equal(t, "GET /v1/rollups/email-volume", got["endpoint"])
	assert.EqualValues(t, 200, got["status"])
	assert.Equal(t, "allowed", got["outcome"])
	assert.Equal(t, "2026-03-04T10:00:00Z", got["request_time"])
	assert.NotContains(t, got, "reason")
	params := got["params"].(map[string]any)
	assert.Equal(t, "1h", params["step"])
	q := params["q"].(string)
	assert.LessOrEqual(t, len(q), maxAuditValueLen+len("…"))
	assert.True(t, strings.HasSuffix(q, "…"))
	assert.True(t, json.Valid([]byte(`"`+q+`"`)))

	buf.Reset()
	many := map[string]string{}
	for i := range 40 {
		many[fmt.Sprintf("p%02d", i)] = "v"
	}
	LogAudit(l, AuditRecord{Subject: "mallory", Method: "GET", Endpoint: "/v1/freshness", Params: many,
		Status: 401, Outcome: OutcomeUnauthenticated, Reason: ReasonExpired})
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Len(t, got["params"], maxAuditParams)
	assert.EqualValues(t, 8, got["params_dropped"])
	assert.Equal(t, "expired", got["reason"])

	LogAudit(nil, AuditRecord{}) // no panic
}
