package log

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"

	"hallmark.dev/hallmark/pkg/rekor"
)

// Hundreds of concurrent appends (and concurrent duplicates) go through the
// group committer in large, spaced rounds: each distinct entry gets its own
// index, densely, with a proof that verifies; each duplicate is answered
// with its original; every entry is indexed when acknowledged.
func TestConcurrentAppendsAreGrouped(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	s := newSigner(t)
	const n, dups = 400, 40
	entries := make([]*rekor.Entry, n)
	for i := range entries {
		e, err := rekor.Parse(s.entry(t, []byte(fmt.Sprint("grouped ", i))))
		if err != nil {
			t.Fatal(err)
		}
		entries[i] = e
	}
	type answer struct {
		uuid string
		le   *rekor.LogEntry
		err  error
	}
	answers := make([]answer, n+dups)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			uuid, le, err := tl.svc.Add(context.Background(), entries[i%n])
			answers[i] = answer{uuid, le, err}
		}(i)
	}
	wg.Wait()

	seen := make(map[int64]string)
	for i := 0; i < n; i++ {
		a, d := answers[i], answer{}
		if i < dups {
			d = answers[n+i]
			// One of the two copies was logged, the other is a duplicate.
			if errors.Is(a.err, ErrExists) {
				a, d = d, a
			}
			if !errors.Is(d.err, ErrExists) || d.uuid != a.uuid || d.le == nil || d.le.LogIndex != a.le.LogIndex {
				t.Fatalf("entry %d sent twice: %+v / %+v", i, a, d)
			}
		}
		if a.err != nil {
			t.Fatalf("entry %d: %v", i, a.err)
		}
		if prev, ok := seen[a.le.LogIndex]; ok {
			t.Fatalf("index %d given to %s and %s", a.le.LogIndex, prev, a.uuid)
		}
		seen[a.le.LogIndex] = a.uuid
		body, _ := base64.StdEncoding.DecodeString(a.le.Body)
		if err := verifyProof(body, a.le.Verification.InclusionProof); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		// Acknowledged means indexed.
		if uuid, _, err := tl.svc.GetByIndex(context.Background(), uint64(a.le.LogIndex)); err != nil || uuid != a.uuid {
			t.Fatalf("index %d: %s, %v; want %s", a.le.LogIndex, uuid, err, a.uuid)
		}
	}
	for i := int64(0); i < n; i++ {
		if _, ok := seen[i]; !ok {
			t.Fatalf("no entry at index %d: the log is not dense", i)
		}
	}
	if size := tl.size(t); size != n {
		t.Fatalf("log size %d, want %d", size, n)
	}
}
