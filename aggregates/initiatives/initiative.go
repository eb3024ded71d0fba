package initiatives

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is the lifecycle state of an initiative.
type Status string

// Statuses.
const (
	Proposed   Status = "proposed"
	Claimed    Status = "claimed"
	InProgress Status = "in_progress"
	Succeeded  Status = "succeeded"
	Failed     Status = "failed"
	Dismissed  Status = "dismissed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{Proposed, Claimed, InProgress, Succeeded, Failed, Dismissed}

// transitions is the table in the package doc.
var transitions = map[Status][]Status{
	Proposed:   {Claimed, InProgress, Dismissed},
	Claimed:    {Proposed, InProgress, Dismissed},
	InProgress: {Succeeded, Failed, Dismissed},
	Failed:     {InProgress, Dismissed},
	Succeeded:  nil,
	Dismissed:  nil,
}

// ParseStatus parses a status name.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", invalid("status", "unknown status %q (want one of %v)", s, Statuses)
	}
	return st, nil
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no status change is allowed from s.
func (s Status) Terminal() bool { return s == Succeeded || s == Dismissed }

// Open reports whether an initiative in s counts as the recommendation's open initiative: every
// status but failed and dismissed.
func (s Status) Open() bool { return s.Valid() && s != Failed && s != Dismissed }

// Allowed lists the statuses reachable from s in one change.
func Allowed(from Status) []Status { return slices.Clone(transitions[from]) }

// CanTransition reports whether the status may change from one to the other.
func CanTransition(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Initiative is a tracked recommendation.
type Initiative struct {
	ID               string   `json:"id"` // server-assigned, URL-safe: "ini_" + 16 hex digits
	RecommendationID string   `json:"recommendation_id"`
	Kind             string   `json:"kind"` // the recommendation's kind
	Title            string   `json:"title"`
	Targets          []string `json:"targets"` // resource, tenant or provider ids the recommendation names
	Status           Status   `json:"status"`
	Owner            string   `json:"owner"`
	Notes            string   `json:"notes"`
	// ExpectedSavings is the recommendation's savings estimate captured at creation, kept verbatim
	// (compacted); this package only checks that it is JSON.
	ExpectedSavings json.RawMessage `json:"expected_savings,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	CreatedBy       string          `json:"created_by"`
	// ChangedAt is when the change was made: set on entering in_progress, or explicitly by a
	// patch. Realized savings compare the windows after it with the same span before it.
	ChangedAt *time.Time `json:"changed_at"`
	// Revision is the KV revision of the stored value, the ETag. It is not part of the stored value.
	Revision uint64   `json:"revision"`
	History  []Change `json:"history"`
}

// Change is one entry of an initiative's history.
type Change struct {
	ID     string        `json:"id"` // unique ("chg_" + 16 hex digits)
	At     time.Time     `json:"at"`
	By     string        `json:"by"`
	Fields []FieldChange `json:"fields"`
	Note   string        `json:"note,omitempty"`
}

// FieldChange is one field's old and new value. Times are RFC 3339; an unset value is "".
type FieldChange struct {
	Field string `json:"field"` // status, owner, notes, changed_at
	From  string `json:"from"`
	To    string `json:"to"`
}

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	Status    *Status    `json:"status,omitempty"`
	Owner     *string    `json:"owner,omitempty"` // "" clears the owner
	Notes     *string    `json:"notes,omitempty"` // replaces the notes
	ChangedAt *time.Time `json:"changed_at,omitempty"`
}

// Limits, in characters (runes).
const (
	MaxIDLen              = 200 // recommendation id, each target
	MaxKindLen            = 100
	MaxTitleLen           = 300
	MaxOwnerLen           = 200 // owner and actor (created by, by)
	MaxNotesLen           = 4000
	MaxTargets            = 200
	MaxExpectedSavingsLen = 16 << 10 // bytes of JSON
)

var idRe = regexp.MustCompile(`^ini_[0-9a-f]{16}$`)

// ValidID reports whether id has the form of an initiative id. Anything else is never looked up.
func ValidID(id string) bool { return idRe.MatchString(id) }

// NewID returns a random initiative id.
func NewID() string { return "ini_" + randomHex() }

func newChangeID() string { return "chg_" + randomHex() }

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

// New validates a new initiative and fills in what the server decides: the id (unless in.ID is a
// valid id already, e.g. a retried request), status proposed, the timestamps and the first history
// entry. in.Status must be empty or proposed; in.Revision, in.History, in.ChangedAt and
// in.UpdatedAt are ignored.
func New(in Initiative, now time.Time) (Initiative, error) {
	now = now.UTC()
	out := Initiative{
		ID:               in.ID,
		RecommendationID: strings.TrimSpace(in.RecommendationID),
		Kind:             strings.TrimSpace(in.Kind),
		Title:            strings.TrimSpace(in.Title),
		Targets:          make([]string, 0, len(in.Targets)),
		Status:           Proposed,
		Owner:            strings.TrimSpace(in.Owner),
		Notes:            normalizeNotes(in.Notes),
		CreatedAt:        now,
		UpdatedAt:        now,
		CreatedBy:        strings.TrimSpace(in.CreatedBy),
	}
	if out.ID == "" {
		out.ID = NewID()
	} else if !ValidID(out.ID) {
		return Initiative{}, invalid("id", "must be \"ini_\" and 16 lower-case hex digits, or empty")
	}
	if in.Status != "" && in.Status != Proposed {
		return Initiative{}, invalid("status", "a new initiative is %s, not %q", Proposed, in.Status)
	}
	checks := []error{
		checkLine("recommendation_id", out.RecommendationID, MaxIDLen, true),
		checkLine("kind", out.Kind, MaxKindLen, true),
		checkLine("title", out.Title, MaxTitleLen, true),
		checkLine("owner", out.Owner, MaxOwnerLen, false),
		checkNotes(out.Notes),
		checkLine("created_by", out.CreatedBy, MaxOwnerLen, true),
	}
	for _, err := range checks {
		if err != nil {
			return Initiative{}, err
		}
	}
	if len(in.Targets) > MaxTargets {
		return Initiative{}, invalid("targets", "has %d entries, at most %d allowed", len(in.Targets), MaxTargets)
	}
	for i, t := range in.Targets {
		t = strings.TrimSpace(t)
		if err := checkLine(fmt.Sprintf("targets[%d]", i), t, MaxIDLen, true); err != nil {
			return Initiative{}, err
		}
		out.Targets = append(out.Targets, t)
	}
	if len(in.ExpectedSavings) > 0 {
		if len(in.ExpectedSavings) > MaxExpectedSavingsLen {
			return Initiative{}, invalid("expected_savings", "is larger than %d bytes", MaxExpectedSavingsLen)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, in.ExpectedSavings); err != nil {
			return Initiative{}, invalid("expected_savings", "is not valid JSON")
		}
		out.ExpectedSavings = buf.Bytes()
	}
	c := Change{
		ID: newChangeID(), At: now, By: out.CreatedBy,
		Fields: []FieldChange{{Field: "status", To: string(Proposed)}},
		Note:   "created from recommendation " + out.RecommendationID,
	}
	if out.Owner != "" {
		c.Fields = append(c.Fields, FieldChange{Field: "owner", To: out.Owner})
	}
	if out.Notes != "" {
		c.Fields = append(c.Fields, FieldChange{Field: "notes", To: out.Notes})
	}
	out.History = []Change{c}
	return out, nil
}

// Apply validates p against in and returns the updated initiative with one more History entry
// made by `by` at now. A patch that sets every field to the value it has already returns in
// unchanged (no history entry); an empty patch is invalid. in is not modified.
func Apply(in Initiative, p Patch, by string, now time.Time) (Initiative, error) {
	now = now.UTC()
	by = strings.TrimSpace(by)
	if err := checkLine("by", by, MaxOwnerLen, true); err != nil {
		return in, err
	}
	if p.Status == nil && p.Owner == nil && p.Notes == nil && p.ChangedAt == nil {
		return in, invalid("patch", "changes nothing: set status, owner, notes or changed_at")
	}
	out := in
	var fields []FieldChange
	set := func(field, from, to string) {
		if from != to {
			fields = append(fields, FieldChange{Field: field, From: from, To: to})
		}
	}

	if p.Status != nil {
		to, err := ParseStatus(string(*p.Status))
		if err != nil {
			return in, err
		}
		if to != in.Status {
			if !CanTransition(in.Status, to) {
				return in, &TransitionError{From: in.Status, To: to}
			}
			out.Status = to
			set("status", string(in.Status), string(to))
		}
	}
	if p.Owner != nil {
		owner := strings.TrimSpace(*p.Owner)
		if err := checkLine("owner", owner, MaxOwnerLen, false); err != nil {
			return in, err
		}
		out.Owner = owner
	}
	if out.Status == Claimed && in.Status != Claimed && out.Owner == "" {
		out.Owner = by // claiming without naming an owner claims it for the caller
	}
	set("owner", in.Owner, out.Owner)
	if p.Notes != nil {
		notes := normalizeNotes(*p.Notes)
		if err := checkNotes(notes); err != nil {
			return in, err
		}
		out.Notes = notes
		set("notes", in.Notes, out.Notes)
	}

	switch {
	case p.ChangedAt != nil:
		if out.Status != InProgress && out.Status != Succeeded {
			return in, invalid("changed_at", "can be set only on an initiative that is (or becomes) %s or %s", InProgress, Succeeded)
		}
		if p.ChangedAt.IsZero() {
			return in, invalid("changed_at", "must be a time")
		}
		if p.ChangedAt.After(now) {
			return in, invalid("changed_at", "is in the future")
		}
		t := p.ChangedAt.UTC()
		out.ChangedAt = &t
	case out.Status == InProgress && in.Status != InProgress,
		out.Status == Succeeded && in.ChangedAt == nil:
		t := now
		out.ChangedAt = &t
	}
	set("changed_at", formatTime(in.ChangedAt), formatTime(out.ChangedAt))

	if len(fields) == 0 {
		return in, nil
	}
	out.UpdatedAt = now
	out.History = append(slices.Clip(in.History), Change{ID: newChangeID(), At: now, By: by, Fields: fields})
	return out, nil
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func normalizeNotes(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// checkLine validates a single-line field (already trimmed).
func checkLine(field, s string, maxLen int, required bool) error {
	if err := checkText(field, s, maxLen, false); err != nil {
		return err
	}
	if required && s == "" {
		return invalid(field, "is required")
	}
	return nil
}

func checkNotes(s string) error { return checkText("notes", s, MaxNotesLen, true) }

func checkText(field, s string, maxLen int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return invalid(field, "has %d characters, at most %d allowed", n, maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) && (!multiline || (r != '\n' && r != '\t')) {
			return invalid(field, "contains the control character U+%04X", r)
		}
	}
	return nil
}

// hasChange reports whether the history holds the change with this id.
func (in Initiative) hasChange(id string) bool {
	return slices.ContainsFunc(in.History, func(c Change) bool { return c.ID == id })
}
