package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/verify"
)

// A blob streamed through its hashes (never held) is signed as the same
// bytes held whole would be: the bundle verifies against the bytes, for
// every key type (each signs its own hash's digest), and not against others.
func TestSignStreamedBlob(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	data := bytes.Repeat([]byte("streamed artifact "), 10000)
	for name, k := range map[string]crypto.Signer{"p256": ec256, "p384": ec384, "p521": ec521, "rsa": rsaKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			s, err := New(k)
			if err != nil {
				t.Fatal(err)
			}
			blob, err := verify.HashBlob(bytes.NewReader(data), verify.HashName(s.Hash()))
			if err != nil {
				t.Fatal(err)
			}
			if blob.Data != nil {
				t.Fatal("HashBlob kept the bytes")
			}
			b, err := s.SignBlobBundle(t.Context(), blob)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := verify.NewKeyVerifier(k.Public(), verify.WithoutTlogUnsafe())
			if _, err := v.VerifyBlobBundle(b, verify.BlobData(data)); err != nil {
				t.Fatalf("the streamed blob's bundle does not verify against its bytes: %v", err)
			}
			if _, err := v.VerifyBlobBundle(b, verify.BlobData(append(data, '!'))); err == nil {
				t.Fatal("the bundle verified against other bytes")
			}
		})
	}
}

// Without the digest the key signs (here SHA-384 for a P-384 key), signing
// refuses rather than sign something else.
func TestSignStreamedBlobNeedsKeysHash(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := verify.HashBlob(strings.NewReader("artifact")) // SHA-256 only
	_, err = s.SignBlobBundle(t.Context(), blob)
	if err == nil || !strings.Contains(err.Error(), "SHA-384") {
		t.Fatalf("signing without the SHA-384 digest: got %v, want a refusal naming SHA-384", err)
	}
}

// A log record known only by digests is logged from them, and one missing
// the digest the log needs is refused.
func TestLogRecordDigest(t *testing.T) {
	r := LogRecord{Digests: map[string][]byte{"sha256": bytes.Repeat([]byte{1}, 32)}}
	if d := r.digest(crypto.SHA256); !bytes.Equal(d, r.Digests["sha256"]) {
		t.Fatalf("digest(SHA256) = %x, want the given one", d)
	}
	if d := r.digest(crypto.SHA384); d != nil {
		t.Fatalf("digest(SHA384) = %x for a record without it, want nil", d)
	}
	if _, err := (v1Log{}).Log(t.Context(), LogRecord{Digests: map[string][]byte{"sha512": {1}}}); err == nil {
		t.Fatal("a v1 log accepted a record without its SHA-256")
	}
}

// The empty blob (nil) is signed as the empty message for every key type,
// and a blob given as bytes is signed, digested and logged from the bytes
// alone: a stale digest beside them cannot make the bundle name other bytes.
func TestSignBlobBytesAreTheTruth(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := verify.NewKeyVerifier(k.Public(), verify.WithoutTlogUnsafe())
	raw, _, err := s.SignBlob(t.Context(), nil)
	if err != nil {
		t.Fatalf("signing the empty blob with a P-384 key: %v", err)
	}
	eb, err := cosign.ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyBlobBundle(eb, verify.BlobData([]byte{})); err != nil {
		t.Fatalf("the empty blob's bundle does not verify: %v", err)
	}

	other := sha256.Sum256([]byte("other bytes"))
	b, err := s.SignBlobBundle(t.Context(), verify.Blob{Data: []byte("these bytes"), Digests: map[string][]byte{"sha256": other[:]}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyBlobBundle(b, verify.BlobData([]byte("these bytes"))); err != nil {
		t.Fatalf("the bundle does not verify against the bytes signed: %v", err)
	}
}
