package cosign

import (
	"bytes"
	"encoding/asn1"
	"strings"
	"testing"
)

// TestUTF8StringMatchesASN1: the extension values are what encoding/asn1
// writes for a "utf8" string, at every length form; invalid UTF-8, which
// encoding/asn1 writes unchecked, is refused (claims come from JSON, which
// cannot carry it, so nothing issued before is refused now).
func TestUTF8StringMatchesASN1(t *testing.T) {
	for _, s := range []string{"", "github-hosted", "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main", "ü€😀",
		strings.Repeat("a", 127), strings.Repeat("b", 128), strings.Repeat("c", 255), strings.Repeat("d", 256), strings.Repeat("e", 70000)} {
		want, err := asn1.MarshalWithParams(s, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		got, err := utf8StringDER(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%.20q (%d bytes): %x, %v; want %x", s, len(s), got[:min(len(got), 8)], err, want[:min(len(want), 8)])
		}
	}
	if _, err := utf8StringDER("a\xffb"); err == nil {
		t.Error("invalid UTF-8 was encoded")
	}
	if _, err := MarshalCertExtensions(CertExtensions{RunnerEnvironment: "\xff"}, true); err == nil {
		t.Error("an extension of invalid UTF-8 was marshalled")
	}
}
