package trust

import "time"

// Window is when a trusted root says a key or authority may be believed. A
// zero Start or End is open on that side. Both ends are inclusive, as
// sigstore-go and the conformance suite read a TimeRange.
type Window struct {
	Start, End time.Time
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	if !w.Start.IsZero() && t.Before(w.Start) {
		return false
	}
	return w.End.IsZero() || !t.After(w.End)
}

// Bounded reports whether the window has an end.
func (w Window) Bounded() bool { return !w.End.IsZero() }

// String is "START to END" in RFC 3339, "open" for a missing side.
func (w Window) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "open"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return f(w.Start) + " to " + f(w.End)
}
