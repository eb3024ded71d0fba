package initiatives

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	t0  = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	now = t0.Add(48 * time.Hour)
)

func ptr[T any](v T) *T { return &v }

func st(s Status) *Status { return &s }

// at returns a stored-looking initiative in status s, created at t0.
func at(t *testing.T, s Status) Initiative {
	t.Helper()
	in, err := New(Initiative{
		RecommendationID: "rec-consolidate-1", Kind: "consolidate", Title: "Consolidate 2 idle VPS",
		Targets: []string{"vps-1", "vps-2"}, CreatedBy: "cfo@example.com",
	}, t0)
	require.NoError(t, err)
	in.Status = s
	if s == InProgress || s == Succeeded || s == Failed {
		c := t0.Add(time.Hour)
		in.ChangedAt = &c
	}
	return in
}

func TestTransitionTable(t *testing.T) {
	allowed := map[[2]Status]bool{
		{Proposed, Claimed}: true, {Proposed, InProgress}: true, {Proposed, Dismissed}: true,
		{Claimed, InProgress}: true, {Claimed, Dismissed}: true, {Claimed, Proposed}: true,
		{InProgress, Succeeded}: true, {InProgress, Failed}: true, {InProgress, Dismissed}: true,
		{Failed, InProgress}: true, {Failed, Dismissed}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			if from == to {
				continue
			}
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				require.Equal(t, allowed[[2]Status{from, to}], CanTransition(from, to))
				got, err := Apply(at(t, from), Patch{Status: st(to)}, "ops@example.com", now)
				if !allowed[[2]Status{from, to}] {
					var te *TransitionError
					require.ErrorAs(t, err, &te)
					require.ErrorIs(t, err, ErrTransition)
					require.Equal(t, TransitionError{From: from, To: to}, *te)
					return
				}
				require.NoError(t, err)
				require.Equal(t, to, got.Status)
				last := got.History[len(got.History)-1]
				require.Contains(t, last.Fields, FieldChange{Field: "status", From: string(from), To: string(to)})
			})
		}
	}
	require.True(t, Succeeded.Terminal())
	require.True(t, Dismissed.Terminal())
	require.Empty(t, Allowed(Succeeded))
	require.Empty(t, Allowed(Dismissed))
}

func TestApply(t *testing.T) {
	changed := t0.Add(30 * time.Hour)
	tests := map[string]struct {
		from    Status
		owner   string // the initiative's owner before the patch
		patch   Patch
		by      string
		want    func(t *testing.T, in, got Initiative)
		fields  []FieldChange // the new history entry; nil: none expected
		wantErr error
		field   string // the InvalidError field, when wantErr is ErrInvalid
	}{
		// Allowed transitions and their side effects.
		"proposed to claimed claims for the caller": {
			from: Proposed, patch: Patch{Status: st(Claimed)},
			fields: []FieldChange{{"status", "proposed", "claimed"}, {"owner", "", "ops@example.com"}},
			want:   func(t *testing.T, _, got Initiative) { require.Equal(t, "ops@example.com", got.Owner) },
		},
		"proposed to claimed keeps an existing owner": {
			from: Proposed, owner: "ana", patch: Patch{Status: st(Claimed)},
			fields: []FieldChange{{"status", "proposed", "claimed"}},
		},
		"proposed to claimed with a named owner": {
			from: Proposed, patch: Patch{Status: st(Claimed), Owner: ptr("bo")},
			fields: []FieldChange{{"status", "proposed", "claimed"}, {"owner", "", "bo"}},
		},
		"proposed to in_progress sets the change date to now": {
			from: Proposed, patch: Patch{Status: st(InProgress)},
			fields: []FieldChange{{"status", "proposed", "in_progress"}, {"changed_at", "", now.Format(time.RFC3339Nano)}},
			want:   func(t *testing.T, _, got Initiative) { require.Equal(t, now, *got.ChangedAt) },
		},
		"proposed to in_progress with an explicit change date": {
			from: Proposed, patch: Patch{Status: st(InProgress), ChangedAt: &changed},
			fields: []FieldChange{{"status", "proposed", "in_progress"}, {"changed_at", "", changed.Format(time.RFC3339Nano)}},
		},
		"proposed to dismissed": {
			from: Proposed, patch: Patch{Status: st(Dismissed)},
			fields: []FieldChange{{"status", "proposed", "dismissed"}},
		},
		"claimed to proposed keeps the owner": {
			from: Claimed, owner: "ana", patch: Patch{Status: st(Proposed)},
			fields: []FieldChange{{"status", "claimed", "proposed"}},
		},
		"claimed to in_progress": {
			from: Claimed, owner: "ana", patch: Patch{Status: st(InProgress)},
			fields: []FieldChange{{"status", "claimed", "in_progress"}, {"changed_at", "", now.Format(time.RFC3339Nano)}},
		},
		"claimed to dismissed": {
			from: Claimed, owner: "ana", patch: Patch{Status: st(Dismissed)},
			fields: []FieldChange{{"status", "claimed", "dismissed"}},
		},
		"in_progress to succeeded keeps the change date": {
			from: InProgress, patch: Patch{Status: st(Succeeded)},
			fields: []FieldChange{{"status", "in_progress", "succeeded"}},
			want:   func(t *testing.T, in, got Initiative) { require.Equal(t, *in.ChangedAt, *got.ChangedAt) },
		},
		"in_progress to succeeded with an explicit change date": {
			from: InProgress, patch: Patch{Status: st(Succeeded), ChangedAt: &changed},
			fields: []FieldChange{
				{"status", "in_progress", "succeeded"},
				{"changed_at", t0.Add(time.Hour).Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano)},
			},
		},
		"in_progress to failed": {
			from: InProgress, patch: Patch{Status: st(Failed)},
			fields: []FieldChange{{"status", "in_progress", "failed"}},
		},
		"in_progress to dismissed": {
			from: InProgress, patch: Patch{Status: st(Dismissed)},
			fields: []FieldChange{{"status", "in_progress", "dismissed"}},
		},
		"failed to in_progress resets the change date": {
			from: Failed, patch: Patch{Status: st(InProgress)},
			fields: []FieldChange{
				{"status", "failed", "in_progress"},
				{"changed_at", t0.Add(time.Hour).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano)},
			},
		},
		"failed to dismissed": {
			from: Failed, patch: Patch{Status: st(Dismissed)},
			fields: []FieldChange{{"status", "failed", "dismissed"}},
		},

		// Refused transitions.
		"succeeded is terminal":         {from: Succeeded, patch: Patch{Status: st(InProgress)}, wantErr: ErrTransition},
		"succeeded cannot be dismissed": {from: Succeeded, patch: Patch{Status: st(Dismissed)}, wantErr: ErrTransition},
		"dismissed is terminal":         {from: Dismissed, patch: Patch{Status: st(Proposed)}, wantErr: ErrTransition},
		"proposed cannot succeed":       {from: Proposed, patch: Patch{Status: st(Succeeded)}, wantErr: ErrTransition},
		"claimed cannot fail":           {from: Claimed, patch: Patch{Status: st(Failed)}, wantErr: ErrTransition},
		"in_progress cannot go back":    {from: InProgress, patch: Patch{Status: st(Claimed)}, wantErr: ErrTransition},
		"failed cannot succeed":         {from: Failed, patch: Patch{Status: st(Succeeded)}, wantErr: ErrTransition},
		"a refused transition with a valid note is refused whole": {
			from: Dismissed, patch: Patch{Status: st(InProgress), Notes: ptr("retry")}, wantErr: ErrTransition,
		},

		// Terminal initiatives keep taking notes, owners and change-date corrections.
		"notes on a dismissed initiative": {
			from: Dismissed, patch: Patch{Notes: ptr("not worth it: contract ends in May")},
			fields: []FieldChange{{"notes", "", "not worth it: contract ends in May"}},
		},
		"owner on a succeeded initiative": {
			from: Succeeded, patch: Patch{Owner: ptr("finance")},
			fields: []FieldChange{{"owner", "", "finance"}},
		},
		"change date corrected on a succeeded initiative": {
			from: Succeeded, patch: Patch{ChangedAt: &changed},
			fields: []FieldChange{{"changed_at", t0.Add(time.Hour).Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano)}},
		},
		"same status with nothing else changes nothing": {
			from: InProgress, patch: Patch{Status: st(InProgress)},
		},
		"same owner changes nothing": {
			from: Claimed, owner: "ana", patch: Patch{Owner: ptr(" ana ")},
		},

		// Field validation.
		"unknown status":        {from: Proposed, patch: Patch{Status: st("done")}, wantErr: ErrInvalid, field: "status"},
		"empty status":          {from: Proposed, patch: Patch{Status: st("")}, wantErr: ErrInvalid, field: "status"},
		"empty patch":           {from: Proposed, patch: Patch{}, wantErr: ErrInvalid, field: "patch"},
		"no actor":              {from: Proposed, patch: Patch{Notes: ptr("x")}, by: " ", wantErr: ErrInvalid, field: "by"},
		"owner at the limit":    {from: Proposed, patch: Patch{Owner: ptr(strings.Repeat("é", MaxOwnerLen))}, fields: []FieldChange{{"owner", "", strings.Repeat("é", MaxOwnerLen)}}},
		"owner too long":        {from: Proposed, patch: Patch{Owner: ptr(strings.Repeat("é", MaxOwnerLen+1))}, wantErr: ErrInvalid, field: "owner"},
		"owner with a newline":  {from: Proposed, patch: Patch{Owner: ptr("ana\nbo")}, wantErr: ErrInvalid, field: "owner"},
		"owner not UTF-8":       {from: Proposed, patch: Patch{Owner: ptr("ana\xff")}, wantErr: ErrInvalid, field: "owner"},
		"owner cleared":         {from: Claimed, owner: "ana", patch: Patch{Owner: ptr("")}, fields: []FieldChange{{"owner", "ana", ""}}},
		"notes at the limit":    {from: Proposed, patch: Patch{Notes: ptr(strings.Repeat("€", MaxNotesLen))}, fields: []FieldChange{{"notes", "", strings.Repeat("€", MaxNotesLen)}}},
		"notes too long":        {from: Proposed, patch: Patch{Notes: ptr(strings.Repeat("a", MaxNotesLen+1))}, wantErr: ErrInvalid, field: "notes"},
		"notes not UTF-8":       {from: Proposed, patch: Patch{Notes: ptr("a\xc3(")}, wantErr: ErrInvalid, field: "notes"},
		"notes with a bell":     {from: Proposed, patch: Patch{Notes: ptr("ding\a")}, wantErr: ErrInvalid, field: "notes"},
		"notes with NUL":        {from: Proposed, patch: Patch{Notes: ptr("a\x00b")}, wantErr: ErrInvalid, field: "notes"},
		"notes with a lone CR":  {from: Proposed, patch: Patch{Notes: ptr("a\rb")}, wantErr: ErrInvalid, field: "notes"},
		"notes with DEL":        {from: Proposed, patch: Patch{Notes: ptr("a\x7fb")}, wantErr: ErrInvalid, field: "notes"},
		"notes with C1 control": {from: Proposed, patch: Patch{Notes: ptr("a\u0085b")}, wantErr: ErrInvalid, field: "notes"},
		"notes keep newlines and tabs, CRLF becomes LF": {
			from: Proposed, patch: Patch{Notes: ptr("step 1:\r\n\tresize\n")},
			fields: []FieldChange{{"notes", "", "step 1:\n\tresize\n"}},
		},
		"changed_at on a proposed initiative": {
			from: Proposed, patch: Patch{ChangedAt: &changed}, wantErr: ErrInvalid, field: "changed_at",
		},
		"changed_at while failing": {
			from: InProgress, patch: Patch{Status: st(Failed), ChangedAt: &changed}, wantErr: ErrInvalid, field: "changed_at",
		},
		"changed_at in the future": {
			from: InProgress, patch: Patch{ChangedAt: ptr(now.Add(time.Second))}, wantErr: ErrInvalid, field: "changed_at",
		},
		"changed_at zero": {
			from: InProgress, patch: Patch{ChangedAt: &time.Time{}}, wantErr: ErrInvalid, field: "changed_at",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := at(t, tc.from)
			in.Owner = tc.owner
			in.Revision = 7
			before := cloneJSON(t, in)
			by := tc.by
			if by == "" {
				by = "ops@example.com"
			}
			got, err := Apply(in, tc.patch, by, now)
			require.Equal(t, before, cloneJSON(t, in), "Apply modified its input")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				if tc.field != "" {
					var ie *InvalidError
					require.ErrorAs(t, err, &ie)
					require.Equal(t, tc.field, ie.Field)
				}
				return
			}
			require.NoError(t, err)
			if tc.fields == nil {
				require.Equal(t, in, got, "a patch that changes nothing returns the input")
				return
			}
			require.Len(t, got.History, len(in.History)+1)
			last := got.History[len(got.History)-1]
			require.Equal(t, tc.fields, last.Fields)
			require.Equal(t, now, last.At)
			require.Equal(t, strings.TrimSpace(by), last.By)
			require.Regexp(t, `^chg_[0-9a-f]{16}$`, last.ID)
			require.NotEqual(t, in.History[0].ID, last.ID)
			require.Equal(t, now, got.UpdatedAt)
			require.Equal(t, in.CreatedAt, got.CreatedAt)
			require.Equal(t, in.Revision, got.Revision, "the revision is the store's business")
			if tc.want != nil {
				tc.want(t, in, got)
			}
		})
	}
}

func cloneJSON(t *testing.T, in Initiative) string {
	t.Helper()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	return string(b)
}

func TestApplyHistoryAccumulates(t *testing.T) {
	in := at(t, Proposed)
	steps := []Patch{
		{Status: st(Claimed), Owner: ptr("ana")},
		{Notes: ptr("waiting for the maintenance window")},
		{Status: st(InProgress)},
		{Status: st(Failed), Notes: ptr("migration rolled back")},
		{Status: st(InProgress)},
		{Status: st(Succeeded)},
	}
	for i, p := range steps {
		var err error
		in, err = Apply(in, p, "ana", now.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
	}
	require.Len(t, in.History, 1+len(steps))
	require.Equal(t, Succeeded, in.Status)
	require.Equal(t, now.Add(4*time.Minute), *in.ChangedAt, "re-entering in_progress resets the change date")
	ids := map[string]bool{}
	for i, c := range in.History {
		require.False(t, ids[c.ID], "change ids are unique")
		ids[c.ID] = true
		if i > 0 {
			require.Equal(t, now.Add(time.Duration(i-1)*time.Minute), c.At)
		}
	}
	require.Equal(t, []FieldChange{{"status", "failed", "in_progress"}, {"changed_at", now.Add(2 * time.Minute).Format(time.RFC3339Nano), now.Add(4 * time.Minute).Format(time.RFC3339Nano)}}, in.History[5].Fields)
	_, err := Apply(in, Patch{Status: st(Dismissed)}, "ana", now.Add(time.Hour))
	require.ErrorIs(t, err, ErrTransition)
	require.Contains(t, err.Error(), "terminal")
}

func TestNew(t *testing.T) {
	valid := func() Initiative {
		return Initiative{
			RecommendationID: " rec-ip-7 ", Kind: "rebalance_ip_pool", Title: "Release 3 quiet IPs",
			Targets: []string{" ip-1", "ip-2 "}, CreatedBy: "cfo@example.com",
			ExpectedSavings: json.RawMessage(`{ "low": "60.00", "high": "90.00", "currency": "USD" }`),
		}
	}
	got, err := New(valid(), t0.In(time.FixedZone("CET", 3600)))
	require.NoError(t, err)
	require.True(t, ValidID(got.ID), got.ID)
	require.Equal(t, Proposed, got.Status)
	require.Equal(t, "rec-ip-7", got.RecommendationID)
	require.Equal(t, []string{"ip-1", "ip-2"}, got.Targets)
	require.JSONEq(t, `{"low":"60.00","high":"90.00","currency":"USD"}`, string(got.ExpectedSavings))
	require.Equal(t, `{"low":"60.00","high":"90.00","currency":"USD"}`, string(got.ExpectedSavings), "compacted")
	require.Equal(t, t0, got.CreatedAt)
	require.Equal(t, time.UTC, got.CreatedAt.Location())
	require.Equal(t, t0, got.UpdatedAt)
	require.Nil(t, got.ChangedAt)
	require.Len(t, got.History, 1)
	require.Equal(t, []FieldChange{{Field: "status", To: "proposed"}}, got.History[0].Fields)
	require.Equal(t, "cfo@example.com", got.History[0].By)
	require.Contains(t, got.History[0].Note, "rec-ip-7")

	other, err := New(valid(), t0)
	require.NoError(t, err)
	require.NotEqual(t, got.ID, other.ID, "ids are random")

	noTargets := valid()
	noTargets.Targets = nil
	got, err = New(noTargets, t0)
	require.NoError(t, err)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.Contains(t, string(b), `"targets":[]`)

	withID := valid()
	withID.ID = "ini_0123456789abcdef"
	got, err = New(withID, t0)
	require.NoError(t, err)
	require.Equal(t, withID.ID, got.ID)

	bad := map[string]struct {
		edit  func(*Initiative)
		field string
	}{
		"no recommendation":        {func(i *Initiative) { i.RecommendationID = "  " }, "recommendation_id"},
		"no kind":                  {func(i *Initiative) { i.Kind = "" }, "kind"},
		"no title":                 {func(i *Initiative) { i.Title = "" }, "title"},
		"title too long":           {func(i *Initiative) { i.Title = strings.Repeat("t", MaxTitleLen+1) }, "title"},
		"no creator":               {func(i *Initiative) { i.CreatedBy = "" }, "created_by"},
		"empty target":             {func(i *Initiative) { i.Targets = []string{"a", " "} }, "targets[1]"},
		"too many targets":         {func(i *Initiative) { i.Targets = make([]string, MaxTargets+1) }, "targets"},
		"starts in progress":       {func(i *Initiative) { i.Status = InProgress }, "status"},
		"savings not JSON":         {func(i *Initiative) { i.ExpectedSavings = json.RawMessage(`{low:1}`) }, "expected_savings"},
		"bad id":                   {func(i *Initiative) { i.ID = "../etc" }, "id"},
		"recommendation with a LF": {func(i *Initiative) { i.RecommendationID = "a\nb" }, "recommendation_id"},
		"notes with a control":     {func(i *Initiative) { i.Notes = "\x1b[31m" }, "notes"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			in := valid()
			tc.edit(&in)
			_, err := New(in, t0)
			var ie *InvalidError
			require.ErrorAs(t, err, &ie)
			require.ErrorIs(t, err, ErrInvalid)
			require.Equal(t, tc.field, ie.Field)
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		got, err := ParseStatus(string(s))
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	_, err := ParseStatus("In_Progress")
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, []bool{true, true, true, true, false, false},
		[]bool{Proposed.Open(), Claimed.Open(), InProgress.Open(), Succeeded.Open(), Failed.Open(), Dismissed.Open()})
	require.False(t, Status("x").Open())
}

func TestErrorsAreTyped(t *testing.T) {
	require.ErrorIs(t, &ExistsError{ID: "ini_1"}, ErrExists)
	require.ErrorIs(t, fmt.Errorf("create: %w", &ConflictError{ID: "ini_1", Given: 1, Current: 2}), ErrConflict)
	require.NotErrorIs(t, &ConflictError{}, ErrExists)
	require.ErrorIs(t, &TransitionError{From: Proposed, To: Succeeded}, ErrTransition)
	require.Equal(t, "recommendation r already has an open initiative ini_1",
		(&ExistsError{ID: "ini_1", RecommendationID: "r"}).Error())
}
