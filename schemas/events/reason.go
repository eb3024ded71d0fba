package events

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Reason is a stable, snake_case machine-readable rejection reason (used in metrics labels, HTTP
// bodies and dead-letter headers). Values never change once published.
type Reason string

// The rejection reasons. Decode produces all but ReasonTooLate and ReasonTooOld, which the
// consumers' windowing rules use; they are defined here so the whole pipeline speaks one vocabulary.
const (
	ReasonMalformed      Reason = "malformed"       // not a JSON object / invalid JSON
	ReasonOversized      Reason = "oversized"       // raw event larger than Limits.MaxEventBytes
	ReasonBadSpecVersion Reason = "bad_specversion" // specversion missing or not "1.0"
	ReasonUnknownType    Reason = "unknown_type"
	ReasonMissingField   Reason = "missing_field"
	ReasonWrongType      Reason = "wrong_type"   // e.g. string where number expected, 1.5 for a count
	ReasonOutOfRange     Reason = "out_of_range" // value or string content outside its allowed set
	ReasonNegativeCount  Reason = "negative_count"
	ReasonFutureTime     Reason = "future_time"
	ReasonTooLate        Reason = "too_late" // used by consumers (window package)
	ReasonTooOld         Reason = "too_old"
)

// maxErrorBytes bounds RejectError.Error(), so that no more than that much of a (possibly hostile)
// input is ever echoed into logs, HTTP bodies or headers.
const maxErrorBytes = 200

// maxQuoted is how many bytes of an input value a Detail quotes.
const maxQuoted = 48

// RejectError says why an event was refused. Error() is "<field>: <detail>" (or just detail when
// Field is empty) and never contains more than 200 bytes of the input.
type RejectError struct {
	Reason Reason
	Field  string // JSON field name, e.g. "data.cpu_util"; empty for whole-event reasons
	Detail string
}

// Error implements error.
func (e *RejectError) Error() string {
	s := e.Detail
	if e.Field != "" {
		s = e.Field + ": " + e.Detail
	}
	return truncateUTF8(s, maxErrorBytes)
}

// ReasonOf returns the Reason of the first *RejectError in err's chain, or "" if none.
func ReasonOf(err error) Reason {
	if re, ok := errors.AsType[*RejectError](err); ok {
		return re.Reason
	}
	return ""
}

func reject(r Reason, field, detail string) error {
	return &RejectError{Reason: r, Field: field, Detail: detail}
}

// quote renders an input value for a Detail: Go-quoted, cut to maxQuoted bytes of the input.
func quote(b []byte) string {
	s := string(b)
	if len(s) > maxQuoted {
		return strconv.Quote(truncateUTF8(s, maxQuoted)) + "..."
	}
	return strconv.Quote(s)
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
