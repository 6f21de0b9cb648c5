package cosign

import (
	"errors"
	"strings"
	"testing"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
)

// TestBundleStructure: each structural rule of a bundle, one malformed
// field at a time, against a valid base.
func TestBundleStructure(t *testing.T) {
	entry := func() *protorekor.TransparencyLogEntry {
		return &protorekor.TransparencyLogEntry{
			LogIndex: 1, LogId: &protocommon.LogId{KeyId: []byte("id")},
			KindVersion:       &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.1"},
			CanonicalizedBody: []byte("{}"),
			InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: []byte("set")},
			InclusionProof:    &protorekor.InclusionProof{Checkpoint: &protorekor.Checkpoint{Envelope: "cp"}},
		}
	}
	build := func(mediaType string, change func(e *protorekor.TransparencyLogEntry)) []byte {
		b := NewMessageBundle(make([]byte, 32), []byte("sig"), "hint")
		b.MediaType = mediaType
		e := entry()
		if change != nil {
			change(e)
		}
		b.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{e}
		raw, err := MarshalBundle(b)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, mt := range []string{BundleMediaType, "application/vnd.dev.sigstore.bundle+json;version=0.1", "application/vnd.dev.sigstore.bundle+json;version=0.3", "application/vnd.dev.sigstore.bundle.v0.3.1+json"} {
		if _, err := ParseBundle(build(mt, nil)); err != nil {
			t.Errorf("valid %s: %v", mt, err)
		}
	}
	cases := map[string][]byte{
		"version 0.4":                  build("application/vnd.dev.sigstore.bundle.v0.4+json", nil),
		"version 0.0":                  build("application/vnd.dev.sigstore.bundle.v0.0+json", nil),
		"old form, version 0.4":        build("application/vnd.dev.sigstore.bundle+json;version=0.4", nil),
		"too many entries":             build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) {}),
		"no canonicalizedBody":         build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.CanonicalizedBody = nil }),
		"negative logIndex":            build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.LogIndex = -1 }),
		"no logId":                     build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.LogId = nil }),
		"no kindVersion":               build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.KindVersion = nil }),
		"proof without checkpoint":     build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.InclusionProof.Checkpoint = nil }),
		"v0.2+ entry without a proof":  build(BundleMediaType, func(e *protorekor.TransparencyLogEntry) { e.InclusionProof = nil }),
		"v0.1 entry without a promise": build("application/vnd.dev.sigstore.bundle+json;version=0.1", func(e *protorekor.TransparencyLogEntry) { e.InclusionPromise = nil }),
		"unknown field":                []byte(strings.Replace(string(build(BundleMediaType, nil)), `"mediaType"`, `"surprise":1,"mediaType"`, 1)),
	}
	// Too many entries: 33 copies.
	b := NewMessageBundle(make([]byte, 32), []byte("sig"), "hint")
	for range maxBundleTlogEntries + 1 {
		b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, entry())
	}
	cases["too many entries"], _ = MarshalBundle(b)
	for name, raw := range cases {
		if _, err := ParseBundle(raw); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
