package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func newKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func bundleFor(t testing.TB, k crypto.Signer, digest string, ann map[string]any, predicateType string) *cosign.Bundle {
	t.Helper()
	payload, err := cosign.NewSignStatement("sha256", digest[7:], ann)
	if err != nil {
		t.Fatal(err)
	}
	if predicateType != cosign.SignPredicateType {
		st, _ := cosign.ParseStatement(payload)
		st.PredicateType = predicateType
		payload = mustProtoJSON(t, st)
	}
	sig, err := keys.Sign(k, cosign.PAE(cosign.InTotoPayloadType, payload))
	if err != nil {
		t.Fatal(err)
	}
	return cosign.NewDSSEBundle(cosign.InTotoPayloadType, payload, sig, "")
}

func legacyFor(t testing.TB, k crypto.Signer, digest string, ann map[string]any) LegacySignature {
	t.Helper()
	payload, err := cosign.NewSimpleSigning("reg/app", digest, ann)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.Sign(k, payload)
	if err != nil {
		t.Fatal(err)
	}
	return LegacySignature{Payload: payload, Signature: base64.StdEncoding.EncodeToString(sig)}
}

func TestImageBundle(t *testing.T) {
	k, other := newKey(t), newKey(t)
	v, _ := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	logged, _ := NewKeyVerifier(k.Public())
	ok := Policy{Digest: digestA, Annotations: map[string]string{"env": "prod"}}
	good := bundleFor(t, k, digestA, map[string]any{"env": "prod"}, cosign.SignPredicateType)
	if r, err := v.VerifyImageBundle(good, ok); err != nil || r.Digest != digestA || r.Format != FormatBundle {
		t.Fatalf("good bundle: %v %+v", err, r)
	}

	tampered := bundleFor(t, k, digestA, map[string]any{"env": "prod"}, cosign.SignPredicateType)
	tampered.GetDsseEnvelope().Payload, _ = cosign.NewSignStatement("sha256", digestB[7:], map[string]any{"env": "prod"})
	wrongType := bundleFor(t, k, digestA, map[string]any{"env": "prod"}, cosign.SignPredicateType)
	wrongType.GetDsseEnvelope().PayloadType = "application/json"

	cases := []struct {
		name string
		b    *cosign.Bundle
		p    Policy
		want error
		v    *Verifier
	}{
		{"wrong key", bundleFor(t, other, digestA, map[string]any{"env": "prod"}, cosign.SignPredicateType), ok, ErrSignature, nil},
		{"tampered payload", tampered, ok, ErrSignature, nil},
		{"other image", good, Policy{Digest: digestB}, ErrClaims, nil},
		{"annotation differs", good, Policy{Digest: digestA, Annotations: map[string]string{"env": "dev"}}, ErrAnnotations, nil},
		{"annotation missing", good, Policy{Digest: digestA, Annotations: map[string]string{"x": "y"}}, ErrAnnotations, nil},
		{"attestation predicate", bundleFor(t, k, digestA, nil, "https://slsa.dev/provenance/v1"), ok, ErrClaims, nil},
		{"wrong payload type", wrongType, ok, ErrFormat, nil},
		{"no tlog entry", good, Policy{Digest: digestA}, ErrTlog, logged},
		{"blob bundle", cosign.NewMessageBundle(make([]byte, 32), []byte("s"), ""), ok, ErrFormat, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.v != nil {
				vv = tc.v
			}
			_, err := vv.VerifyImageBundle(tc.b, tc.p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLegacy(t *testing.T) {
	k, other := newKey(t), newKey(t)
	v, _ := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	logged, _ := NewKeyVerifier(k.Public())
	p := Policy{Digest: digestA}
	good := legacyFor(t, k, digestA, map[string]any{"env": "prod"})
	if _, err := v.VerifyLegacy(good, p); err != nil {
		t.Fatal(err)
	}
	tampered := good
	tampered.Payload, _ = cosign.NewSimpleSigning("reg/app", digestA, map[string]any{"env": "dev"})
	cases := []struct {
		name string
		s    LegacySignature
		p    Policy
		want error
		v    *Verifier
	}{
		{"wrong key", legacyFor(t, other, digestA, nil), p, ErrSignature, nil},
		{"tampered payload", tampered, p, ErrSignature, nil},
		{"copied from another image", legacyFor(t, k, digestB, nil), p, ErrClaims, nil},
		{"annotation", good, Policy{Digest: digestA, Annotations: map[string]string{"env": "dev"}}, ErrAnnotations, nil},
		{"no signature annotation", LegacySignature{Payload: good.Payload}, p, ErrFormat, nil},
		{"signature not base64", LegacySignature{Payload: good.Payload, Signature: "!!"}, p, ErrFormat, nil},
		{"no tlog entry", good, Policy{Digest: digestA}, ErrTlog, logged},
		{"tlog entry present but unverifiable", LegacySignature{Payload: good.Payload, Signature: good.Signature, RekorBundle: `{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","logID":"00"}}`}, Policy{Digest: digestA}, ErrTlog, logged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.v != nil {
				vv = tc.v
			}
			if _, err := vv.VerifyLegacy(tc.s, tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	var se *StepError
	_, err := v.VerifyLegacy(legacyFor(t, k, digestB, nil), p)
	if !errors.As(err, &se) || se.Want != digestA || se.Got != digestB {
		t.Errorf("digest mismatch error lacks want/got: %v", err)
	}
}

func TestBlobBundle(t *testing.T) {
	k := newKey(t)
	v, _ := NewKeyVerifier(k.Public(), WithoutTlogUnsafe())
	data := []byte("blob")
	sum := sha256.Sum256(data)
	sig, _ := keys.Sign(k, data)
	b := cosign.NewMessageBundle(sum[:], sig, "")
	if _, err := v.VerifyBlobBundle(b, BlobData(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyBlobBundle(b, BlobDigest("sha256", sum[:])); err != nil {
		t.Fatalf("by digest: %v", err)
	}
	if _, err := v.VerifyBlobBundle(b, BlobData([]byte("other"))); !errors.Is(err, ErrClaims) {
		t.Errorf("other blob: %v", err)
	}
	noDigest := cosign.NewMessageBundle(sum[:], sig, "")
	noDigest.GetMessageSignature().MessageDigest = nil
	if _, err := v.VerifyBlobBundle(noDigest, BlobData(data)); !errors.Is(err, ErrFormat) {
		t.Errorf("no messageDigest: %v", err)
	}
	logged, _ := NewKeyVerifier(k.Public())
	if _, err := logged.VerifyBlobBundle(b, BlobData(data)); !errors.Is(err, ErrTlog) {
		t.Errorf("tlog not waived: %v", err)
	}
}
