package ct

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/ctonly"
)

// fakeTessera stands in for Tessera's add: it numbers entries from offset
// on and resolves futures once hold is closed.
type fakeTessera struct {
	mu     sync.Mutex
	next   uint64
	offset uint64
	hold   chan struct{}
	got    [][]byte
}

func newFake() *fakeTessera { return &fakeTessera{hold: make(chan struct{})} }

func (f *fakeTessera) add(_ context.Context, e *tessera.Entry) tessera.IndexFuture {
	f.mu.Lock()
	idx := f.next + f.offset
	f.next++
	f.got = append(f.got, e.MarshalBundleData(idx))
	f.mu.Unlock()
	return func() (tessera.Index, error) {
		<-f.hold
		return tessera.Index{Index: idx}, nil
	}
}

func testEntry(i int, precert bool) *ctonly.Entry {
	h := sha256.Sum256(fmt.Appendf(nil, "issuer %d", i))
	e := &ctonly.Entry{Timestamp: uint64(1700000000000 + i), IsPrecert: precert, Certificate: fmt.Appendf(nil, "certificate %d", i),
		FingerprintsChain: [][32]byte{h, sha256.Sum256([]byte("root"))}}
	if precert {
		e.IssuerKeyHash = h[:]
		e.Precertificate = fmt.Appendf(nil, "precertificate %d", i)
	}
	return e
}

func openTestJournal(t *testing.T, dir string, size uint64, inner tessera.AddFn) *journal {
	t.Helper()
	j, err := openJournal(dir, size, inner, decodeTileLeaf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func resolve(t *testing.T, f tessera.IndexFuture) tessera.Index {
	t.Helper()
	idx, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// An entry is acknowledged with its index once it is on disk, before Tessera
// has integrated it; Tessera gets it after, under the same index.
func TestJournalAcknowledgesBeforeTessera(t *testing.T) {
	dir, fake := t.TempDir(), newFake()
	fake.offset = 5
	j := openTestJournal(t, dir, 5, fake.add)
	var wg sync.WaitGroup
	got := make([]tessera.Index, 3)
	for i := range got {
		wg.Go(func() { got[i] = resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, i%2 == 0)))) })
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, g := range got {
		if g.IsDup || g.Index < 5 || g.Index > 7 || seen[g.Index] {
			t.Fatalf("indices %+v, want 5, 6, 7 once each", got)
		}
		seen[g.Index] = true
	}
	if b := j.Backlog(); b != 3 {
		t.Errorf("backlog %d before Tessera integrated, want 3", b)
	}
	_, records, err := readSegments(dir)
	if err != nil || len(records) != 3 {
		t.Fatalf("journal holds %d records (%v), want 3", len(records), err)
	}
	close(fake.hold)
	if err := j.waitIntegrated(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	for i, r := range records {
		if r.idx != uint64(5+i) || !bytes.Equal(r.data, fake.got[i]) {
			t.Errorf("record %d: index %d, Tessera wrote different bytes: %t", i, r.idx, !bytes.Equal(r.data, fake.got[i]))
		}
	}
	if err := j.close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// After a crash between acknowledging entries and Tessera integrating them,
// the next start hands them to Tessera under the indices the SCTs carry.
func TestJournalReplaysAfterCrash(t *testing.T) {
	f := open(t)
	dir := f.dir
	for range 3 {
		if _, err := f.log.LogPrecert(t.Context(), f.precert(t, true).Raw, []byte("tbs"), f.chain[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second process acknowledges three more, then dies before Tessera
	// sees them.
	never := newFake()
	crashed := openTestJournal(t, filepath.Join(dir, "journal"), 3, never.add)
	want := map[uint64][]byte{}
	for i := range 3 {
		idx := resolve(t, crashed.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
		want[idx.Index] = tesseraCTEntry(testEntry(i, true)).MarshalBundleData(idx.Index)
	}
	crashed.store.close()

	l, err := Open(t.Context(), Config{Dir: dir, Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:], CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if n, err := l.reader.IntegratedSize(t.Context()); err != nil || n != 6 {
		t.Fatalf("log holds %d entries after restart (%v), want 6", n, err)
	}
	bundle, err := l.reader.ReadEntryBundle(t.Context(), 0, layout.PartialTileSize(0, 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	for idx, data := range want {
		if !bytes.Contains(bundle, data) {
			t.Errorf("entry %d is not in the log as acknowledged", idx)
		}
	}
	// New entries follow them.
	sct, err := l.LogPrecert(t.Context(), f.precert(t, true).Raw, []byte("tbs"), f.chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if idx := sctIndex(t, sct.Extensions); idx != 6 {
		t.Errorf("next SCT carries index %d, want 6", idx)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "journal")); len(ents) != 1 {
		t.Errorf("journal holds %d segments after replay and one add, want 1", len(ents))
	}
}

func sctIndex(t *testing.T, ext []byte) uint64 {
	t.Helper()
	if len(ext) != 8 || ext[0] != 0 || ext[1] != 0 || ext[2] != 5 {
		t.Fatalf("SCT extensions %x: no leaf_index", ext)
	}
	var idx uint64
	for _, b := range ext[3:] {
		idx = idx<<8 | uint64(b)
	}
	return idx
}

// writeJournal writes records for entries first..first+n-1 as one segment.
func writeJournal(t *testing.T, dir string, first uint64, n int) []byte {
	t.Helper()
	var b []byte
	for i := range n {
		idx := first + uint64(i)
		b = appendRecord(b, idx, tesseraCTEntry(testEntry(int(idx), true)).MarshalBundleData(idx))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(first)), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJournalRecovery(t *testing.T) {
	for _, c := range []struct {
		name     string
		size     uint64 // entries Tessera holds
		damage   func(t *testing.T, dir string, seg []byte)
		replayed int
		err      string
	}{
		{"all integrated", 10, nil, 0, ""},
		{"tail not integrated", 7, nil, 3, ""},
		{"torn last record", 7, func(t *testing.T, dir string, seg []byte) {
			os.WriteFile(filepath.Join(dir, segmentName(5)), seg[:len(seg)-3], 0o600)
		}, 2, ""},
		{"checksum of last record", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			os.WriteFile(filepath.Join(dir, segmentName(5)), seg, 0o600)
		}, 2, ""},
		{"damage in an earlier segment", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			os.WriteFile(filepath.Join(dir, segmentName(5)), seg, 0o600)
			writeJournal(t, dir, 10, 1)
		}, 0, "checksum mismatch"},
		{"gap after the log", 3, nil, 0, "entries 3 to 4 were acknowledged and are lost"},
		{"stray file", 7, func(t *testing.T, dir string, _ []byte) {
			os.WriteFile(filepath.Join(dir, "7.log"), nil, 0o600)
		}, 0, "unexpected file 7.log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := writeJournal(t, dir, 5, 5)
			if c.damage != nil {
				c.damage(t, dir, seg)
			}
			fake := newFake()
			fake.offset = c.size
			close(fake.hold)
			j, err := openJournal(dir, c.size, fake.add, decodeTileLeaf, slog.New(slog.DiscardHandler))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("open: %v, want an error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.close(context.Background())
			if len(fake.got) != c.replayed {
				t.Fatalf("handed %d entries to Tessera, want %d", len(fake.got), c.replayed)
			}
			for i, data := range fake.got {
				idx := c.size + uint64(i)
				if want := tesseraCTEntry(testEntry(int(idx), true)).MarshalBundleData(idx); !bytes.Equal(data, want) {
					t.Errorf("entry %d replayed with other bytes", idx)
				}
			}
			if j.next != c.size+uint64(c.replayed) || j.integrated() != j.next {
				t.Errorf("next %d, integrated %d, want %d", j.next, j.integrated(), c.size+uint64(c.replayed))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("%d segments left after replay", len(ents))
			}
		})
	}
}

func TestJournalDuplicateKeepsFirstIndex(t *testing.T) {
	fake := newFake()
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), 0, fake.add)
	defer j.close(context.Background())
	first := resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(2, true))))
	again := resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	if !again.IsDup || again.Index != first.Index {
		t.Errorf("duplicate: %+v, want IsDup at %d", again, first.Index)
	}
	if err := j.waitIntegrated(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	if len(fake.got) != 2 {
		t.Errorf("Tessera got %d entries, want 2 (no duplicate)", len(fake.got))
	}
}

// If Tessera ever puts an entry elsewhere than its SCT says, the log stops.
func TestJournalStopsWhenTesseraDisagrees(t *testing.T) {
	fake := newFake()
	fake.offset = 1
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), 0, fake.add)
	defer j.close(context.Background())
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	deadline := time.Now().Add(10 * time.Second)
	for j.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("journal error %v, want the disagreement", err)
	}
	if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(2, true)))(); err == nil {
		t.Error("an add after the disagreement was acknowledged")
	}
}

func TestJournalPushesBack(t *testing.T) {
	fake := newFake()
	j := openTestJournal(t, t.TempDir(), 0, fake.add)
	j.backlog = 2
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(2, true))))
	if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(3, true)))(); !errors.Is(err, tessera.ErrPushback) {
		t.Errorf("third add with a backlog of 2: %v, want pushback", err)
	}
	close(fake.hold)
	if err := j.waitIntegrated(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(3, true))))
	j.close(context.Background())
}

func TestJournalReleasesIntegratedSegments(t *testing.T) {
	dir, fake := t.TempDir(), newFake()
	close(fake.hold)
	j := openTestJournal(t, dir, 0, fake.add)
	j.store.limit = 1 // a segment per sync
	for i := range 4 {
		resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
		if err := j.waitIntegrated(t.Context(), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	j.close(context.Background())
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != segmentName(3) {
		t.Errorf("segments left: %v, want only the last", ents)
	}
}

func TestParseTileLeaf(t *testing.T) {
	for _, precert := range []bool{true, false} {
		e := testEntry(7, precert)
		data := e.LeafData(42)
		back, err := decodeTileLeaf(42, data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.MarshalBundleData(42), data) {
			t.Errorf("precert %t: does not read back", precert)
		}
	}
	good := testEntry(7, true).LeafData(1)
	for name, b := range map[string][]byte{
		"empty": nil, "short": good[:9], "cut": good[:len(good)-1], "trailing": append(good[:len(good):len(good)], 0),
		"entry type": append(append(good[:8:8], 0, 9), good[10:]...),
	} {
		if _, err := parseTileLeaf(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// An entry Tessera would refuse is refused before it is acknowledged, and
// takes no index.
func TestJournalRefusesOversizedEntries(t *testing.T) {
	fake := newFake()
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), 0, fake.add)
	defer j.close(context.Background())
	big := testEntry(1, true)
	big.Precertificate = make([]byte, maxEntryData)
	if _, err := j.add(t.Context(), tesseraCTEntry(big))(); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized entry: %v", err)
	}
	if idx := resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(2, true)))); idx.Index != 0 {
		t.Errorf("next entry at %d, want 0", idx.Index)
	}
	if err := j.Err(); err != nil {
		t.Errorf("journal stopped: %v", err)
	}
}
