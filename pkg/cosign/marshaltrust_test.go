package cosign

import (
	"testing"
	"time"
)

// Trust files are indented JSON whose bytes do not depend on the build:
// protojson's own output varies its whitespace on purpose.
func TestMarshalTrustIsStable(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := MarshalTrust(NewLogSigningConfig("http://127.0.0.1:3000", "hallmark", start))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{
  "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
  "rekorTlogUrls": [
    {
      "url": "http://127.0.0.1:3000",
      "majorApiVersion": 1,
      "validFor": {
        "start": "2026-01-02T03:04:05Z"
      },
      "operator": "hallmark"
    }
  ],
  "rekorTlogConfig": {
    "selector": "ANY"
  }
}`
	if string(got) != want {
		t.Errorf("MarshalTrust:\n%s\nwant\n%s", got, want)
	}
}
