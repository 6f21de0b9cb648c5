package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// sigstoreGo verifies a bundle with sigstore-go, an independent
// implementation, trusting pub, with no log or timestamps required.
func sigstoreGo(t *testing.T, pub crypto.PublicKey, raw []byte, artifact sgverify.ArtifactPolicyOption) error {
	t.Helper()
	sv, err := signature.LoadDefaultVerifier(pub) // SHA-256, or the key's own hash (P-384: SHA-384)
	if err != nil {
		t.Fatal(err)
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := sgverify.NewVerifier(tm, sgverify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return err
	}
	_, err = v.Verify(&b, sgverify.NewPolicy(artifact, sgverify.WithKey()))
	return err
}

// TestDifferentialAgainstSigstoreGo: what Hallmark signs, sigstore-go accepts;
// what either tampers with, both refuse.
func TestDifferentialAgainstSigstoreGo(t *testing.T) {
	k, _ := keys.Generate()
	other, _ := keys.Generate()
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	hv, _ := verify.NewKeyVerifier(k.Public(), verify.WithoutTlogUnsafe())

	t.Run("blob", func(t *testing.T) {
		data := []byte("artifact")
		raw, _, err := s.SignBlob(t.Context(), data)
		if err != nil {
			t.Fatal(err)
		}
		if err := sigstoreGo(t, k.Public(), raw, sgverify.WithArtifact(bytes.NewReader(data))); err != nil {
			t.Fatalf("sigstore-go refused Hallmark's blob bundle: %v", err)
		}
		if err := sigstoreGo(t, other.Public(), raw, sgverify.WithArtifact(bytes.NewReader(data))); err == nil {
			t.Fatal("sigstore-go accepted the wrong key")
		}
		if err := sigstoreGo(t, k.Public(), raw, sgverify.WithArtifact(bytes.NewReader([]byte("other")))); err == nil {
			t.Fatal("sigstore-go accepted another artifact")
		}
	})

	// A P-384 key signs and names the blob's SHA-384 digest, as cosign does.
	t.Run("blob, P-384 key", func(t *testing.T) {
		k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		s384, err := New(k384)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("artifact")
		raw, _, err := s384.SignBlob(t.Context(), data)
		if err != nil {
			t.Fatal(err)
		}
		if err := sigstoreGo(t, k384.Public(), raw, sgverify.WithArtifact(bytes.NewReader(data))); err != nil {
			t.Fatalf("sigstore-go refused Hallmark's P-384 blob bundle: %v", err)
		}
		if err := sigstoreGo(t, k384.Public(), raw, sgverify.WithArtifact(bytes.NewReader([]byte("other")))); err == nil {
			t.Fatal("sigstore-go accepted another artifact")
		}
	})

	t.Run("image", func(t *testing.T) {
		reg := hallmarktest.EmbeddedRegistry(t, "")
		d := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
		c, _ := oci.New()
		_, desc, err := c.Resolve(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignImage(t.Context(), c, d, desc, verify.FormatBundle, map[string]any{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		stored, err := c.Bundles(t.Context(), d)
		if err != nil || len(stored) != 1 {
			t.Fatalf("%v %d", err, len(stored))
		}
		digest, _ := hex.DecodeString(d.DigestStr()[7:])
		if err := sigstoreGo(t, k.Public(), stored[0].Bytes, sgverify.WithArtifactDigest("sha256", digest)); err != nil {
			t.Fatalf("sigstore-go refused Hallmark's image bundle: %v", err)
		}
		otherDigest := sha256.Sum256([]byte("another image"))
		if err := sigstoreGo(t, k.Public(), stored[0].Bytes, sgverify.WithArtifactDigest("sha256", otherDigest[:])); err == nil {
			t.Fatal("sigstore-go accepted the bundle for another image")
		}
		// Tamper: both implementations must refuse.
		b, _ := cosign.ParseBundle(stored[0].Bytes)
		b.GetDsseEnvelope().Payload, _ = cosign.NewSignStatement("sha256", hex.EncodeToString(otherDigest[:]), nil)
		tampered, _ := cosign.MarshalBundle(b)
		if err := sigstoreGo(t, k.Public(), tampered, sgverify.WithArtifactDigest("sha256", otherDigest[:])); err == nil {
			t.Fatal("sigstore-go accepted a tampered envelope")
		}
		tb, _ := cosign.ParseBundle(tampered)
		if _, err := hv.VerifyImageBundle(tb, verify.Policy{Digest: "sha256:" + hex.EncodeToString(otherDigest[:])}); err == nil {
			t.Fatal("Hallmark accepted a tampered envelope")
		}
	})
}
