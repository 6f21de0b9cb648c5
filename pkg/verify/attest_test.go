package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

const attDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func attStatement(digestHex, predicateType string) []byte {
	return []byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"r.example/app","digest":{"sha256":"` + digestHex +
		`"}}],"predicateType":"` + predicateType + `","predicate":{"bomFormat":"CycloneDX"}}`)
}

func signedAttestation(t *testing.T, k *ecdsa.PrivateKey, payloadType string, statement []byte) (bundle *cosign.Bundle, envelope []byte) {
	t.Helper()
	sig, err := keys.Sign(k, cosign.PAE(payloadType, statement))
	if err != nil {
		t.Fatal(err)
	}
	bundle = cosign.NewDSSEBundle(payloadType, statement, sig, "hint")
	envelope, err = cosign.MarshalEnvelope(&cosign.Envelope{Payload: statement, PayloadType: payloadType, Signatures: []cosign.EnvelopeSignature{{Sig: sig}}})
	if err != nil {
		t.Fatal(err)
	}
	return bundle, envelope
}

// TestAttestationNegatives: each check of an attestation, with the input
// that must fail it, in both formats.
func TestAttestationNegatives(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.TrimPrefix(attDigest, "sha256:")
	const cdx = "https://cyclonedx.org/bom"
	p := AttestationPolicy{Digest: attDigest, PredicateType: cdx}
	both := func(name string, b *cosign.Bundle, env []byte, want error) {
		t.Helper()
		a, err := v.VerifyAttestationBundle(b, p)
		if want == nil {
			if err != nil || a.PredicateType != cdx || len(a.Statement) == 0 {
				t.Errorf("%s (bundle): %v", name, err)
			}
		} else if !errors.Is(err, want) {
			t.Errorf("%s (bundle): %v, want %v", name, err, want)
		}
		_, err = v.VerifyLegacyAttestation(env, map[string]string{cosign.PredicateTypeAnnotation: cdx}, p)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s (legacy): %v, want %v", name, err, want)
		}
	}
	good := attStatement(hex, cdx)
	b, env := signedAttestation(t, k, cosign.InTotoPayloadType, good)
	both("valid", b, env, nil)

	b, env = signedAttestation(t, other, cosign.InTotoPayloadType, good)
	both("signed by another key", b, env, ErrSignature)

	b, env = signedAttestation(t, k, cosign.InTotoPayloadType, good)
	tampered := []byte(strings.Replace(string(good), "CycloneDX", "CycloneDY", 1))
	b.GetDsseEnvelope().Payload = tampered
	env = []byte(strings.Replace(string(env), base64.StdEncoding.EncodeToString(good), base64.StdEncoding.EncodeToString(tampered), 1))
	both("tampered statement", b, env, ErrSignature)

	b, env = signedAttestation(t, k, cosign.InTotoPayloadType, attStatement(strings.Repeat("22", 32), cdx))
	both("statement about another digest", b, env, ErrClaims)

	b, env = signedAttestation(t, k, cosign.InTotoPayloadType, attStatement(hex, "https://slsa.dev/provenance/v1"))
	both("another predicate type", b, env, ErrPredicateType)

	b, env = signedAttestation(t, k, "application/json", good)
	both("payload type other than in-toto", b, env, ErrFormat)

	b, env = signedAttestation(t, k, cosign.InTotoPayloadType, attStatement(hex, cosign.SignPredicateType))
	p.PredicateType = ""
	both("an image signature offered as an attestation", b, env, ErrNotAttestation)

	b, env = signedAttestation(t, k, cosign.InTotoPayloadType, []byte(`{"_type":"https://example.com/Statement","subject":[{"digest":{"sha256":"`+hex+`"}}],"predicateType":"x","predicate":{}}`))
	both("not an in-toto statement", b, env, ErrClaims)

	// An attestation offered as a signature.
	b, _ = signedAttestation(t, k, cosign.InTotoPayloadType, good)
	if _, err := v.VerifyImageBundle(b, Policy{Digest: attDigest}); !errors.Is(err, ErrClaims) {
		t.Errorf("an attestation verified as an image signature: %v", err)
	}
	// A legacy envelope with two signatures.
	_, env = signedAttestation(t, k, cosign.InTotoPayloadType, good)
	env = []byte(strings.Replace(string(env), `"signatures":[{`, `"signatures":[{"sig":"AAAA"},{`, 1))
	if _, err := v.VerifyLegacyAttestation(env, nil, p); !errors.Is(err, ErrFormat) {
		t.Errorf("an envelope with two signatures: %v", err)
	}
}
