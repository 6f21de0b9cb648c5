package log

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"hallmark.dev/hallmark/pkg/rekor"
)

// A log on local disk answers an append from its journal, before Tessera
// has the entry: the answer's inclusion proof verifies under its root, the
// entry reads back by index, and the roots it was given are those of the
// tree of the entries in index order (transparency-dev/merkle's reference
// tree), which Tessera's own checkpoint then publishes.
func TestJournaledLogAnswersBeforeTessera(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	ctx := context.Background()
	type answer struct {
		idx, size uint64
		root      []byte
	}
	var answers []answer
	ref := testonly.New(rfc6962.DefaultHasher)
	ahead := 0
	for i, body := range newSigner(t).entries(t, "journaled", 20) {
		resp, b := tl.post(t, "/api/v1/log/entries", body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("append %d: %d %s", i, resp.StatusCode, b)
		}
		var got map[string]rekor.LogEntry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		for _, le := range got {
			canonical, _ := base64.StdEncoding.DecodeString(le.Body)
			ip := le.Verification.InclusionProof
			root, _ := hex.DecodeString(ip.RootHash)
			hashes := make([][]byte, len(ip.Hashes))
			for k, h := range ip.Hashes {
				hashes[k], _ = hex.DecodeString(h)
			}
			idx, size := uint64(le.LogIndex), uint64(ip.TreeSize)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, rfc6962.DefaultHasher.HashLeaf(canonical), hashes, root); err != nil {
				t.Fatalf("append %d: inclusion proof: %v", i, err)
			}
			if !strings.Contains(ip.Checkpoint, fmt.Sprintf("\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(root))) {
				t.Fatalf("append %d: checkpoint %q is not of the proof's tree", i, ip.Checkpoint)
			}
			if integrated, _ := tl.svc.reader.IntegratedSize(ctx); integrated <= idx {
				ahead++
				var byIndex map[string]rekor.LogEntry
				if code := tl.get(t, "/api/v1/log/entries?logIndex="+strconv.FormatUint(idx, 10), &byIndex); code != http.StatusOK {
					t.Fatalf("entry %d, acknowledged but not yet integrated: GET by index answered %d", idx, code)
				}
				for _, e := range byIndex {
					if e.Body != le.Body {
						t.Fatalf("entry %d reads back another body", idx)
					}
				}
			}
			ref.AppendData(canonical)
			answers = append(answers, answer{idx, size, root})
		}
	}
	if ahead == 0 {
		t.Fatal("every append was answered after Tessera integrated it: the journal was not in front")
	}
	for _, a := range answers {
		if a.size > ref.Size() || !bytes.Equal(a.root, ref.HashAt(a.size)) {
			t.Fatalf("entry %d was answered with a root for %d entries that is not the reference tree's", a.idx, a.size)
		}
	}
	// Tessera integrates them (the journal hands it a round every 500 ms)
	// and publishes the same tree (a checkpoint a second).
	want := fmt.Sprintf("\n%d\n%s\n", ref.Size(), base64.StdEncoding.EncodeToString(ref.Hash()))
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := tl.svc.reader.ReadCheckpoint(ctx)
		if err == nil && strings.Contains(string(cp), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Tessera's checkpoint %q never reached the acknowledged tree (%q)", cp, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := tl.svc.journal.Backlog(); n != 0 {
		t.Fatalf("journal backlog %d after Tessera's checkpoint covers everything", n)
	}
}
