package initiatives

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the JetStream key-value bucket of the initiatives.
const Bucket = "SPENDSTREAM_INITIATIVES"

// MaxValueBytes bounds one stored initiative (it grows with its history). An update that would
// pass it is refused with ErrInvalid on the field "history". The server's default max payload is
// 1 MiB, and a pending intent holds a whole value.
const MaxValueBytes = 256 << 10

// Keys: "ini.<id>" holds an initiative; "rec.<sha256(recommendation id), 32 hex>" holds the slot
// of a recommendation (which initiative is its open one, and a pending intent).
const (
	initiativePrefix = "ini."
	slotPrefix       = "rec."
	maxAttempts      = 32
)

// Store keeps initiatives in a JetStream KV bucket. It is safe for concurrent use, including by
// several processes sharing the bucket.
type Store struct {
	kv    jetstream.KeyValue
	clock func() time.Time
}

// OpenStore creates the bucket (file storage, the given replicas) or binds to it; it is idempotent
// and safe to call from every process. It then finishes or abandons the intents left pending by a
// process that died mid-write.
func OpenStore(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	if replicas < 1 || replicas > 5 {
		return nil, fmt.Errorf("initiatives bucket replicas %d: want 1..5", replicas)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "spendstream tracked initiatives (ini.<id>) and per-recommendation slots (rec.<hash>)",
		History:     10, // earlier values of a key, for forensics; the initiative keeps its own history
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", Bucket, err)
	}
	s := &Store{kv: kv, clock: time.Now}
	if err := s.settleAll(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func initiativeKey(id string) string { return initiativePrefix + id }

func slotKey(recommendationID string) string {
	h := sha256.Sum256([]byte(recommendationID))
	return slotPrefix + hex.EncodeToString(h[:16])
}

// stored is the value format: the initiative without its revision (which is the entry's).
type stored struct {
	Initiative
	Revision *struct{} `json:"revision,omitempty"` // shadows Initiative.Revision: never stored
}

func encode(in Initiative) ([]byte, error) {
	b, err := json.Marshal(stored{Initiative: in})
	if err != nil {
		return nil, fmt.Errorf("encode initiative %s: %w", in.ID, err)
	}
	if len(b) > MaxValueBytes {
		return nil, invalid("history", "the initiative would take %d bytes, at most %d allowed; start a new one", len(b), MaxValueBytes)
	}
	return b, nil
}

func decode(e jetstream.KeyValueEntry) (Initiative, error) {
	var v stored
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return Initiative{}, fmt.Errorf("decode %s rev %d: %w", e.Key(), e.Revision(), err)
	}
	v.Initiative.Revision = e.Revision()
	return v.Initiative, nil
}

// Create stores a new initiative built by New from in (in.CreatedAt, when set, is the creation
// time; otherwise the store's clock). It is refused with ErrExists if the id is taken or the
// recommendation already has an open initiative (the *ExistsError names it).
func (s *Store) Create(ctx context.Context, in Initiative) (Initiative, error) {
	now := in.CreatedAt
	if now.IsZero() {
		now = s.clock()
	}
	ini, err := New(in, now)
	if err != nil {
		return Initiative{}, err
	}
	if in.ID != "" { // a caller-chosen id may be taken; a random one is not
		if _, err := s.kv.Get(ctx, initiativeKey(ini.ID)); err == nil {
			return Initiative{}, &ExistsError{ID: ini.ID}
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return Initiative{}, fmt.Errorf("create initiative: %w", err)
		}
	}
	value, err := encode(ini)
	if err != nil {
		return Initiative{}, err
	}
	out, err := s.claim(ctx, ini, 0, value)
	if err != nil {
		return Initiative{}, fmt.Errorf("create initiative: %w", err)
	}
	switch {
	case !out.applied:
		return Initiative{}, &ExistsError{ID: ini.ID} // the id was taken meanwhile
	case out.rev == 0: // applied by another process that found our intent
		return s.Get(ctx, ini.ID)
	}
	ini.Revision = out.rev
	return ini, nil
}

// Get returns the initiative with its revision, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Initiative, error) {
	if !ValidID(id) {
		return Initiative{}, ErrNotFound
	}
	e, err := s.kv.Get(ctx, initiativeKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Initiative{}, ErrNotFound
	}
	if err != nil {
		return Initiative{}, fmt.Errorf("get initiative %s: %w", id, err)
	}
	return decode(e)
}

// List returns every initiative, sorted by CreatedAt then ID.
func (s *Store) List(ctx context.Context) ([]Initiative, error) {
	entries, err := s.scan(ctx, initiativePrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("list initiatives: %w", err)
	}
	out := make([]Initiative, 0, len(entries))
	for _, e := range entries {
		in, err := decode(e)
		if err != nil {
			return nil, fmt.Errorf("list initiatives: %w", err)
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Initiative) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Update applies p (see Apply) to the initiative if it is still at ifRevision, and returns it with
// its new revision. A stale revision is refused with a *ConflictError (ErrConflict) carrying the
// current revision, and the current initiative is returned with it; nothing is written. ifRevision
// 0 is invalid: every update must say which revision it read. Reopening a failed initiative is
// refused with ErrExists while its recommendation has another open one.
func (s *Store) Update(ctx context.Context, id string, ifRevision uint64, p Patch, by string, now time.Time) (Initiative, error) {
	if ifRevision == 0 {
		return Initiative{}, invalid("revision", "is required (If-Match)")
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		return Initiative{}, err
	}
	if cur.Revision != ifRevision {
		return cur, &ConflictError{ID: id, Given: ifRevision, Current: cur.Revision}
	}
	next, err := Apply(cur, p, by, now)
	if err != nil {
		return cur, err
	}
	if len(next.History) == len(cur.History) {
		return cur, nil // nothing changed
	}
	value, err := encode(next)
	if err != nil {
		return cur, err
	}
	if !cur.Status.Open() && next.Status.Open() {
		// Reopening: it must take the recommendation's slot, like a new initiative.
		out, err := s.claim(ctx, next, ifRevision, value)
		if err != nil {
			return cur, fmt.Errorf("update initiative %s: %w", id, err)
		}
		switch {
		case !out.applied: // the initiative moved on while the reopening was under way
			return s.conflict(ctx, id, ifRevision)
		case out.rev == 0: // applied by another process that found the intent
			return s.Get(ctx, id)
		}
		next.Revision = out.rev
		return next, nil
	}
	rev, err := s.kv.Update(ctx, initiativeKey(id), value, ifRevision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return s.conflict(ctx, id, ifRevision)
	}
	if err != nil {
		return cur, fmt.Errorf("update initiative %s: %w", id, err)
	}
	next.Revision = rev
	return next, nil
}

// conflict reads the current initiative to answer a refused update with its revision.
func (s *Store) conflict(ctx context.Context, id string, given uint64) (Initiative, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return Initiative{}, &ConflictError{ID: id, Given: given}
	}
	return cur, &ConflictError{ID: id, Given: given, Current: cur.Revision}
}

// scan reads the latest entry of every key matching filter.
func (s *Store) scan(ctx context.Context, filter string) ([]jetstream.KeyValueEntry, error) {
	w, err := s.kv.WatchFiltered(ctx, []string{filter}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			// The watcher's delivery may be blocked on a full channel; drain it so it can close.
			go func(ch <-chan jetstream.KeyValueEntry) {
				for e := range ch {
					_ = e
				}
			}(w.Updates())
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed before the initial values")
			}
			if e == nil { // all initial values delivered
				return out, nil
			}
			out = append(out, e)
		}
	}
}

// The one-open-initiative-per-recommendation rule.
//
// A write that can make an initiative open (a create, a reopen) cannot update the initiative and
// the recommendation's slot atomically. So it first puts an intent into the slot with a
// compare-and-set (which also proves that no other initiative of the recommendation is open), then
// applies the intent to the initiative with a compare-and-set on the initiative's revision, then
// clears the intent. Anyone who finds an intent in a slot settles it before going on: the intent
// is applied if the initiative is still at the revision it expects, recognized as applied if the
// initiative's history holds its change id, and abandoned otherwise (the initiative moved on,
// which the writer reports as a conflict). The outcome is the same whoever settles it, and a late
// apply by a slow writer fails its compare-and-set. Writes that keep an initiative open or close
// it need not touch the slot: a slot naming a closed initiative is free.

type slot struct {
	RecommendationID string  `json:"recommendation_id"`
	Open             string  `json:"open,omitempty"` // the initiative that took the slot; free if it is closed
	Pending          *intent `json:"pending,omitempty"`
}

type intent struct {
	ID     string          `json:"id"`     // the initiative
	Change string          `json:"change"` // the id of the history entry the write adds
	From   uint64          `json:"from"`   // the initiative revision it replaces; 0: it creates it
	Value  json.RawMessage `json:"value"`  // the new stored value
}

type outcome struct {
	applied bool
	rev     uint64 // the revision this process wrote; 0 if another process applied it
}

// claim takes the slot of ini's recommendation for ini and writes value as its new stored value,
// replacing revision from (0: creating it).
func (s *Store) claim(ctx context.Context, ini Initiative, from uint64, value []byte) (outcome, error) {
	key := slotKey(ini.RecommendationID)
	for range maxAttempts {
		sl, slotRev, err := s.readSlot(ctx, key)
		if err != nil {
			return outcome{}, err
		}
		if sl.RecommendationID != "" && sl.RecommendationID != ini.RecommendationID {
			return outcome{}, fmt.Errorf("slot %s holds recommendation %q, not %q", key, sl.RecommendationID, ini.RecommendationID)
		}
		if sl.Pending != nil {
			if _, err := s.settle(ctx, key, sl, slotRev); err != nil {
				return outcome{}, err
			}
			continue
		}
		if sl.Open != "" && sl.Open != ini.ID {
			holder, err := s.Get(ctx, sl.Open)
			switch {
			case err == nil && holder.Status.Open():
				return outcome{}, &ExistsError{ID: holder.ID, RecommendationID: ini.RecommendationID}
			case err != nil && !errors.Is(err, ErrNotFound):
				return outcome{}, err
			}
		}
		mine := slot{
			RecommendationID: ini.RecommendationID,
			Open:             ini.ID,
			Pending:          &intent{ID: ini.ID, Change: ini.History[len(ini.History)-1].ID, From: from, Value: value},
		}
		b, err := json.Marshal(mine)
		if err != nil {
			return outcome{}, fmt.Errorf("encode slot: %w", err)
		}
		var rev uint64
		if slotRev == 0 {
			rev, err = s.kv.Create(ctx, key, b)
		} else {
			rev, err = s.kv.Update(ctx, key, b, slotRev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if err := backoff(ctx); err != nil {
				return outcome{}, err
			}
			continue // someone else moved the slot: look again
		}
		if err != nil {
			return outcome{}, fmt.Errorf("take slot %s: %w", key, err)
		}
		return s.settle(ctx, key, mine, rev)
	}
	return outcome{}, fmt.Errorf("slot %s still contended after %d attempts", key, maxAttempts)
}

// readSlot returns the slot and its revision; revision 0 if there is none.
func (s *Store) readSlot(ctx context.Context, key string) (slot, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return slot{}, 0, nil
	}
	if err != nil {
		return slot{}, 0, fmt.Errorf("read slot %s: %w", key, err)
	}
	var sl slot
	if err := json.Unmarshal(e.Value(), &sl); err != nil {
		return slot{}, 0, fmt.Errorf("decode slot %s: %w", key, err)
	}
	return sl, e.Revision(), nil
}

// settle brings the slot's pending intent to its outcome and then clears it.
func (s *Store) settle(ctx context.Context, key string, sl slot, slotRev uint64) (outcome, error) {
	var out outcome
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return outcome{}, fmt.Errorf("initiative %s still contended after %d attempts", sl.Pending.ID, maxAttempts)
		}
		o, retry, err := s.applyIntent(ctx, sl.Pending)
		if err != nil {
			return outcome{}, err
		}
		if !retry {
			out = o
			break
		}
	}
	next := slot{RecommendationID: sl.RecommendationID}
	if out.applied {
		next.Open = sl.Pending.ID
	}
	b, err := json.Marshal(next)
	if err != nil {
		return outcome{}, fmt.Errorf("encode slot: %w", err)
	}
	// Best effort: a mismatch means another process settled it first (with the same outcome), and
	// an intent left in place is settled, identically, by the next one to read the slot.
	_, _ = s.kv.Update(ctx, key, b, slotRev)
	return out, nil
}

// applyIntent writes the intent's value if the initiative is still at the revision it expects.
// retry: a compare-and-set lost a race; read again.
func (s *Store) applyIntent(ctx context.Context, p *intent) (out outcome, retry bool, err error) {
	key := initiativeKey(p.ID)
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if p.From != 0 {
			return outcome{}, false, nil // it is gone: abandoned
		}
		rev, err := s.kv.Create(ctx, key, p.Value)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return outcome{}, true, nil
		}
		if err != nil {
			return outcome{}, false, fmt.Errorf("write initiative %s: %w", p.ID, err)
		}
		return outcome{applied: true, rev: rev}, false, nil
	case err != nil:
		return outcome{}, false, fmt.Errorf("read initiative %s: %w", p.ID, err)
	}
	cur, err := decode(e)
	if err != nil {
		return outcome{}, false, err
	}
	if cur.hasChange(p.Change) {
		return outcome{applied: true}, false, nil // applied by someone else
	}
	if e.Revision() != p.From {
		return outcome{}, false, nil // it moved on without this change: abandoned
	}
	rev, err := s.kv.Update(ctx, key, p.Value, p.From)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return outcome{}, true, nil
	}
	if err != nil {
		return outcome{}, false, fmt.Errorf("write initiative %s: %w", p.ID, err)
	}
	return outcome{applied: true, rev: rev}, false, nil
}

// settleAll settles every pending intent (those of processes that died mid-write).
func (s *Store) settleAll(ctx context.Context) error {
	entries, err := s.scan(ctx, slotPrefix+"*")
	if err != nil {
		return fmt.Errorf("scan slots: %w", err)
	}
	for _, e := range entries {
		var sl slot
		if err := json.Unmarshal(e.Value(), &sl); err != nil {
			return fmt.Errorf("decode slot %s: %w", e.Key(), err)
		}
		if sl.Pending == nil {
			continue
		}
		if _, err := s.settle(ctx, e.Key(), sl, e.Revision()); err != nil {
			return fmt.Errorf("settle slot %s: %w", e.Key(), err)
		}
	}
	return nil
}

// backoff waits a few random milliseconds after a lost compare-and-set.
func backoff(ctx context.Context) error {
	t := time.NewTimer(time.Duration(1+rand.IntN(5)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
