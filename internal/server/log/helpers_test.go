package log

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/rekor"
)

type testLog struct {
	svc  *Service
	srv  *httptest.Server
	dir  string
	key  *ecdsa.PrivateKey
	stop func()
}

func openTestLog(t *testing.T, dir string, key *ecdsa.PrivateKey) *testLog {
	return openTestLogWith(t, dir, key, nil)
}

func openTestLogWith(t *testing.T, dir string, key *ecdsa.PrivateKey, db *sql.DB) *testLog {
	t.Helper()
	if key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	svc, err := Open(context.Background(), Config{Dir: dir, Signer: key, BatchMaxAge: 2 * time.Millisecond, MySQL: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(svc, 64<<10, nil))
	tl := &testLog{svc: svc, srv: srv, dir: dir, key: key}
	stopped := false
	tl.stop = func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Close(ctx); err != nil {
			t.Errorf("closing log: %v", err)
		}
	}
	t.Cleanup(tl.stop)
	return tl
}

// signer makes valid hashedrekord entries.
type signer struct {
	key    *ecdsa.PrivateKey
	pubPEM []byte
}

func newSigner(t *testing.T) *signer {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, _ := keys.MarshalPublicKey(k.Public())
	return &signer{k, p}
}

func (s *signer) entry(t testing.TB, artifact []byte) []byte {
	d := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	p, err := rekor.NewHashedRekord(d[:], sig, s.pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// entries makes n distinct valid entries.
func (s *signer) entries(t testing.TB, prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = s.entry(t, []byte(fmt.Sprint(prefix, i)))
	}
	return out
}

func (tl *testLog) post(t testing.TB, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(tl.srv.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// Answers to appends carry their length (clients and load generators
	// read them without chunked framing).
	if resp.StatusCode == http.StatusCreated && resp.ContentLength != int64(len(b)) {
		t.Errorf("POST %s: Content-Length %d for a %d byte body", path, resp.ContentLength, len(b))
	}
	return resp, b
}

func (tl *testLog) get(t testing.TB, path string, out any) int {
	t.Helper()
	resp, err := http.Get(tl.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func (tl *testLog) size(t testing.TB) int64 {
	var li struct {
		TreeSize int64 `json:"treeSize"`
	}
	if code := tl.get(t, "/api/v1/log", &li); code != http.StatusOK {
		t.Fatalf("log info: %d", code)
	}
	return li.TreeSize
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func sleep() { time.Sleep(20 * time.Millisecond) }

// appendAll posts entries 32 at a time and returns each acknowledged body
// at its log index, after checking its creation proof.
func (tl *testLog) appendAll(t *testing.T, entries [][]byte) [][]byte {
	t.Helper()
	bodies := make([][]byte, len(entries))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, e := range entries {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, e []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			resp, b := tl.post(t, "/api/v1/log/entries", e)
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("entry %d: %d %s", i, resp.StatusCode, b)
				return
			}
			var m map[string]*rekor.LogEntry
			if err := json.Unmarshal(b, &m); err != nil {
				t.Error(err)
				return
			}
			for uuid, le := range m {
				body, _ := base64.StdEncoding.DecodeString(le.Body)
				if len(uuid) != 80 || hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(body)) != uuid[16:] {
					t.Errorf("entry ID %s is not the tree ID and the leaf hash", uuid)
				}
				if resp.Header.Get("ETag") != uuid || resp.Header.Get("Location") != "/api/v1/log/entries/"+uuid {
					t.Errorf("ETag %q / Location %q do not name %s", resp.Header.Get("ETag"), resp.Header.Get("Location"), uuid)
				}
				if err := verifyProof(body, le.Verification.InclusionProof); err != nil {
					t.Errorf("entry %d creation proof: %v", le.LogIndex, err)
				}
				mu.Lock()
				bodies[le.LogIndex] = body
				mu.Unlock()
			}
		}(i, e)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return bodies
}
