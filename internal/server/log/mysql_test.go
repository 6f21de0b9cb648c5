package log

import (
	"database/sql"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"hallmark.dev/hallmark/internal/hallmarktest"
)

// TestMySQLStorage runs the log on Tessera's MySQL driver against a real
// MariaDB server: concurrent appends, proofs matching the reference tree,
// dedup, and a restart that keeps everything.
func TestMySQLStorage(t *testing.T) {
	dsn := hallmarktest.MariaDB(t, "tessera")
	open := func() *sql.DB {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dir := t.TempDir()
	tl := openTestLogWith(t, dir, nil, open())
	s := newSigner(t)
	const n = 300
	entries := s.entries(t, "mysql ", n)
	bodies := tl.appendAll(t, entries)
	ref := testonly.New(rfc6962.DefaultHasher)
	ref.AppendData(bodies...)
	check := func(tl *testLog) {
		var li struct {
			RootHash string `json:"rootHash"`
			TreeSize uint64 `json:"treeSize"`
		}
		tl.get(t, "/api/v1/log", &li)
		if li.TreeSize != n || li.RootHash != hex.EncodeToString(ref.Hash()) {
			t.Fatalf("MySQL log root %s size %d, reference %x", li.RootHash, li.TreeSize, ref.Hash())
		}
		var cp struct {
			Hashes []string `json:"hashes"`
		}
		tl.get(t, "/api/v1/log/proof?firstSize=7&lastSize=300", &cp)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 7, n, decodeHashes(t, cp.Hashes), ref.HashAt(7), ref.Hash()); err != nil {
			t.Fatalf("consistency from MySQL storage: %v", err)
		}
	}
	check(tl)
	if resp, _ := tl.post(t, "/api/v1/log/entries", entries[5]); resp.StatusCode != http.StatusConflict {
		t.Errorf("duplicate on MySQL storage: %d", resp.StatusCode)
	}
	tl.stop()
	tl2 := openTestLogWith(t, dir, tl.key, open())
	check(tl2)
	if resp, _ := tl2.post(t, "/api/v1/log/entries", s.entry(t, []byte("after restart"))); resp.StatusCode != http.StatusCreated {
		t.Errorf("append after restart: %d", resp.StatusCode)
	}
}
