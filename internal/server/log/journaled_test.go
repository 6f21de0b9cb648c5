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
	ref := testonly.New(rfc6962.DefaultHasher)
	signer := newSigner(t)
	// appendAll appends n entries one by one and checks each answer: the
	// inclusion proof, the checkpoint, the root against the reference tree,
	// and reading back by index what Tessera has yet to integrate.
	appendAll := func(prefix string, n int) {
		t.Helper()
		ahead := 0
		for i, body := range signer.entries(t, prefix, n) {
			resp, b := tl.post(t, "/api/v1/log/entries", body)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("%s %d: %d %s", prefix, i, resp.StatusCode, b)
			}
			var got map[string]rekor.LogEntry
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			for _, le := range got {
				canonical, _ := base64.StdEncoding.DecodeString(le.Body)
				ref.AppendData(canonical)
				ip := le.Verification.InclusionProof
				root, _ := hex.DecodeString(ip.RootHash)
				hashes := make([][]byte, len(ip.Hashes))
				for k, h := range ip.Hashes {
					hashes[k], _ = hex.DecodeString(h)
				}
				idx, size := uint64(le.LogIndex), uint64(ip.TreeSize)
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, rfc6962.DefaultHasher.HashLeaf(canonical), hashes, root); err != nil {
					t.Fatalf("%s %d: inclusion proof: %v", prefix, i, err)
				}
				if size > ref.Size() || !bytes.Equal(root, ref.HashAt(size)) {
					t.Fatalf("%s %d: entry %d answered with a root for %d entries that is not the reference tree's", prefix, i, idx, size)
				}
				if !strings.Contains(ip.Checkpoint, fmt.Sprintf("\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(root))) {
					t.Fatalf("%s %d: checkpoint %q is not of the proof's tree", prefix, i, ip.Checkpoint)
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
			}
		}
		if ahead == 0 {
			t.Fatalf("%s: every append was answered after Tessera integrated it: the journal was not in front", prefix)
		}
	}
	// integrated waits until Tessera has published the reference tree.
	integrated := func() {
		t.Helper()
		want := fmt.Sprintf("\n%d\n%s\n", ref.Size(), base64.StdEncoding.EncodeToString(ref.Hash()))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			cp, err := tl.svc.reader.ReadCheckpoint(ctx)
			if err == nil && strings.Contains(string(cp), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Tessera's checkpoint %q never reached the acknowledged tree (%q)", cp, want)
			}
		}
		if n := tl.svc.journal.Backlog(); n != 0 {
			t.Fatalf("journal backlog %d after Tessera's checkpoint covers everything", n)
		}
	}
	appendAll("first", 20)
	integrated()
	// Now the tail starts mid-tile: proofs take their left part from
	// Tessera's (partial) tiles.
	appendAll("second", 20)
	integrated()
	// Close hands Tessera what was acknowledged; no restart needed.
	appendAll("third", 5)
	tl.stop()
	if n, err := tl.svc.reader.IntegratedSize(ctx); err != nil || n != ref.Size() {
		t.Fatalf("after Close, Tessera holds %d entries (%v); %d were acknowledged", n, err, ref.Size())
	}
}
