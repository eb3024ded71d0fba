package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	phgo "github.com/posthog/posthog-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spendstream/spendstream/consumers/streams"
)

// nullPublisher acknowledges every message as new without keeping anything.
type nullPublisher struct{}

func (nullPublisher) Publish(_ context.Context, msgs []streams.Outgoing) []streams.Result {
	res := make([]streams.Result, len(msgs))
	for i := range res {
		res[i].Seq = uint64(i + 1)
	}
	return res
}

// benchCaptureBody is a posthog-go v1.5.2 batch of n events, uuid "" (as in
// cmd/spendstream/bench_capture_test.go).
func benchCaptureBody(tb testing.TB, n int, now time.Time) []byte {
	names := []string{"$pageview", "$autocapture", "report_generated", "invoice_viewed"}
	browsers := []string{"Chrome", "Firefox", "Safari"}
	t0 := now.Add(-time.Hour)
	step := time.Hour / time.Duration(n)
	msgs := make([]phgo.APIMessage, 0, n)
	for i := 0; i < n; i++ {
		msgs = append(msgs, phgo.Capture{Type: "capture", DistinctId: fmt.Sprintf("user-%d", i%5000),
			Event: names[i%len(names)], Timestamp: t0.Add(time.Duration(i) * step),
			Properties: phgo.NewProperties().
				Set("$current_url", fmt.Sprintf("https://app.example.com/reports/%d?a=1&b=<2>", i%50)).
				Set("$browser", browsers[i%len(browsers)]).
				Set("$os", "Linux").
				Set("duration_ms", i%1000)}.APIfy())
	}
	data, err := json.Marshal(struct {
		APIKey   string            `json:"api_key"`
		Messages []phgo.APIMessage `json:"batch"`
	}{"phc_a", msgs})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkCaptureDecode1000 runs the whole capture handler (decode, records, JSON) on a
// 1,000-event posthog-go batch, with a publisher that acknowledges without NATS.
func BenchmarkCaptureDecode1000(b *testing.B) {
	cfg := DefaultCaptureConfig()
	cfg.Projects = map[string]string{"phc_a": "t-a"}
	c := NewCapture(cfg, nullPublisher{}, nil, prometheus.NewRegistry(), nil)
	now := time.Now().UTC()
	c.now = func() time.Time { return now }
	body := benchCaptureBody(b, 1000, now)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/batch/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}
