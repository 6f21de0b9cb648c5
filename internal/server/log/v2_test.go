package log

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	sgtlog "github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"

	"hallmark.dev/hallmark/pkg/rekor"
)

// The Rekor v2 write API answers a TransparencyLogEntry whose checkpoint and
// inclusion proof sigstore-go (an independent implementation) accepts.
func TestV2WriteAPI(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s := newSigner(t)
	var last *protorekor.TransparencyLogEntry
	for i := 0; i < 5; i++ {
		d := sha256.Sum256([]byte{byte(i)})
		sig, _ := ecdsa.SignASN1(rand.Reader, s.key, d[:])
		req, _ := rekor.NewV2HashedRekord(d[:], sig, s.key.Public())
		resp, body := tl.post(t, "/api/v2/log/entries", req)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("v2 entry: %d %s", resp.StatusCode, body)
		}
		last = &protorekor.TransparencyLogEntry{}
		if err := protojson.Unmarshal(body, last); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if resp, _ := tl.post(t, "/api/v2/log/entries", req); resp.StatusCode != http.StatusConflict {
				t.Errorf("duplicate v2 entry: %d", resp.StatusCode)
			}
		}
	}
	if kv := last.GetKindVersion(); kv.GetKind() != "hashedrekord" || kv.GetVersion() != "0.0.2" {
		t.Fatalf("kind %v", kv)
	}
	if !strings.HasPrefix(last.GetInclusionProof().GetCheckpoint().GetEnvelope(), "localhost\n") {
		t.Fatalf("v2 checkpoint origin: %q", last.GetInclusionProof().GetCheckpoint().GetEnvelope())
	}
	entry, err := sgtlog.ParseTransparencyLogEntry(last)
	if err != nil {
		t.Fatalf("sigstore-go cannot parse the entry: %v", err)
	}
	v, err := signature.LoadVerifier(tl.key.Public(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := sgtlog.VerifyCheckpointAndInclusion(entry, v, "localhost"); err != nil {
		t.Fatalf("sigstore-go refused the v2 checkpoint or proof: %v", err)
	}
	// A corrupted proof is refused by it too.
	last.InclusionProof.Hashes[0][0] ^= 1
	entry, _ = sgtlog.ParseTransparencyLogEntry(last)
	if err := sgtlog.VerifyCheckpointAndInclusion(entry, v, "localhost"); err == nil {
		t.Fatal("sigstore-go accepted a corrupted proof")
	}
	if resp, b := tl.post(t, "/api/v2/log/entries", []byte(`{"hashedRekordRequestV002":{}}`)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty v2 request: %d %s", resp.StatusCode, b)
	}
}

// An answer too large for net/http's pre-chunking buffer (an RSA-4096 entry)
// still carries its Content-Length (the post helper checks it) and is a
// TransparencyLogEntry.
func TestV2LargeAnswerHasLength(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	k, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("large"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	req, _ := json.Marshal(map[string]any{"hashedRekordRequestV002": map[string]any{
		"digest": d[:],
		"signature": map[string]any{"content": sig, "verifier": map[string]any{
			"publicKey": map[string]any{"rawBytes": der}, "keyDetails": "PKIX_RSA_PKCS1V15_4096_SHA256"}},
	}})
	resp, body := tl.post(t, "/api/v2/log/entries", req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(body) <= 2048 {
		t.Fatalf("answer is %d bytes: too small to test chunking", len(body))
	}
	var tle protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(body, &tle); err != nil {
		t.Fatal(err)
	}
}
