package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/aggregates/initiatives"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// InitiativeStore keeps tracked initiatives durably; *initiatives.Store implements it.
type InitiativeStore interface {
	Create(ctx context.Context, in initiatives.Initiative) (initiatives.Initiative, error)
	Get(ctx context.Context, id string) (initiatives.Initiative, error)
	List(ctx context.Context) ([]initiatives.Initiative, error)
	Update(ctx context.Context, id string, ifRevision uint64, p initiatives.Patch, by string, now time.Time) (initiatives.Initiative, error)
}

// MaxRealizedSpan bounds the spans realized savings compare.
const MaxRealizedSpan = 30 * 24 * time.Hour

// maxJSONBody bounds the JSON bodies of initiative requests.
const maxJSONBody = 64 << 10

// errPrecondition is a PATCH without If-Match (428).
var errPrecondition = errors.New("If-Match required")

// expectedSavings is what an initiative records of its recommendation at creation.
type expectedSavings struct {
	SavingsMonthly   cost.SavingsRange `json:"savings_monthly"`
	Currency         string            `json:"currency"`
	PriceListVersion string            `json:"price_list_version"`
	Scope            cost.Scope        `json:"scope"`
	ComputedAt       time.Time         `json:"computed_at"`
	Window           cost.Window       `json:"window"`
}

// initiativeJSON is an initiative with, once it succeeded, its realized savings.
type initiativeJSON struct {
	initiatives.Initiative
	RealizedSavings *cost.Realized `json:"realized_savings,omitempty"`
	// RealizedNote says why realized savings are absent.
	RealizedNote string `json:"realized_note,omitempty"`
}

// decodeStrict decodes one JSON object into v, refusing unknown fields, trailing data and bodies
// over maxJSONBody.
func decodeStrict(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return errBodyTooLarge
	}
	if err != nil {
		return badParam("body", "want a JSON object of at most %d bytes", maxJSONBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badParam("body", "want a JSON object with known fields only: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return badParam("body", "want exactly one JSON object")
	}
	return nil
}

// initiativeError maps store errors to responses.
func initiativeError(err error) error {
	var inv *initiatives.InvalidError
	switch {
	case errors.As(err, &inv):
		return badParam(inv.Field, "%s", inv.Reason)
	case errors.Is(err, initiatives.ErrNotFound):
		return errNotFoundInitiative
	case errors.Is(err, initiatives.ErrTransition), errors.Is(err, initiatives.ErrExists):
		return &conflictError{msg: err.Error()}
	case errors.Is(err, initiatives.ErrConflict):
		return &preconditionError{}
	}
	return unavailable("nats", err)
}

var errNotFoundInitiative = errors.New("no such initiative")

// conflictError is a 409 with a message from the lifecycle rules (no internals).
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

// preconditionError is a 412: the initiative changed since the caller's ETag.
type preconditionError struct{}

func (e *preconditionError) Error() string {
	return "the initiative changed since the ETag in If-Match; GET it again and retry"
}

func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

func parseETag(v string) (uint64, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseUint(v[1:len(v)-1], 10, 64)
	return n, err == nil && n > 0
}

// scopeOfTargets rebuilds the realized-savings scope from an initiative's targets: "email:<p>"
// entries are email providers, the others resources.
func scopeOfTargets(targets []string) cost.Scope {
	s := cost.Scope{ResourceIDs: []string{}, EmailProviders: []string{}}
	for _, t := range targets {
		if p, ok := strings.CutPrefix(t, "email:"); ok {
			s.EmailProviders = append(s.EmailProviders, p)
		} else {
			s.ResourceIDs = append(s.ResourceIDs, t)
		}
	}
	return s
}

func targetsOfScope(s cost.Scope) []string {
	out := append([]string{}, s.ResourceIDs...)
	for _, p := range s.EmailProviders {
		out = append(out, "email:"+p)
	}
	return out
}

type createInitiativeJSON struct {
	RecommendationID string `json:"recommendation_id"`
	Title            string `json:"title"`
	Owner            string `json:"owner"`
	Notes            string `json:"notes"`
}

// noParams refuses any query parameter (strict parsing on every route).
func noParams(r *http.Request) error {
	q, err := parseQuery(r)
	if err == nil {
		err = unknownParams(q, nil)
	}
	return err
}

func (s *server) createInitiative(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	if err := noParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	var body createInitiativeJSON
	if err := decodeStrict(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.RecommendationID == "" {
		s.fail(w, r, badParam("recommendation_id", "required"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	to := ceil(now.UTC(), window.Step1d)
	recs, e, err := s.recommendations(ctx, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var rec *cost.Recommendation
	for i := range recs.Items {
		if recs.Items[i].ID == body.RecommendationID {
			rec = &recs.Items[i]
		}
	}
	if rec == nil || !canSee(c, rec) {
		s.fail(w, r, badParam("recommendation_id", "no current recommendation has this id; list them with GET /v1/recommendations"))
		return
	}
	scope := cost.ScopeOf(*rec)
	m := e.m
	exp, _ := json.Marshal(expectedSavings{SavingsMonthly: rec.SavingsMonthly, Currency: m.Currency,
		PriceListVersion: m.PriceListVersion, Scope: scope, ComputedAt: now.UTC(), Window: m.Window})
	title := body.Title
	if title == "" {
		title = rec.Summary
	}
	in, err := s.inits.Create(ctx, initiatives.Initiative{RecommendationID: rec.ID, Kind: string(rec.Kind), Title: title,
		Targets: targetsOfScope(scope), Owner: body.Owner, Notes: body.Notes, ExpectedSavings: exp,
		CreatedBy: c.principal.Subject})
	if err != nil {
		s.fail(w, r, initiativeError(err))
		return
	}
	w.Header().Set("ETag", etag(in.Revision))
	w.Header().Set("Location", "/v1/initiatives/"+in.ID)
	s.writeInitiative(w, r, c, now, http.StatusCreated, initiativeJSON{Initiative: in})
}

func (s *server) listInitiatives(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	q, err := parseQuery(r)
	if err == nil {
		err = unknownParams(q, []string{"status"})
	}
	if err == nil && q.Get("status") != "" {
		if _, perr := initiatives.ParseStatus(q.Get("status")); perr != nil {
			err = badParam("status", "want one of proposed, claimed, in_progress, succeeded, failed, dismissed, got %s", echo(q.Get("status")))
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	list, err := s.inits.List(ctx)
	if err != nil {
		s.fail(w, r, initiativeError(err))
		return
	}
	out := make([]initiativeJSON, 0, len(list))
	for _, in := range list {
		if st := q.Get("status"); st != "" && string(in.Status) != st {
			continue
		}
		out = append(out, s.withRealized(ctx, in, now))
	}
	s.writeInitiative(w, r, c, now, http.StatusOK, out)
}

func (s *server) getInitiative(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	if err := noParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	in, err := s.inits.Get(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, initiativeError(err))
		return
	}
	w.Header().Set("ETag", etag(in.Revision))
	s.writeInitiative(w, r, c, now, http.StatusOK, s.withRealized(ctx, in, now))
}

type patchInitiativeJSON struct {
	Status    *initiatives.Status `json:"status"`
	Owner     *string             `json:"owner"`
	Notes     *string             `json:"notes"`
	ChangedAt *time.Time          `json:"changed_at"`
}

func (s *server) patchInitiative(w http.ResponseWriter, r *http.Request, c caller) {
	now := s.cfg.Now()
	if err := noParams(r); err != nil {
		s.fail(w, r, err)
		return
	}
	rev, ok := parseETag(r.Header.Get("If-Match"))
	if !ok {
		s.fail(w, r, errPrecondition)
		return
	}
	var body patchInitiativeJSON
	if err := decodeStrict(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	in, err := s.inits.Update(ctx, r.PathValue("id"), rev, initiatives.Patch{Status: body.Status, Owner: body.Owner,
		Notes: body.Notes, ChangedAt: body.ChangedAt}, c.principal.Subject, now)
	if err != nil {
		if errors.Is(err, initiatives.ErrConflict) && in.Revision > 0 {
			w.Header().Set("ETag", etag(in.Revision))
		}
		s.fail(w, r, initiativeError(err))
		return
	}
	w.Header().Set("ETag", etag(in.Revision))
	s.writeInitiative(w, r, c, now, http.StatusOK, s.withRealized(ctx, in, now))
}

// withRealized adds the realized savings of a succeeded initiative: the modeled cost of its
// targets over the span after its change date against the same-length span before it (at most
// MaxRealizedSpan, whole hours), both costed by the same model and price list. When they cannot
// be computed now (a dependency down), the initiative is still served, with a note saying so.
func (s *server) withRealized(ctx context.Context, in initiatives.Initiative, now time.Time) initiativeJSON {
	out := initiativeJSON{Initiative: in}
	if in.Status != initiatives.Succeeded {
		return out
	}
	if in.ChangedAt == nil {
		out.RealizedNote = "no change date recorded; set changed_at to measure realized savings"
		return out
	}
	change := in.ChangedAt.UTC().Truncate(time.Hour)
	span := min(now.UTC().Truncate(time.Hour).Sub(change), MaxRealizedSpan)
	if span < time.Hour {
		out.RealizedNote = "less than an hour since the change; realized savings are measured from the first whole hour after it"
		return out
	}
	re, err := s.realized(ctx, change, span, scopeOfTargets(in.Targets))
	if err != nil {
		s.log.Error("realized savings unavailable", "initiative", in.ID, "err", err)
		status, body := errorResponse(err)
		out.RealizedNote = fmt.Sprintf("realized savings unavailable right now (%d %s); retry later", status, body.Message)
		return out
	}
	out.RealizedSavings = &re
	return out
}

func (s *server) realized(ctx context.Context, change time.Time, span time.Duration, scope cost.Scope) (cost.Realized, error) {
	before, err := s.model(ctx, cost.Window{From: change.Add(-span), To: change})
	if err != nil {
		return cost.Realized{}, err
	}
	after, err := s.model(ctx, cost.Window{From: change, To: change.Add(span)})
	if err != nil {
		return cost.Realized{}, err
	}
	re, err := cost.RealizedSavings(before, after, scope)
	if err != nil {
		return cost.Realized{}, fmt.Errorf("realized savings: %w", err)
	}
	return re, nil
}

// writeInitiative writes initiative data in the envelope (with the labels: they carry modeled
// savings figures).
func (s *server) writeInitiative(w http.ResponseWriter, r *http.Request, c caller, now time.Time, status int, data any) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	progress, err := s.reader.LaneProgress(ctx, c.scope)
	if err != nil {
		s.fail(w, r, unavailable("clickhouse", err))
		return
	}
	env := newEnvelope(data, buildFreshness(progress, s.cfg.Partitions, now, s.cfg.DelayedAfter), now, events.LaneLive)
	env.Labels = cost.Labels()
	s.writeJSON(w, r, status, env)
}

// initiativeCaps are the capabilities of the initiative routes.
var initiativeCaps = map[string]auth.Capability{
	"POST /v1/initiatives":       auth.CapInitiativesWrite,
	"GET /v1/initiatives":        auth.CapInitiativesRead,
	"GET /v1/initiatives/{id}":   auth.CapInitiativesRead,
	"PATCH /v1/initiatives/{id}": auth.CapInitiativesWrite,
}
