package initiatives

import (
	"errors"
	"fmt"
)

// Sentinels. Match with errors.Is; the typed errors below carry the details.
var (
	// ErrInvalid: a field of a new initiative or a patch is invalid (HTTP 400). See *InvalidError.
	ErrInvalid = errors.New("invalid initiative")
	// ErrTransition: the status change is not allowed from the current status (HTTP 409).
	ErrTransition = errors.New("status transition not allowed")
	// ErrNotFound: no initiative has this id (HTTP 404).
	ErrNotFound = errors.New("initiative not found")
	// ErrExists: the id is taken, or the recommendation already has an open initiative (HTTP 409).
	// See *ExistsError.
	ErrExists = errors.New("initiative exists")
	// ErrConflict: the initiative changed since the revision the caller read (HTTP 412, answered
	// with the current ETag). See *ConflictError.
	ErrConflict = errors.New("initiative changed since the given revision")
)

// InvalidError names the invalid field (by its JSON name) and why.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError is a refused status change.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	if e.From.Terminal() {
		return fmt.Sprintf("initiative is %s, a terminal status: it cannot become %s", e.From, e.To)
	}
	return fmt.Sprintf("status cannot change from %s to %s (allowed: %v)", e.From, e.To, Allowed(e.From))
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// ExistsError names the initiative that is in the way: the one with the requested id, or the open
// initiative of the same recommendation.
type ExistsError struct {
	ID               string // the existing initiative
	RecommendationID string // set when the conflict is a second open initiative for it
}

func (e *ExistsError) Error() string {
	if e.RecommendationID != "" {
		return fmt.Sprintf("recommendation %s already has an open initiative %s", e.RecommendationID, e.ID)
	}
	return fmt.Sprintf("initiative %s already exists", e.ID)
}

// Is makes errors.Is(err, ErrExists) true.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// ConflictError is a refused update: the caller's revision is not the current one. Current is the
// revision (ETag) now stored; 0 if it could not be read.
type ConflictError struct {
	ID      string
	Given   uint64 // the revision the caller sent (If-Match)
	Current uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("initiative %s is at revision %d, not %d", e.ID, e.Current, e.Given)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
