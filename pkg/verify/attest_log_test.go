package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/internal/hallmarktest/logtest"
	"hallmark.dev/hallmark/pkg/attest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

// TestLoggedLegacyAttestation: a legacy attestation logged on a Rekor v1 log
// verifies with its entry; the same envelope serialised otherwise (same
// payload and signature) is refused, as cosign refuses it, because the entry
// records the hash of the envelope the layer must hold.
func TestLoggedLegacyAttestation(t *testing.T) {
	l := logtest.StartLog(t)
	reg := hallmarktest.EmbeddedRegistry(t, "")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rc, err := rekor.NewClient(l.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.New(k, sign.WithLog(sign.RekorV1(rc)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := oci.New()
	ctx := context.Background()
	d := hallmarktest.PushImage(t, reg.Host, "att:v1", "att")
	_, desc, err := c.Resolve(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.TrimPrefix(d.DigestStr(), "sha256:")
	st, err := attest.NewStatement(d.Context().Name(), hex, attest.CycloneDXURI, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AttestImage(ctx, c, d, desc, verify.FormatLegacy, st, attest.CycloneDXURI, false); err != nil {
		t.Fatal(err)
	}
	layers, _, err := c.AttestationLayers(ctx, d)
	if err != nil || len(layers) != 1 {
		t.Fatalf("%v %d layers", err, len(layers))
	}
	env, err := c.NewBlobCache().Blob(ctx, c.AttestationTag(d).Context(), layers[0])
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewKeyVerifier(k.Public(), verify.WithTrust(l.Trust))
	if err != nil {
		t.Fatal(err)
	}
	p := verify.AttestationPolicy{Digest: d.DigestStr(), PredicateType: attest.CycloneDXURI}
	a, err := v.VerifyLegacyAttestation(env, layers[0].Annotations, p)
	if err != nil || !a.TlogVerified {
		t.Fatalf("logged legacy attestation: %v", err)
	}
	parsed, err := cosign.ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cosign.MarshalEnvelope(parsed) // the same envelope, other key order
	if err != nil {
		t.Fatal(err)
	}
	if string(other) == string(env) {
		t.Fatal("the re-serialised envelope is byte-identical; the test proves nothing")
	}
	if _, err := v.VerifyLegacyAttestation(other, layers[0].Annotations, p); !errors.Is(err, verify.ErrTlog) {
		t.Fatalf("an envelope other than the logged one: %v, want a log error", err)
	}
	// Without the log the re-serialised envelope is the same signature.
	waived, _ := verify.NewKeyVerifier(k.Public(), verify.WithTrust(l.Trust), verify.WithoutTlogUnsafe())
	if _, err := waived.VerifyLegacyAttestation(other, nil, p); err != nil {
		t.Fatalf("re-serialised envelope, log waived: %v", err)
	}
}
