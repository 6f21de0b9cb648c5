package verify

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"hallmark.dev/hallmark/pkg/cosign"
)

// BenchmarkBareECDSAVerify is the floor: one P-256 ecdsa.Verify of a SHA-256
// digest, nothing else.
func BenchmarkBareECDSAVerify(b *testing.B) {
	k := newKey(b).(*ecdsa.PrivateKey)
	d := sha256.Sum256([]byte("payload"))
	sig, _ := ecdsa.SignASN1(nil, k, d[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("bad")
		}
	}
}

// BenchmarkVerifyImageBundle is Hallmark's whole in-process check of a
// bundle-format image signature: parse the bundle, verify the DSSE
// signature, parse the statement, match digest and annotations.
func BenchmarkVerifyImageBundle(b *testing.B) {
	k := newKey(b)
	v, _ := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	raw, _ := cosign.MarshalBundle(bundleFor(b, k, digestA, map[string]any{"env": "prod"}, cosign.SignPredicateType))
	p := Policy{Digest: digestA, Annotations: map[string]string{"env": "prod"}}
	b.ReportAllocs()
	for b.Loop() {
		bundle, err := cosign.ParseBundle(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.VerifyImageBundle(bundle, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyLegacy is the same for a legacy simple-signing signature.
func BenchmarkVerifyLegacy(b *testing.B) {
	k := newKey(b)
	v, _ := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	s := legacyFor(b, k, digestA, map[string]any{"env": "prod"})
	p := Policy{Digest: digestA, Annotations: map[string]string{"env": "prod"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyLegacy(s, p); err != nil {
			b.Fatal(err)
		}
	}
}
