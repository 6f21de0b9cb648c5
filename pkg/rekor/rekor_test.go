package rekor

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

type testKey struct {
	k   *ecdsa.PrivateKey
	pem []byte
}

func newKey(t testing.TB) testKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, _ := keys.MarshalPublicKey(k.Public())
	return testKey{k, p}
}

func (k testKey) sign(t testing.TB, msg []byte) []byte {
	s, err := keys.Sign(k.k, msg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func proposals(t testing.TB, k testKey) map[string][]byte {
	d := sha256.Sum256([]byte("artifact"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.k, d[:])
	hr, _ := NewHashedRekord(d[:], sig, k.pem)
	st, _ := cosign.NewSignStatement("sha256", strings.Repeat("ab", 32), nil)
	psig := k.sign(t, cosign.PAE(cosign.InTotoPayloadType, st))
	ds, _ := NewDSSE(cosign.InTotoPayloadType, st, psig, k.pem)
	it, _ := NewIntoto(cosign.InTotoPayloadType, st, psig, k.pem)
	return map[string][]byte{"hashedrekord": hr, "dsse": ds, "intoto": it}
}

func TestParseEveryKind(t *testing.T) {
	k := newKey(t)
	for kind, p := range proposals(t, k) {
		t.Run(kind, func(t *testing.T) {
			e, err := Parse(p)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != kind {
				t.Fatalf("kind %s", e.Kind)
			}
			again, _ := Parse(p)
			if string(again.Body) != string(e.Body) {
				t.Fatal("canonical body is not stable")
			}
			if strings.Contains(string(e.Body), `"payload"`) {
				t.Errorf("canonical %s body keeps the attestation payload: %s", kind, e.Body)
			}
			b, err := ParseBody(e.Body)
			if err != nil || b.Kind != kind {
				t.Fatalf("ParseBody: %v %+v", err, b)
			}
			fp, _ := KeyFingerprint(k.k.Public())
			if !contains(e.Keys, fp) || !contains(SearchKeys(e.Body), fp) {
				t.Errorf("search keys %v / %v lack the signer's key", e.Keys, SearchKeys(e.Body))
			}
			if kind != "hashedrekord" && !contains(e.Keys, "sha256:"+strings.Repeat("ab", 32)) {
				t.Errorf("statement subject not indexed: %v", e.Keys)
			}
		})
	}
}

// The subjects of an in-toto v0.1 statement (cosign attest-blob's) are
// indexed as a v1 statement's are.
func TestStatementV01SubjectsAreIndexed(t *testing.T) {
	k := newKey(t)
	st, _ := cosign.NewSignStatement("sha256", strings.Repeat("cd", 32), nil)
	st = []byte(strings.Replace(string(st), cosign.StatementType, cosign.StatementTypeV01, 1))
	psig := k.sign(t, cosign.PAE(cosign.InTotoPayloadType, st))
	ds, _ := NewDSSE(cosign.InTotoPayloadType, st, psig, k.pem)
	it, _ := NewIntoto(cosign.InTotoPayloadType, st, psig, k.pem)
	for kind, p := range map[string][]byte{"dsse": ds, "intoto": it} {
		e, err := Parse(p)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !contains(e.Keys, "sha256:"+strings.Repeat("cd", 32)) {
			t.Errorf("%s: v0.1 statement subject not indexed: %v", kind, e.Keys)
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Each kind refuses a signature that does not verify under its key.
func TestParseRefusesBadSignatures(t *testing.T) {
	k, other := newKey(t), newKey(t)
	for kind, p := range proposals(t, k) {
		swapped := strings.ReplaceAll(string(p), b64(k.pem), b64(other.pem))
		if swapped == string(p) {
			t.Fatalf("%s: key not found in proposal", kind)
		}
		if _, err := Parse([]byte(swapped)); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s signed by another key: %v", kind, err)
		}
	}
	var m map[string]any
	json.Unmarshal(proposals(t, k)["intoto"], &m)
	m["spec"].(map[string]any)["content"].(map[string]any)["hash"] = nil
	noHash, _ := json.Marshal(m)
	if _, err := Parse(noHash); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("intoto without envelope hash: %v", err)
	}
}

// Parsed keys are cached, verdicts are not: once a key has logged a good
// entry, a bad signature under the same key is still refused.
func TestCachedKeyStillVerifies(t *testing.T) {
	k := newKey(t)
	d := sha256.Sum256([]byte("cached key"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.k, d[:])
	good, _ := NewHashedRekord(d[:], sig, k.pem)
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("another artifact"))
	replayed, _ := NewHashedRekord(other[:], sig, k.pem) // the good signature over another digest
	if _, err := Parse(replayed); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("signature over another digest under a cached key: %v", err)
	}
}

func b64(b []byte) string { return strings.TrimSpace(jsonString(b)) }

func jsonString(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

func TestParseV2Request(t *testing.T) {
	k, other := newKey(t), newKey(t)
	d := sha256.Sum256([]byte("v2 artifact"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.k, d[:])
	good, _ := NewV2HashedRekord(d[:], sig, k.k.Public())
	e, err := Parse(good) // a v2 request is not a v1 entry
	if err == nil {
		t.Fatalf("v1 parser accepted a v2 request: %+v", e)
	}
	e, err = ParseV2Request(good)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBody(e.Body)
	if err != nil || b.Kind != "hashedrekord" || string(b.Digest) != string(d[:]) || string(b.Signature) != string(sig) {
		t.Fatalf("body %+v: %v", b, err)
	}
	// The body is what rekor-tiles logs: protobuf JSON of Entry, canonicalised.
	if !strings.Contains(string(e.Body), `"spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"`) {
		t.Errorf("body shape: %s", e.Body)
	}
	otherSig, _ := ecdsa.SignASN1(rand.Reader, other.k, d[:])
	wrongKey, _ := NewV2HashedRekord(d[:], otherSig, k.k.Public())
	short, _ := NewV2HashedRekord(d[:16], sig, k.k.Public())
	bad := map[string][]byte{
		"wrong key":       wrongKey,
		"short digest":    short,
		"wrong details":   []byte(strings.Replace(string(good), "PKIX_ECDSA_P256_SHA_256", "PKIX_ECDSA_P384_SHA_384", 1)),
		"unknown details": []byte(strings.Replace(string(good), "PKIX_ECDSA_P256_SHA_256", "PKIX_SOMETHING", 1)),
		"dsse request":    []byte(`{"dsseRequestV002":{}}`),
		"empty":           []byte(`{}`),
	}
	for name, in := range bad {
		if _, err := ParseV2Request(in); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The hand-written hashedrekord body must be exactly what a JCS library makes
// of the same fields (and what Rekor stores: base64 re-encoded).
func TestHashedRekordBodyIsJCS(t *testing.T) {
	for i := 0; i < 200; i++ {
		alg, n := "sha256", 32
		if i%3 == 1 {
			alg, n = "sha384", 48
		}
		digest, sig, key := make([]byte, n), make([]byte, i%97), make([]byte, i*7%600)
		for _, b := range [][]byte{digest, sig, key} {
			_, _ = rand.Read(b)
		}
		var s hashedRekordSpec
		s.Data.Hash.Algorithm, s.Data.Hash.Value = alg, hex.EncodeToString(digest)
		s.Signature.Content = base64.StdEncoding.EncodeToString(sig)
		s.Signature.PublicKey.Content = base64.StdEncoding.EncodeToString(key)
		want, err := canonical(entryJSON{"0.0.1", "hashedrekord", s})
		if err != nil {
			t.Fatal(err)
		}
		if got := hashedRekordBody(alg, digest, sig, key); !bytes.Equal(got, want) {
			t.Fatalf("body differs from JCS:\n got %s\nwant %s", got, want)
		}
	}
}

// A signature sent with line breaks in its base64 is stored re-encoded, as
// Rekor does, so both logs give the same entry the same leaf.
func TestHashedRekordReencodesBase64(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("artifact"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	pub, _ := keys.MarshalPublicKey(k.Public())
	clean, err := NewHashedRekord(d[:], sig, pub)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	wrapped := bytes.Replace(clean, []byte(b64), []byte(b64[:10]+`\n`+b64[10:]), 1)
	if bytes.Equal(wrapped, clean) {
		t.Fatal("test did not wrap the signature")
	}
	a, err := Parse(clean)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Body, b.Body) {
		t.Fatalf("bodies differ:\n%s\n%s", a.Body, b.Body)
	}
}

// The hand-written hashedrekord 0.0.2 body is what a JCS library makes of
// rekor-tiles' Entry, for keys and for certificates.
func TestV2HashedRekordBodyIsJCS(t *testing.T) {
	for i := 0; i < 100; i++ {
		digest, sig, raw := make([]byte, 32), make([]byte, 1+i%90), make([]byte, 1+i*5%700)
		for _, b := range [][]byte{digest, sig, raw} {
			_, _ = rand.Read(b)
		}
		v := v2Signature{Content: sig, Verifier: v2Verifier{KeyDetails: "PKIX_ECDSA_P256_SHA_256"}}
		if i%2 == 0 {
			v.Verifier.PublicKey = &v2PublicKey{RawBytes: raw}
		} else {
			v.Verifier.X509Certificate = &v2PublicKey{RawBytes: raw}
		}
		var e v2Entry
		e.Kind, e.APIVersion = "hashedrekord", "0.0.2"
		e.Spec.HashedRekordV002 = &v2HashedRekordEntry{Data: v2HashOutput{Algorithm: "SHA2_256", Digest: digest}, Signature: v}
		want, err := canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := v2HashedRekordBody("SHA2_256", digest, v); !bytes.Equal(got, want) {
			t.Fatalf("body differs from JCS:\n got %s\nwant %s", got, want)
		}
	}
}
