package rekor

import "testing"

// FuzzParse: the log parses untrusted entries; nothing may panic, and what
// parses has a body that parses back.
func FuzzParse(f *testing.F) {
	for _, p := range proposals(f, newKey(f)) {
		f.Add(p)
	}
	f.Add([]byte(`{"kind":"intoto","apiVersion":"0.0.2","spec":{"content":{"envelope":{}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := ParseBody(e.Body); err != nil {
			t.Fatalf("accepted entry has an unreadable body: %v", err)
		}
	})
}
