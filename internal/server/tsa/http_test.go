package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/digitorus/timestamp"

	"hallmark.dev/hallmark/pkg/pki"
	"hallmark.dev/hallmark/pkg/tsa"
)

func server(t *testing.T) (*httptest.Server, *tsa.Authority) {
	t.Helper()
	key, chain, err := tsa.LoadOrCreate(t.TempDir(), "Test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := tsa.New(key, chain, tsa.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(a, nil))
	t.Cleanup(srv.Close)
	return srv, a
}

func TestTimestampAndChain(t *testing.T) {
	srv, a := server(t)
	sum := sha256.Sum256([]byte("blob"))
	der, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Certificates: true}).Marshal()
	resp, err := http.Post(srv.URL+"/api/v1/timestamp", "application/timestamp-query", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if ts, err := timestamp.ParseResponse(body); err != nil || !bytes.Equal(ts.HashedMessage, sum[:]) {
		t.Fatalf("response: %v", err)
	}

	js := `{"artifactHash":"` + b64(sum[:]) + `","hashAlgorithm":"sha256","nonce":7}`
	resp, err = http.Post(srv.URL+"/api/v1/timestamp", "application/json", strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if ts, err := timestamp.ParseResponse(body); err != nil || ts.Nonce.Int64() != 7 {
		t.Fatalf("JSON request: status %d, %v", resp.StatusCode, err)
	}

	resp, err = http.Get(srv.URL + "/api/v1/timestamp/certchain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	chain, err := pki.ParseCertificates(body)
	if err != nil || len(chain) != len(a.Chain()) || !chain[0].Equal(a.Chain()[0]) {
		t.Fatalf("certchain: %v", err)
	}
}

// TestBadInput sweeps the endpoints with what sigstore's timestamp-authority
// refuses: each answer is 4xx in its JSON error shape with the reason.
func TestBadInput(t *testing.T) {
	srv, _ := server(t)
	sha1Req, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: make([]byte, 20)}).Marshal()
	for _, c := range []struct {
		name, ctype, body string
		want              int
		reason            string
	}{
		{"garbage DER", "application/timestamp-query", "garbage", 400, "malformed"},
		{"empty", "application/timestamp-query", "", 400, "malformed"},
		{"SHA-1 imprint", "application/timestamp-query", string(sha1Req), 400, "unsupported hash"},
		{"JSON bad hash", "application/json", `{"artifactHash":"AAAA","hashAlgorithm":"sha256"}`, 400, "imprint"},
		{"JSON not JSON", "application/json", `{`, 400, "malformed JSON"},
		{"other type", "text/plain", "x", 415, "Content-Type"},
		{"no type", "", "x", 415, "Content-Type"},
		{"huge", "application/timestamp-query", strings.Repeat("A", 1<<20), 413, "limit"},
	} {
		resp, err := http.Post(srv.URL+"/api/v1/timestamp", c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Code    int
			Message string
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.want || e.Code != c.want || !strings.Contains(e.Message, c.reason) {
			t.Errorf("%s: %d %q, want %d naming %q", c.name, resp.StatusCode, e.Message, c.want, c.reason)
		}
	}
	for _, m := range []string{"GET /api/v1/timestamp", "POST /api/v1/timestamp/certchain", "DELETE /api/v1/timestamp"} {
		method, path, _ := strings.Cut(m, " ")
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, resp.StatusCode)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
