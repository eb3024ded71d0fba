package initiatives

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/consumers/streams"
)

// testNATS is an embedded NATS server on dir with a client connection.
type testNATS struct {
	emb  *streams.Embedded
	nc   *nats.Conn
	js   jetstream.JetStream
	once sync.Once
}

func startNATS(t *testing.T, dir string) *testNATS {
	t.Helper()
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Dir: dir, Port: -1, MaxStore: 1 << 30})
	require.NoError(t, err)
	n := &testNATS{emb: emb}
	t.Cleanup(n.stop) // registered before TempDir's removal runs (LIFO)
	n.nc, err = nats.Connect(emb.URL())
	require.NoError(t, err)
	n.js, err = jetstream.New(n.nc)
	require.NoError(t, err)
	return n
}

func (n *testNATS) stop() {
	n.once.Do(func() {
		if n.nc != nil {
			n.nc.Close()
		}
		n.emb.Shutdown()
	})
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t *testing.T) (*Store, *testNATS) {
	t.Helper()
	n := startNATS(t, t.TempDir())
	s, err := OpenStore(testCtx(t), n.js, 1)
	require.NoError(t, err)
	return s, n
}

func newInitiative(rec string, created time.Time) Initiative {
	return Initiative{
		RecommendationID: rec, Kind: "consolidate", Title: "Consolidate " + rec,
		Targets: []string{"vps-1", "vps-2"}, CreatedBy: "cfo@example.com", CreatedAt: created,
		ExpectedSavings: json.RawMessage(`{"low":"10.00","high":"25.00","currency":"USD"}`),
	}
}

func TestStoreCreateGetList(t *testing.T) {
	s, n := openStore(t)
	ctx := testCtx(t)

	b, err := s.Create(ctx, newInitiative("rec-b", t0.Add(time.Hour)))
	require.NoError(t, err)
	require.True(t, ValidID(b.ID))
	require.NotZero(t, b.Revision)
	require.Equal(t, Proposed, b.Status)
	require.Equal(t, t0.Add(time.Hour), b.CreatedAt)

	// Two created at the same instant are listed by id.
	a1, err := s.Create(ctx, newInitiative("rec-a1", t0))
	require.NoError(t, err)
	a2, err := s.Create(ctx, newInitiative("rec-a2", t0))
	require.NoError(t, err)

	got, err := s.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b, got)

	list, err := s.List(ctx)
	require.NoError(t, err)
	first, second := a1, a2
	if a2.ID < a1.ID {
		first, second = a2, a1
	}
	require.Equal(t, []Initiative{first, second, b}, list)

	// The value holds no revision: it is the entry's.
	e, err := s.kv.Get(ctx, initiativeKey(b.ID))
	require.NoError(t, err)
	require.NotContains(t, string(e.Value()), `"revision"`)
	require.Equal(t, b.Revision, e.Revision())

	for _, id := range []string{"ini_0000000000000000", "", "ini.>", "*", "ini_ZZZZZZZZZZZZZZZZ"} {
		_, err := s.Get(ctx, id)
		require.ErrorIs(t, err, ErrNotFound, id)
	}

	// Opening again binds to the same bucket.
	again, err := OpenStore(ctx, n.js, 1)
	require.NoError(t, err)
	list2, err := again.List(ctx)
	require.NoError(t, err)
	require.Equal(t, list, list2)

	// A caller-chosen id that is taken is refused.
	dup := newInitiative("rec-c", t0)
	dup.ID = b.ID
	_, err = s.Create(ctx, dup)
	var ee *ExistsError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, b.ID, ee.ID)

	_, err = s.Create(ctx, Initiative{RecommendationID: "rec-d"})
	require.ErrorIs(t, err, ErrInvalid)

	_, err = OpenStore(ctx, n.js, 0)
	require.Error(t, err)
}

func TestStoreListEmpty(t *testing.T) {
	s, _ := openStore(t)
	list, err := s.List(testCtx(t))
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestStoreUpdate(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)
	in, err := s.Create(ctx, newInitiative("rec-1", t0))
	require.NoError(t, err)

	claimed, err := s.Update(ctx, in.ID, in.Revision, Patch{Status: st(Claimed)}, "ana", now)
	require.NoError(t, err)
	require.Greater(t, claimed.Revision, in.Revision)
	require.Equal(t, Claimed, claimed.Status)
	require.Equal(t, "ana", claimed.Owner)
	require.Len(t, claimed.History, 2)
	got, err := s.Get(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, claimed, got)

	// A stale revision is refused with the current one, and nothing is written.
	before, err := s.kv.Get(ctx, initiativeKey(in.ID))
	require.NoError(t, err)
	cur, err := s.Update(ctx, in.ID, in.Revision, Patch{Notes: ptr("lost?")}, "bo", now)
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrConflict)
	require.Equal(t, ConflictError{ID: in.ID, Given: in.Revision, Current: claimed.Revision}, *ce)
	require.Equal(t, claimed, cur, "the current initiative comes with the conflict")
	after, err := s.kv.Get(ctx, initiativeKey(in.ID))
	require.NoError(t, err)
	require.Equal(t, before.Revision(), after.Revision())
	require.Equal(t, before.Value(), after.Value())

	// A revision from the future is stale too.
	_, err = s.Update(ctx, in.ID, claimed.Revision+100, Patch{Notes: ptr("x")}, "bo", now)
	require.ErrorIs(t, err, ErrConflict)

	// Refusals write nothing.
	_, err = s.Update(ctx, in.ID, claimed.Revision, Patch{Status: st(Succeeded)}, "bo", now)
	require.ErrorIs(t, err, ErrTransition)
	_, err = s.Update(ctx, in.ID, claimed.Revision, Patch{Owner: ptr(strings.Repeat("x", MaxOwnerLen+1))}, "bo", now)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = s.Update(ctx, in.ID, 0, Patch{Notes: ptr("x")}, "bo", now)
	var ie *InvalidError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "revision", ie.Field)
	_, err = s.Update(ctx, "ini_0000000000000000", 1, Patch{Notes: ptr("x")}, "bo", now)
	require.ErrorIs(t, err, ErrNotFound)

	// A patch that changes nothing writes nothing.
	same, err := s.Update(ctx, in.ID, claimed.Revision, Patch{Status: st(Claimed)}, "bo", now)
	require.NoError(t, err)
	require.Equal(t, claimed, same)
	after, err = s.kv.Get(ctx, initiativeKey(in.ID))
	require.NoError(t, err)
	require.Equal(t, before.Revision(), after.Revision())

	// Through to succeeded with a change date.
	changed := now.Add(-time.Hour)
	ip, err := s.Update(ctx, in.ID, claimed.Revision, Patch{Status: st(InProgress), ChangedAt: &changed}, "ana", now)
	require.NoError(t, err)
	done, err := s.Update(ctx, in.ID, ip.Revision, Patch{Status: st(Succeeded), Notes: ptr("2 instances retired")}, "ana", now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, changed, *done.ChangedAt)
	require.Len(t, done.History, 4)
	got, err = s.Get(ctx, in.ID)
	require.NoError(t, err)
	require.Equal(t, done, got)
}

// TestStoreConcurrentUpdates: N writers, each retrying on conflict, leave exactly N changes, each
// made on top of the one before it.
func TestStoreConcurrentUpdates(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)
	in, err := s.Create(ctx, newInitiative("rec-hot", t0))
	require.NoError(t, err)

	const writers = 16
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
	)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			note := fmt.Sprintf("writer %d", w)
			for {
				cur, err := s.Get(ctx, in.ID)
				if err != nil {
					errs <- err
					return
				}
				_, err = s.Update(ctx, in.ID, cur.Revision, Patch{Notes: &note}, note, now)
				if errors.Is(err, ErrConflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				errs <- err
				return
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d writers, %d conflicts retried", writers, conflicts)

	got, err := s.Get(ctx, in.ID)
	require.NoError(t, err)
	require.Len(t, got.History, 1+writers, "one creation and one change per writer")
	seen := map[string]bool{}
	prev := ""
	for _, c := range got.History[1:] {
		require.Len(t, c.Fields, 1)
		f := c.Fields[0]
		require.Equal(t, "notes", f.Field)
		require.Equal(t, prev, f.From, "each change was made on top of the previous one")
		require.Equal(t, c.By, f.To)
		require.False(t, seen[f.To])
		seen[f.To] = true
		prev = f.To
	}
	require.Len(t, seen, writers)
	require.Equal(t, prev, got.Notes)
}

func TestStoreOneOpenPerRecommendation(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)

	a, err := s.Create(ctx, newInitiative("rec-x", t0))
	require.NoError(t, err)
	_, err = s.Create(ctx, newInitiative("rec-x", t0))
	var ee *ExistsError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, ExistsError{ID: a.ID, RecommendationID: "rec-x"}, *ee)
	// Another recommendation is not affected.
	_, err = s.Create(ctx, newInitiative("rec-y", t0))
	require.NoError(t, err)

	// Succeeded still counts as open.
	ip, err := s.Update(ctx, a.ID, a.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	done, err := s.Update(ctx, a.ID, ip.Revision, Patch{Status: st(Succeeded)}, "ana", now)
	require.NoError(t, err)
	_, err = s.Create(ctx, newInitiative("rec-x", t0))
	require.ErrorIs(t, err, ErrExists)
	_ = done

	// Failed frees the recommendation; reopening the failed one is then refused.
	c, err := s.Create(ctx, newInitiative("rec-z", t0))
	require.NoError(t, err)
	c, err = s.Update(ctx, c.ID, c.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	c, err = s.Update(ctx, c.ID, c.Revision, Patch{Status: st(Failed)}, "ana", now)
	require.NoError(t, err)
	d, err := s.Create(ctx, newInitiative("rec-z", t0))
	require.NoError(t, err)
	_, err = s.Update(ctx, c.ID, c.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.ErrorAs(t, err, &ee)
	require.Equal(t, d.ID, ee.ID)
	// Notes on the failed one are fine; they do not reopen it.
	c, err = s.Update(ctx, c.ID, c.Revision, Patch{Notes: ptr("superseded by " + d.ID)}, "ana", now)
	require.NoError(t, err)

	// Once d is dismissed, c may be reopened, and then d's recommendation is taken again.
	_, err = s.Update(ctx, d.ID, d.Revision, Patch{Status: st(Dismissed)}, "ana", now)
	require.NoError(t, err)
	reopened, err := s.Update(ctx, c.ID, c.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	require.Greater(t, reopened.Revision, c.Revision)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, reopened, got)
	_, err = s.Create(ctx, newInitiative("rec-z", t0))
	require.ErrorAs(t, err, &ee)
	require.Equal(t, c.ID, ee.ID)
}

func TestStoreConcurrentCreatesForOneRecommendation(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)
	const n = 12
	var wg sync.WaitGroup
	created := make(chan Initiative, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			in, err := s.Create(ctx, newInitiative("rec-race", t0))
			if err != nil {
				errs <- err
				return
			}
			created <- in
		})
	}
	wg.Wait()
	close(created)
	close(errs)
	require.Len(t, created, 1, "exactly one create wins")
	winner := <-created
	for err := range errs {
		var ee *ExistsError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, winner.ID, ee.ID)
	}
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []Initiative{winner}, list)
}

// TestStoreConcurrentReopenAndCreate: a failed initiative being reopened while others create new
// initiatives for the same recommendation ends with exactly one open.
func TestStoreConcurrentReopenAndCreate(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)
	for round := range 5 {
		rec := fmt.Sprintf("rec-round-%d", round)
		c, err := s.Create(ctx, newInitiative(rec, t0))
		require.NoError(t, err)
		c, err = s.Update(ctx, c.ID, c.Revision, Patch{Status: st(InProgress)}, "ana", now)
		require.NoError(t, err)
		c, err = s.Update(ctx, c.ID, c.Revision, Patch{Status: st(Failed)}, "ana", now)
		require.NoError(t, err)

		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := s.Update(ctx, c.ID, c.Revision, Patch{Status: st(InProgress)}, "ana", now)
			if err != nil && !errors.Is(err, ErrExists) {
				t.Errorf("reopen: %v", err)
			}
		})
		for range 4 {
			wg.Go(func() {
				_, err := s.Create(ctx, newInitiative(rec, t0))
				if err != nil && !errors.Is(err, ErrExists) {
					t.Errorf("create: %v", err)
				}
			})
		}
		wg.Wait()
		list, err := s.List(ctx)
		require.NoError(t, err)
		open := 0
		for _, in := range list {
			if in.RecommendationID == rec && in.Status.Open() {
				open++
			}
		}
		require.Equal(t, 1, open, "round %d", round)
	}
}

// TestStoreSettlesIntentOfDeadWriter: a process that died after taking a slot leaves an intent;
// the next writer for that recommendation, or OpenStore, finishes it.
func TestStoreSettlesIntentOfDeadWriter(t *testing.T) {
	s, n := openStore(t)
	ctx := testCtx(t)

	// leave writes what a writer that died after taking the slot leaves behind.
	leave := func(ini Initiative, from, slotRev uint64) {
		t.Helper()
		value, err := encode(ini)
		require.NoError(t, err)
		b, err := json.Marshal(slot{RecommendationID: ini.RecommendationID, Open: ini.ID, Pending: &intent{
			ID: ini.ID, Change: ini.History[len(ini.History)-1].ID, From: from, Value: value,
		}})
		require.NoError(t, err)
		if slotRev == 0 {
			_, err = s.kv.Create(ctx, slotKey(ini.RecommendationID), b)
		} else {
			_, err = s.kv.Update(ctx, slotKey(ini.RecommendationID), b, slotRev)
		}
		require.NoError(t, err)
	}
	pending := func(rec string) bool {
		t.Helper()
		sl, _, err := s.readSlot(ctx, slotKey(rec))
		require.NoError(t, err)
		return sl.Pending != nil
	}

	// A create that died before writing the initiative: the next create for the recommendation
	// completes it and is refused.
	dead, err := New(newInitiative("rec-dead-1", t0), t0)
	require.NoError(t, err)
	leave(dead, 0, 0)
	_, err = s.Get(ctx, dead.ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.Create(ctx, newInitiative("rec-dead-1", t0))
	var ee *ExistsError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, dead.ID, ee.ID)
	got, err := s.Get(ctx, dead.ID)
	require.NoError(t, err)
	require.Equal(t, dead.History, got.History)
	require.False(t, pending("rec-dead-1"))

	// The same, finished by OpenStore.
	dead2, err := New(newInitiative("rec-dead-2", t0), t0)
	require.NoError(t, err)
	leave(dead2, 0, 0)
	_, err = OpenStore(ctx, n.js, 1)
	require.NoError(t, err)
	_, err = s.Get(ctx, dead2.ID)
	require.NoError(t, err)
	require.False(t, pending("rec-dead-2"))

	// A create that died after writing the initiative but before clearing the slot.
	dead3, err := New(newInitiative("rec-dead-3", t0), t0)
	require.NoError(t, err)
	leave(dead3, 0, 0)
	value, err := encode(dead3)
	require.NoError(t, err)
	rev3, err := s.kv.Create(ctx, initiativeKey(dead3.ID), value)
	require.NoError(t, err)
	_, err = OpenStore(ctx, n.js, 1)
	require.NoError(t, err)
	got, err = s.Get(ctx, dead3.ID)
	require.NoError(t, err)
	require.Equal(t, rev3, got.Revision, "recognized as applied, not written twice")
	require.False(t, pending("rec-dead-3"))

	// A reopening whose initiative changed before it was applied is abandoned: the slot is freed
	// and the initiative keeps its later state.
	f, err := s.Create(ctx, newInitiative("rec-dead-4", t0))
	require.NoError(t, err)
	f, err = s.Update(ctx, f.ID, f.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	f, err = s.Update(ctx, f.ID, f.Revision, Patch{Status: st(Failed)}, "ana", now)
	require.NoError(t, err)
	reopen, err := Apply(f, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	_, slotRev, err := s.readSlot(ctx, slotKey("rec-dead-4"))
	require.NoError(t, err)
	leave(reopen, f.Revision, slotRev)
	f, err = s.Update(ctx, f.ID, f.Revision, Patch{Notes: ptr("meanwhile")}, "bo", now) // moves it on
	require.NoError(t, err)
	g, err := s.Create(ctx, newInitiative("rec-dead-4", t0)) // settles (abandons), then takes the slot
	require.NoError(t, err)
	got, err = s.Get(ctx, f.ID)
	require.NoError(t, err)
	require.Equal(t, f, got)
	require.Equal(t, Failed, got.Status)
	sl, _, err := s.readSlot(ctx, slotKey("rec-dead-4"))
	require.NoError(t, err)
	require.Equal(t, slot{RecommendationID: "rec-dead-4", Open: g.ID}, sl)
}

func TestStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNATS(t, dir)
	ctx := testCtx(t)
	s, err := OpenStore(ctx, n.js, 1)
	require.NoError(t, err)
	a, err := s.Create(ctx, newInitiative("rec-1", t0))
	require.NoError(t, err)
	b, err := s.Create(ctx, newInitiative("rec-2", t0.Add(time.Minute)))
	require.NoError(t, err)
	stale := a.Revision
	a, err = s.Update(ctx, a.ID, a.Revision, Patch{Status: st(Claimed), Notes: ptr("owner: platform team")}, "ana", now)
	require.NoError(t, err)
	before, err := s.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []Initiative{a, b}, before)

	n.stop()
	n2 := startNATS(t, dir)
	s2, err := OpenStore(ctx, n2.js, 1)
	require.NoError(t, err)
	after, err := s2.List(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "data and revisions survive")

	_, err = s2.Update(ctx, a.ID, stale, Patch{Notes: ptr("x")}, "bo", now)
	require.ErrorIs(t, err, ErrConflict)
	a2, err := s2.Update(ctx, a.ID, a.Revision, Patch{Status: st(InProgress)}, "ana", now)
	require.NoError(t, err)
	require.Greater(t, a2.Revision, a.Revision)
	_, err = s2.Create(ctx, newInitiative("rec-2", t0))
	require.ErrorIs(t, err, ErrExists, "the open-initiative rule survives too")
}

func TestStoreRefusesOversizedInitiative(t *testing.T) {
	s, _ := openStore(t)
	ctx := testCtx(t)
	in, err := s.Create(ctx, newInitiative("rec-big", t0))
	require.NoError(t, err)
	for i := range 100 {
		notes := strings.Repeat(string(rune('a'+i%26)), MaxNotesLen)
		next, err := s.Update(ctx, in.ID, in.Revision, Patch{Notes: &notes}, "ana", now)
		if err != nil {
			var ie *InvalidError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, "history", ie.Field)
			require.Greater(t, i, 10)
			got, err := s.Get(ctx, in.ID)
			require.NoError(t, err)
			require.Equal(t, in, got)
			return
		}
		in = next
	}
	t.Fatal("an initiative grew without bound")
}
