// Package window holds the pure event-time rules of the pipeline: which window an event belongs to,
// and whether an event is on time, late but allowed, too late, or from the future. Nothing here reads
// the clock: every function takes the reference time it needs, so replays decide exactly as the first
// run did.
package window

import (
	"errors"
	"fmt"
	"time"
)

// Steps the roll-ups are kept at.
const (
	Step5m = 5 * time.Minute
	Step1h = time.Hour
	Step1d = 24 * time.Hour
)

// Sentinel errors of the lateness rule. They are wrapped with details; match with errors.Is.
var (
	ErrTooLate = errors.New("event too late")
	ErrFuture  = errors.New("event time in the future")
	ErrTooOld  = errors.New("event older than the backfill horizon")
)

// ParseStep parses the step names of the query API ("5m", "1h", "1d").
func ParseStep(s string) (time.Duration, error) {
	switch s {
	case "5m":
		return Step5m, nil
	case "1h":
		return Step1h, nil
	case "1d":
		return Step1d, nil
	}
	return 0, fmt.Errorf("step %q: want one of 5m, 1h, 1d", s)
}

// StepName is the inverse of ParseStep.
func StepName(step time.Duration) string {
	switch step {
	case Step5m:
		return "5m"
	case Step1h:
		return "1h"
	case Step1d:
		return "1d"
	}
	return step.String()
}

// Assign returns the start of the window of length step that contains t, in UTC. Windows are aligned
// to the Unix epoch, so for steps that divide a day they are aligned to UTC midnight. step must be
// positive.
func Assign(t time.Time, step time.Duration) time.Time {
	s := int64(step / time.Second)
	u := t.Unix()
	start := u - mod(u, s)
	return time.Unix(start, 0).UTC()
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// AssignInterval returns the window of a measurement that covers [end-interval, end): the window that
// holds its last covered instant, end minus one nanosecond. A sample ending exactly on a window
// boundary therefore belongs to the window it measured, not to the next one.
func AssignInterval(end time.Time, step time.Duration) time.Time {
	return Assign(end.Add(-time.Nanosecond), step)
}

// DefaultAllowedLateness is the live lane's default Rules.AllowedLateness.
const DefaultAllowedLateness = 15 * time.Minute

// Rules is the lateness policy of a lane.
type Rules struct {
	// AllowedLateness is how long after a window's end an event for it is still counted, measured
	// against the time the event was accepted into the stream. Zero means no lateness check
	// (backfill lane).
	AllowedLateness time.Duration
	// MaxFuture bounds how far an event time may lie ahead of its acceptance time (clock skew).
	MaxFuture time.Duration
	// MaxAge bounds how old an event may be relative to its acceptance time; zero means no bound.
	MaxAge time.Duration
}

// Check applies the rules to an event for window [windowStart, windowStart+step), accepted into the
// stream at ingested. It returns nil when the event counts.
func (r Rules) Check(eventTime, windowStart time.Time, step time.Duration, ingested time.Time) error {
	if r.MaxFuture > 0 && eventTime.Sub(ingested) > r.MaxFuture {
		return fmt.Errorf("%w: %s is %s after acceptance (limit %s)", ErrFuture,
			eventTime.UTC().Format(time.RFC3339), eventTime.Sub(ingested).Round(time.Second), r.MaxFuture)
	}
	if r.MaxAge > 0 && ingested.Sub(eventTime) > r.MaxAge {
		return fmt.Errorf("%w: %s is older than %s", ErrTooOld, eventTime.UTC().Format(time.RFC3339), r.MaxAge)
	}
	if r.AllowedLateness > 0 {
		closes := windowStart.Add(step).Add(r.AllowedLateness)
		if !ingested.Before(closes) {
			return fmt.Errorf("%w: window %s closed for late events at %s, accepted at %s", ErrTooLate,
				windowStart.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339),
				ingested.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Range is a half-open time range [From, To) split into windows of Step.
type Range struct {
	From, To time.Time
	Step     time.Duration
}

// Windows lists the window starts of r, aligned with Assign; it is used to fill gaps in results.
func (r Range) Windows() []time.Time {
	var out []time.Time
	for w := Assign(r.From, r.Step); w.Before(r.To); w = w.Add(r.Step) {
		out = append(out, w)
	}
	return out
}
