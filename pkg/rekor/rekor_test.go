package rekor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
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

func b64(b []byte) string { return strings.TrimSpace(jsonString(b)) }

func jsonString(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}
