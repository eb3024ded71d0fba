// Package initiatives tracks the cost recommendations an executive has chosen to act on. An
// Initiative follows a lifecycle in the spirit of Google's Recommender (proposed, claimed, in
// progress, then succeeded, failed or dismissed); it has an owner, notes and a history of every
// change with who made it and when. The change date (ChangedAt) is what realized savings are
// measured around.
//
// The lifecycle rules (New, Apply) are pure. Store keeps initiatives durably in the JetStream
// key-value bucket SPENDSTREAM_INITIATIVES (file storage) with optimistic concurrency: the KV
// revision of an initiative is its ETag, and an update carrying a stale revision is refused with
// ErrConflict, so concurrent writers never lose each other's changes.
//
// # Status transitions
//
//	from \ to    | proposed | claimed | in_progress | succeeded | failed | dismissed
//	-------------+----------+---------+-------------+-----------+--------+----------
//	proposed     |    ·     |   yes   |     yes     |           |        |    yes
//	claimed      |   yes    |    ·    |     yes     |           |        |    yes
//	in_progress  |          |         |      ·      |    yes    |  yes   |    yes
//	failed       |          |         |     yes     |           |   ·    |    yes
//	succeeded    |          |         |             |     ·     |        |
//	dismissed    |          |         |             |           |        |     ·
//
// A new initiative is proposed. Succeeded and dismissed are terminal: any later status change is
// refused with ErrTransition. Owner, notes and ChangedAt may still be edited on a terminal
// initiative (a post-mortem note, a corrected change date), and every such edit is in History.
// Setting a status to the one it already has changes nothing.
//
// Side effects of a transition:
//   - entering claimed with no owner makes the caller the owner;
//   - entering in_progress sets ChangedAt to now, or to the patch's ChangedAt (re-entering it from
//     failed resets it);
//   - entering succeeded keeps ChangedAt unless the patch sets it explicitly.
//
// A patch may set ChangedAt only when the resulting status is in_progress or succeeded, and never
// to a time after now.
//
// # Open initiatives
//
// An initiative is open unless it is failed or dismissed (Status.Open). At most one initiative per
// recommendation is open: Store.Create, and an update that reopens a failed initiative, are
// refused with ErrExists naming the open one. The rule holds under concurrency and across
// crashes: every write that can make an initiative open first records its intent in a
// per-recommendation slot key with a compare-and-set, and whoever next touches that slot (or
// OpenStore, at start) finishes or abandons an intent left behind by a process that died mid-write.
//
// # Field rules
//
// Single-line fields (recommendation id, kind, title, targets, owner, created by, the actor) are
// trimmed, must be valid UTF-8 without control characters and have length limits (MaxOwnerLen,
// ...). Notes may hold newlines and tabs (CRLF is stored as LF) and at most MaxNotesLen characters;
// a patch replaces them. Errors are typed: ErrInvalid (*InvalidError names the field, HTTP 400),
// ErrTransition (409), ErrExists (409), ErrConflict (*ConflictError carries the current revision,
// HTTP 412 with that ETag) and ErrNotFound (404).
package initiatives
