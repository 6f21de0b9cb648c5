package cosign

import (
	"os"
	"testing"
)

func FuzzParseBundle(f *testing.F) {
	if b, err := os.ReadFile("testdata/cosign-blob.bundle.json"); err == nil {
		f.Add(b)
	}
	d, _ := MarshalBundle(NewDSSEBundle(InTotoPayloadType, []byte("{}"), []byte("sig"), "hint"))
	f.Add(d)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		// Whatever parses must re-encode and parse again.
		raw, err := MarshalBundle(b)
		if err != nil {
			t.Fatalf("re-encoding a parsed bundle: %v", err)
		}
		if _, err := ParseBundle(raw); err != nil {
			t.Fatalf("re-encoded bundle no longer parses: %v", err)
		}
	})
}

func FuzzParsePayloads(f *testing.F) {
	ss, _ := NewSimpleSigning("r/a", "sha256:00", map[string]any{"a": "b"})
	st, _ := NewSignStatement("sha256", "00", nil)
	f.Add(ss)
	f.Add(st)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSimpleSigning(data)
		_, _ = ParseStatement(data)
		_, _ = ParseTrustedRoot(data)
	})
}
