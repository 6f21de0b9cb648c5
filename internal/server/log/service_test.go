package log

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/tlog"
)

// The log's trees, roots and proofs agree with transparency-dev/merkle's
// reference tree for many sizes, across a tile boundary (256), checked with
// merkle's own verifiers.
func TestProofsMatchReferenceTree(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s := newSigner(t)
	const n = 300
	entries := s.entries(t, "artifact ", n)
	bodies := tl.appendAll(t, entries)
	ref := testonly.New(rfc6962.DefaultHasher)
	ref.AppendData(bodies...)
	var li struct {
		RootHash string `json:"rootHash"`
		TreeSize uint64 `json:"treeSize"`
	}
	tl.get(t, "/api/v1/log", &li)
	if li.TreeSize != n || li.RootHash != hex.EncodeToString(ref.Hash()) {
		t.Fatalf("log root %s size %d, reference %x size %d", li.RootHash, li.TreeSize, ref.Hash(), n)
	}
	for _, i := range []int{0, 1, 2, 7, 100, 255, 256, 257, 299} {
		var m map[string]*rekor.LogEntry
		if code := tl.get(t, fmt.Sprintf("/api/v1/log/entries?logIndex=%d", i), &m); code != http.StatusOK {
			t.Fatalf("get %d: %d", i, code)
		}
		for _, le := range m {
			hashes := decodeHashes(t, le.Verification.InclusionProof.Hashes)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), n, ref.LeafHash(uint64(i)), hashes, ref.Hash()); err != nil {
				t.Errorf("inclusion of %d in %d: %v", i, n, err)
			}
		}
	}
	for _, sz := range [][2]uint64{{1, 2}, {1, 300}, {3, 7}, {5, 255}, {255, 256}, {256, 257}, {7, 300}, {299, 300}, {100, 100}} {
		var cp struct {
			RootHash string   `json:"rootHash"`
			Hashes   []string `json:"hashes"`
		}
		if code := tl.get(t, fmt.Sprintf("/api/v1/log/proof?firstSize=%d&lastSize=%d", sz[0], sz[1]), &cp); code != http.StatusOK {
			t.Fatalf("proof %v: %d", sz, code)
		}
		if cp.RootHash != hex.EncodeToString(ref.HashAt(sz[1])) {
			t.Errorf("root at %d: %s, reference %x", sz[1], cp.RootHash, ref.HashAt(sz[1]))
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, sz[0], sz[1], decodeHashes(t, cp.Hashes), ref.HashAt(sz[0]), ref.HashAt(sz[1])); err != nil {
			t.Errorf("consistency %d -> %d: %v", sz[0], sz[1], err)
		}
	}
	for _, bad := range []string{"firstSize=5&lastSize=3", "firstSize=1&lastSize=9999", "firstSize=x"} {
		if code := tl.get(t, "/api/v1/log/proof?"+bad, nil); code != http.StatusBadRequest {
			t.Errorf("proof %s: %d, want 400", bad, code)
		}
	}
}

func decodeHashes(t *testing.T, hx []string) [][]byte {
	out := make([][]byte, len(hx))
	for i, h := range hx {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func verifyProof(body []byte, p *rekor.InclusionProof) error {
	root, _ := hex.DecodeString(p.RootHash)
	hashes := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		hashes[i], _ = hex.DecodeString(h)
	}
	return tlog.VerifyInclusion(body, uint64(p.LogIndex), uint64(p.TreeSize), hashes, root)
}

func TestDuplicateIsConflict(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	e := newSigner(t).entry(t, []byte("once"))
	resp, _ := tl.post(t, "/api/v1/log/entries", e)
	if resp.StatusCode != http.StatusCreated {
		t.Fatal(resp.Status)
	}
	uuid := resp.Header.Get("ETag")
	resp, b := tl.post(t, "/api/v1/log/entries", e)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Location") != "/api/v1/log/entries/"+uuid {
		t.Fatalf("duplicate: %d, Location %q: %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	if n := tl.size(t); n != 1 {
		t.Fatalf("duplicate was logged: size %d", n)
	}
	// Concurrent duplicates: one entry, the rest 409.
	e2 := newSigner(t).entry(t, []byte("race"))
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Add(1)
		go func(i int) { defer wg.Done(); r, _ := tl.post(t, "/api/v1/log/entries", e2); codes[i] = r.StatusCode }(i)
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("concurrent duplicate answered %d", c)
		}
	}
	if created != 1 || tl.size(t) != 2 {
		t.Fatalf("%d created, size %d; want 1 and 2", created, tl.size(t))
	}
}

func TestBadEntriesAreRefusedAndNotWritten(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s, other := newSigner(t), newSigner(t)
	good := s.entry(t, []byte("a"))
	var spec map[string]any
	json.Unmarshal(good, &spec)
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	sp := func(m map[string]any) map[string]any { return m["spec"].(map[string]any) }
	otherPEM := base64.StdEncoding.EncodeToString(other.pubPEM)
	cases := map[string]struct {
		body []byte
		code int
		want string
	}{
		"not json":     {[]byte("{"), 400, "not a JSON"},
		"unknown kind": {[]byte(`{"kind":"rpm","apiVersion":"0.0.1","spec":{}}`), 400, "unsupported kind"},
		"intoto 0.0.1": {[]byte(`{"kind":"intoto","apiVersion":"0.0.1","spec":{}}`), 400, "unsupported kind"},
		"no spec":      {[]byte(`{"kind":"hashedrekord","apiVersion":"0.0.1"}`), 400, "no spec"},
		"wrong key": {mutate(func(m map[string]any) {
			sp(m)["signature"].(map[string]any)["publicKey"].(map[string]any)["content"] = otherPEM
		}), 400, "does not verify"},
		"wrong digest": {mutate(func(m map[string]any) {
			sp(m)["data"].(map[string]any)["hash"].(map[string]any)["value"] = strings.Repeat("ab", 32)
		}), 400, "does not verify"},
		"short digest":     {mutate(func(m map[string]any) { sp(m)["data"].(map[string]any)["hash"].(map[string]any)["value"] = "abcd" }), 400, "hex-encoded"},
		"md5":              {mutate(func(m map[string]any) { sp(m)["data"].(map[string]any)["hash"].(map[string]any)["algorithm"] = "md5" }), 400, "algorithm"},
		"sig not base64":   {mutate(func(m map[string]any) { sp(m)["signature"].(map[string]any)["content"] = "!!" }), 400, "not base64"},
		"dsse no verifier": {[]byte(`{"kind":"dsse","apiVersion":"0.0.1","spec":{"proposedContent":{"envelope":"{\"payloadType\":\"x\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AA==\"}]}","verifiers":[]}}}`), 400, "verifiers is empty"},
		"dsse bad sig": {func() []byte {
			p, _ := rekor.NewDSSE("application/vnd.in-toto+json", []byte("{}"), []byte("not a signature"), s.pubPEM)
			return p
		}(), 400, "verifies under none"},
		"oversized": {[]byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":"` + strings.Repeat("a", 70<<10) + `"}`), 413, "limit"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, b := tl.post(t, "/api/v1/log/entries", tc.body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, b, tc.code, tc.want)
			}
		})
	}
	if n := tl.size(t); n != 0 {
		t.Fatalf("refused entries were written: size %d", n)
	}
	if resp, _ := tl.post(t, "/api/v1/log/entries", good); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the good entry: %d", resp.StatusCode)
	}
}

func TestSearchAndRetrieve(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	a, b := newSigner(t), newSigner(t)
	var (
		uuids []string
		sets  [][]byte
	)
	for i, s := range []*signer{a, a, b} {
		resp, body := tl.post(t, "/api/v1/log/entries", s.entry(t, []byte(fmt.Sprint("art", i))))
		uuids = append(uuids, resp.Header.Get("ETag"))
		var m map[string]*rekor.LogEntry
		json.Unmarshal(body, &m)
		sets = append(sets, m[uuids[i]].Verification.SignedEntryTimestamp)
	}
	// A fetched entry carries the SET its append was answered with.
	var fetched map[string]*rekor.LogEntry
	if code := tl.get(t, "/api/v1/log/entries/"+uuids[1], &fetched); code != http.StatusOK || !bytes.Equal(fetched[uuids[1]].Verification.SignedEntryTimestamp, sets[1]) {
		t.Errorf("GET %s: %d, SET differs from the append's", uuids[1], code)
	}
	search := func(q string) []string {
		resp, body := tl.post(t, "/api/v1/index/retrieve", []byte(q))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search %s: %d %s", q, resp.StatusCode, body)
		}
		var out []string
		json.Unmarshal(body, &out)
		return out
	}
	aKey := base64.StdEncoding.EncodeToString(a.pubPEM)
	if got := search(`{"publicKey":{"format":"x509","content":"` + aKey + `"}}`); len(got) != 2 {
		t.Errorf("by key a: %v", got)
	}
	sum := fmt.Sprintf("%x", sha256Sum([]byte("art2")))
	if got := search(`{"hash":"sha256:` + sum + `"}`); len(got) != 1 || got[0] != uuids[2] {
		t.Errorf("by hash: %v, want [%s]", got, uuids[2])
	}
	if got := search(`{"hash":"` + sum + `","publicKey":{"format":"x509","content":"` + aKey + `"},"operator":"and"}`); len(got) != 0 {
		t.Errorf("AND of disjoint keys: %v", got)
	}
	if got := search(`{"hash":"` + sum + `","publicKey":{"format":"x509","content":"` + aKey + `"},"operator":"or"}`); len(got) != 3 {
		t.Errorf("OR: %v", got)
	}
	if resp, _ := tl.post(t, "/api/v1/index/retrieve", []byte(`{}`)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty search: %d", resp.StatusCode)
	}
	resp, body := tl.post(t, "/api/v1/log/entries/retrieve", []byte(`{"entryUUIDs":["`+uuids[0]+`"],"logIndexes":[2,99]}`))
	var got []map[string]*rekor.LogEntry
	json.Unmarshal(body, &got)
	if resp.StatusCode != http.StatusOK || len(got) != 2 {
		t.Fatalf("retrieve: %d %s", resp.StatusCode, body)
	}
	if code := tl.get(t, "/api/v1/log/entries/"+strings.Repeat("0", 64), nil); code != http.StatusNotFound {
		t.Errorf("unknown UUID: %d", code)
	}
	if code := tl.get(t, "/api/v1/log/entries/zz", nil); code != http.StatusBadRequest {
		t.Errorf("malformed UUID: %d", code)
	}
	// Entry IDs are Rekor's 80 hex digits (tree ID, then leaf hash), as
	// rekor-cli needs them; the 64-hex leaf hash alone is accepted too, and
	// another tree's ID is not this log's entry.
	if len(uuids[1]) != 80 {
		t.Fatalf("entry ID %q is not 80 hex digits", uuids[1])
	}
	if code := tl.get(t, "/api/v1/log/entries/"+uuids[1][16:], nil); code != http.StatusOK {
		t.Errorf("64-hex UUID: %d", code)
	}
	if code := tl.get(t, "/api/v1/log/entries/"+strings.Repeat("1", 16)+uuids[1][16:], nil); code != http.StatusNotFound {
		t.Errorf("another tree's entry ID: %d", code)
	}
}

// The tlog-tiles read API serves a checkpoint co-signed with the C2SP
// Ed25519 note key, and tiles a standard client builds proofs from.
func TestTilesAPI(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s := newSigner(t)
	var bodies [][]byte
	for i := 0; i < 5; i++ {
		resp, b := tl.post(t, "/api/v1/log/entries", s.entry(t, []byte(fmt.Sprint(i))))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("entry %d: %d %s", i, resp.StatusCode, b)
		}
		var m map[string]*rekor.LogEntry
		json.Unmarshal(b, &m)
		for _, le := range m {
			body, _ := base64.StdEncoding.DecodeString(le.Body)
			bodies = append(bodies, body)
		}
	}
	vkey, err := NoteVerifierKey(tl.dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(tl.srv.URL + "/")
	f, err := tclient.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var cp []byte
	for i := 0; i < 250; i++ { // Tessera publishes at its checkpoint interval (1s)
		cp, err = f.ReadCheckpoint(ctx)
		if err == nil && strings.Contains(string(cp), "\n5\n") {
			break
		}
		sleep()
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		t.Fatalf("published checkpoint does not verify with the C2SP note key: %v\n%s", err, cp)
	}
	if _, err := tlog.VerifyCheckpoint(cp, tl.key.Public()); err != nil {
		t.Fatalf("published checkpoint lacks the log key's signature: %v", err)
	}
	ref := testonly.New(rfc6962.DefaultHasher)
	ref.AppendData(bodies...)
	pb, err := tclient.NewProofBuilder(ctx, 5, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pb.InclusionProof(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 3, 5, ref.LeafHash(3), p, ref.Hash()); err != nil {
		t.Fatalf("proof from served tiles: %v (%s)", err, n.Text)
	}
	bundle, err := tclient.GetEntryBundle(ctx, f.ReadEntryBundle, 0, 5)
	if err != nil || len(bundle.Entries) != 5 || string(bundle.Entries[4]) != string(bodies[4]) {
		t.Fatalf("entry bundle: %v", err)
	}
}

func TestRestartKeepsEntries(t *testing.T) {
	dir := t.TempDir()
	tl := openTestLog(t, dir, nil)
	s := newSigner(t)
	var first []byte
	for i := 0; i < 3; i++ {
		e := s.entry(t, []byte(fmt.Sprint(i)))
		if i == 0 {
			first = e
		}
		tl.post(t, "/api/v1/log/entries", e)
	}
	var before struct {
		RootHash string `json:"rootHash"`
	}
	tl.get(t, "/api/v1/log", &before)
	tl.stop()
	tl2 := openTestLog(t, dir, tl.key)
	var after struct {
		RootHash string `json:"rootHash"`
		TreeSize int    `json:"treeSize"`
	}
	tl2.get(t, "/api/v1/log", &after)
	if after.RootHash != before.RootHash || after.TreeSize != 3 {
		t.Fatalf("after restart %+v, before %s", after, before.RootHash)
	}
	if resp, _ := tl2.post(t, "/api/v1/log/entries", first); resp.StatusCode != http.StatusConflict {
		t.Errorf("an entry from before the restart was not recognised: %d", resp.StatusCode)
	}
	if resp, _ := tl2.post(t, "/api/v1/log/entries", s.entry(t, []byte("new"))); resp.StatusCode != http.StatusCreated {
		t.Errorf("append after restart: %d", resp.StatusCode)
	}
}

// The search index can be rebuilt from the log: remove it, and the log
// reindexes every entry at start.
func TestIndexRebuiltFromLog(t *testing.T) {
	dir := t.TempDir()
	tl := openTestLog(t, dir, nil)
	s := newSigner(t)
	var uuids []string
	for i := 0; i < 20; i++ {
		resp, _ := tl.post(t, "/api/v1/log/entries", s.entry(t, []byte(fmt.Sprint("rebuild ", i))))
		uuids = append(uuids, resp.Header.Get("ETag"))
	}
	tl.stop()
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	tl2 := openTestLog(t, dir, tl.key)
	for i, u := range uuids {
		var m map[string]*rekor.LogEntry
		if code := tl2.get(t, "/api/v1/log/entries/"+u, &m); code != http.StatusOK || m[u].LogIndex != int64(i) {
			t.Fatalf("entry %d (%s) after rebuild: %d", i, u, code)
		}
	}
	resp, body := tl2.post(t, "/api/v1/index/retrieve", []byte(`{"publicKey":{"format":"x509","content":"`+base64.StdEncoding.EncodeToString(s.pubPEM)+`"}}`))
	var found []string
	json.Unmarshal(body, &found)
	if resp.StatusCode != http.StatusOK || len(found) != 20 {
		t.Fatalf("search after rebuild found %d of 20", len(found))
	}
}

// The trusted root's validity start is fixed at the log's first start, so a
// root written at a later start still covers the log's older entries.
func TestValidFromIsStable(t *testing.T) {
	dir := t.TempDir()
	first, err := ValidFrom(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Before(time.Now()) {
		t.Fatalf("valid from %v is not in the past", first)
	}
	os.WriteFile(filepath.Join(dir, validFromFile+".x"), nil, 0o644) // unrelated files change nothing
	again, err := ValidFrom(dir)
	if err != nil || !again.Equal(first) {
		t.Fatalf("second start: %v %v, want %v", again, err, first)
	}
	os.WriteFile(filepath.Join(dir, validFromFile), []byte("yesterday"), 0o644)
	if _, err := ValidFrom(dir); err == nil {
		t.Fatal("a garbled validity file was accepted")
	}
}
