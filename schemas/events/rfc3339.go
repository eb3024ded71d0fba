package events

import (
	"errors"
	"time"
)

var (
	errTimeSyntax   = errors.New("not an RFC 3339 date-time (want e.g. 2026-01-02T15:04:05Z)")
	errTimeDate     = errors.New("date out of range")
	errTimeClock    = errors.New("time of day out of range")
	errTimeFrac     = errors.New("no digits in fractional seconds")
	errTimeOffset   = errors.New("bad UTC offset")
	errTimeNoOffset = errors.New("bad or missing UTC offset (want Z or ±hh:mm)")
	errTimeYear     = errors.New("year outside 0000-9999 in UTC")
)

// parseRFC3339 parses an RFC 3339 date-time (section 5.6: "T"/"Z" in either case, a fraction of
// any length, of which the first nine digits count, and a numeric or "Z" offset) and returns it
// in UTC. Unlike time.Parse it does not allocate for offsets. It refuses the leap second 60, which
// time.Time cannot represent, and results outside years 0000–9999 in UTC, which RFC 3339 cannot.
func parseRFC3339(s []byte) (time.Time, error) {
	// yyyy-mm-ddThh:mm:ss is 19 bytes; the shortest offset ("Z") makes 20.
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errTimeSyntax
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, errTimeSyntax
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, errTimeDate
	}
	if hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errTimeClock
	}
	rest := s[19:]
	nsec := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			if n <= 9 {
				nsec = nsec*10 + int(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return time.Time{}, errTimeFrac
		}
		for d := n; d <= 9; d++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, errTimeOffset
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, errTimeNoOffset
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
		if y := t.Year(); y < 0 || y > 9999 {
			return time.Time{}, errTimeYear
		}
	}
	return t, nil
}

// digits parses a short run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
