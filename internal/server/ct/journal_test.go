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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/ctonly"
)

// fakeTessera stands in for Tessera's add: like the POSIX driver it puts
// each entry it takes at the end of its tree (size), resolves futures once
// hold is closed, and refuses the calls refuse names (counted from 0).
type fakeTessera struct {
	mu          sync.Mutex
	size        uint64
	skew        uint64 // added to the indices it reports
	hold        chan struct{}
	got         [][]byte
	calls       int
	refuse      func(call int) bool
	outstanding int // added, future not yet called
	most        int
}

func newFake(size uint64) *fakeTessera { return &fakeTessera{size: size, hold: make(chan struct{})} }

func (f *fakeTessera) add(_ context.Context, e *tessera.Entry) tessera.IndexFuture {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := f.calls
	f.calls++
	f.outstanding++
	f.most = max(f.most, f.outstanding)
	done := func() {
		f.mu.Lock()
		f.outstanding--
		f.mu.Unlock()
	}
	if f.refuse != nil && f.refuse(call) {
		return func() (tessera.Index, error) { done(); return tessera.Index{}, errors.New("disk full") }
	}
	idx := f.size
	f.size++
	f.got = append(f.got, e.MarshalBundleData(idx))
	return func() (tessera.Index, error) {
		<-f.hold
		done()
		return tessera.Index{Index: idx + f.skew}, nil
	}
}

func (f *fakeTessera) integratedSize(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size, nil
}

func (f *fakeTessera) entries() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
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

func openTestJournal(t *testing.T, dir string, fake *fakeTessera) *journal {
	t.Helper()
	j, err := openJournal(dir, fake.size, fake.integratedSize, fake.add, decodeTileLeaf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = j.close(ctx)
	})
	return j
}

// waitIntegrated waits until Tessera holds n entries, the journal stops,
// or ctx ends.
func waitIntegrated(ctx context.Context, j *journal, n uint64) error {
	for j.integrated() < n {
		if err := j.Err(); err != nil {
			return err
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
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
	dir, fake := t.TempDir(), newFake(5)
	j := openTestJournal(t, dir, fake)
	var wg sync.WaitGroup
	got := make([]tessera.Index, 3)
	errs := make([]error, 3)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = j.add(t.Context(), tesseraCTEntry(testEntry(i, i%2 == 0)))() })
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i, g := range got {
		if errs[i] != nil || g.IsDup || g.Index < 5 || g.Index > 7 || seen[g.Index] {
			t.Fatalf("indices %+v (%v), want 5, 6, 7 once each", got, errs)
		}
		seen[g.Index] = true
	}
	if b := j.Backlog(); b != 3 {
		t.Errorf("backlog %d before Tessera integrated, want 3", b)
	}
	_, records, err := readSegments(dir, 0)
	if err != nil || len(records) != 3 {
		t.Fatalf("journal holds %d records (%v), want 3", len(records), err)
	}
	close(fake.hold)
	if err := waitIntegrated(t.Context(), j, 8); err != nil {
		t.Fatal(err)
	}
	for i, r := range records {
		if r.idx != uint64(5+i) || !bytes.Equal(r.data, fake.entries()[i]) {
			t.Errorf("record %d: index %d, Tessera wrote other bytes", i, r.idx)
		}
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
	never := newFake(3)
	crashed := openTestJournal(t, filepath.Join(dir, "journal"), never)
	t.Cleanup(func() { close(never.hold) })
	want := map[uint64][]byte{}
	for i := range 3 {
		idx := resolve(t, crashed.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
		want[idx.Index] = tesseraCTEntry(testEntry(i, true)).MarshalBundleData(idx.Index)
	}

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
	// A replayed entry sent again is a duplicate of itself; new entries
	// follow the replayed ones.
	if again := resolve(t, l.journal.add(t.Context(), tesseraCTEntry(testEntry(1, true)))); !again.IsDup || again.Index != 4 {
		t.Errorf("replayed entry sent again: %+v, want a duplicate at 4", again)
	}
	sct, err := l.LogPrecert(t.Context(), f.precert(t, true).Raw, []byte("tbs"), f.chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if idx := sctIndex(t, sct.Extensions); idx != 6 {
		t.Errorf("next SCT carries index %d, want 6", idx)
	}
}

// A journal that cannot be opened is Open's error, not the end of the
// process (TesseraCT exits when its storage fails).
func TestOpenRefusesALossyJournal(t *testing.T) {
	f := open(t)
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	writeJournal(t, filepath.Join(f.dir, "journal"), 2, 1)
	_, err := Open(t.Context(), Config{Dir: f.dir, Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:]})
	if err == nil || !strings.Contains(err.Error(), "entries 0 to 1 were acknowledged and are lost") {
		t.Fatalf("Open: %v", err)
	}
}

// SIGTERM cancels the context the log was opened with; Close still hands
// Tessera what was acknowledged.
func TestCloseAfterCancelHandsOverTheBacklog(t *testing.T) {
	f := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Open(ctx, Config{Dir: t.TempDir(), Signer: f.log.signer, Origin: "test.example/ct", Roots: f.chain[1:]})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.LogPrecert(t.Context(), f.precert(t, true).Raw, []byte("tbs"), f.chain[0]); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if err := l.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b := l.journal.Backlog(); b != 0 {
		t.Errorf("backlog %d after Close", b)
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
	mustWrite(t, filepath.Join(dir, segmentName(first)), b)
	return b
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
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
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg[:len(seg)-3])
		}, 2, ""},
		{"checksum of last record", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
		}, 2, ""},
		{"damage in an earlier segment", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
			writeJournal(t, dir, 10, 1)
		}, 0, "checksum mismatch"},
		{"damage in an integrated segment", 12, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
			writeJournal(t, dir, 10, 3)
		}, 1, ""},
		{"record that does not read back", 5, func(t *testing.T, dir string, _ []byte) {
			// A valid record whose TileLeaf names another index.
			mustWrite(t, filepath.Join(dir, segmentName(5)), appendRecord(nil, 5, testEntry(5, true).LeafData(6)))
		}, 0, "does not read back"},
		{"gap after the log", 3, nil, 0, "entries 3 to 4 were acknowledged and are lost"},
		{"stray file", 7, func(t *testing.T, dir string, _ []byte) {
			mustWrite(t, filepath.Join(dir, "7.log"), nil)
		}, 0, "unexpected file 7.log"},
		{"stopped", 7, func(t *testing.T, dir string, _ []byte) {
			mustWrite(t, filepath.Join(dir, stoppedFile), []byte("the log and its SCTs disagree\n"))
		}, 0, "the log was stopped (the log and its SCTs disagree)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := writeJournal(t, dir, 5, 5)
			if c.damage != nil {
				c.damage(t, dir, seg)
			}
			fake := newFake(c.size)
			close(fake.hold)
			j, err := openJournal(dir, c.size, fake.integratedSize, fake.add, decodeTileLeaf, slog.New(slog.DiscardHandler))
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
			got := fake.entries()
			if len(got) != c.replayed {
				t.Fatalf("handed %d entries to Tessera, want %d", len(got), c.replayed)
			}
			for i, data := range got {
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

// Replay hands Tessera one round at a time, each waited for.
func TestJournalReplaysInRounds(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 0, 2*forwardRound+3)
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	if fake.most > forwardRound || j.integrated() != 2*forwardRound+3 {
		t.Errorf("%d entries outstanding at most (want at most %d), %d integrated", fake.most, forwardRound, j.integrated())
	}
}

func TestJournalDuplicateKeepsFirstIndex(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), fake)
	first := resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(2, true))))
	again := resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	if !again.IsDup || again.Index != first.Index {
		t.Errorf("duplicate: %+v, want IsDup at %d", again, first.Index)
	}
	if err := waitIntegrated(t.Context(), j, 2); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.entries()); n != 2 {
		t.Errorf("Tessera got %d entries, want 2 (no duplicate)", n)
	}
}

func waitErr(t *testing.T, j *journal, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); j.Err() == nil && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("journal error %v, want one saying %q", err, want)
	}
}

// If Tessera ever puts an entry elsewhere than its SCT says, the log stops,
// and stays stopped across a restart.
func TestJournalStopsWhenTesseraDisagrees(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(f *fakeTessera)
		want string
	}{
		{"another index", func(f *fakeTessera) { f.skew = 1 }, "Tessera put entry 0 at index 1"},
		{"a refused entry overtaken", func(f *fakeTessera) { f.refuse = func(call int) bool { return call == 0 } }, "after refusing an earlier one"},
		{"refused, but the tree grew", func(f *fakeTessera) {
			f.refuse = func(call int) bool {
				if call == 1 {
					f.size++ // as if a batch landed after the refusal
				}
				return call <= 1
			}
		}, "its tree holds 1 entries"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, fake := t.TempDir(), newFake(0)
			c.set(fake)
			close(fake.hold)
			j := openTestJournal(t, dir, fake)
			j.round = 2
			for i := range 2 {
				resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
			}
			waitErr(t, j, c.want)
			if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(9, true)))(); err == nil {
				t.Error("an add after the disagreement was acknowledged")
			}
			if _, err := openJournal(dir, 0, fake.integratedSize, fake.add, decodeTileLeaf, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "was stopped") {
				t.Errorf("reopening a stopped journal: %v", err)
			}
		})
	}
}

// A round Tessera refused whole, its tree where the round begins, is
// tried again until it is taken.
func TestJournalRetriesARefusedRound(t *testing.T) {
	fake := newFake(0)
	fake.refuse = func(call int) bool { return call < 4 }
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), fake)
	for i := range 2 {
		resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := waitIntegrated(ctx, j, 2); err != nil {
		t.Fatal(err)
	}
	if err := j.Err(); err != nil {
		t.Errorf("journal stopped: %v", err)
	}
}

// Once a journal write fails nothing after it is acknowledged, or handed
// to Tessera: a record after a torn one would be lost on reading back.
func TestJournalWriteFailureAcknowledgesNothingAfter(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	mustWrite(t, filepath.Join(dir, segmentName(0)), nil) // the segment cannot be created
	var wg sync.WaitGroup
	var acked atomic.Int32
	for i := range 32 {
		wg.Go(func() {
			if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(i, true)))(); err == nil {
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	if n := acked.Load(); n != 0 {
		t.Errorf("%d entries acknowledged after the journal could not be written", n)
	}
	waitErr(t, j, "writing the journal")
	j.close(context.Background())
	if n := len(fake.entries()); n != 0 {
		t.Errorf("%d entries handed to Tessera", n)
	}
}

// Tessera stuck: adds are still acknowledged (the backlog is bounded), the
// log says it is not ready, and close ends with its context.
func TestJournalStalledTessera(t *testing.T) {
	fake := newFake(0)
	j := openTestJournal(t, t.TempDir(), fake)
	t.Cleanup(func() { close(fake.hold) })
	j.stall = 50 * time.Millisecond
	for i := range 100 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := j.add(ctx, tesseraCTEntry(testEntry(i, true)))()
		cancel()
		if err != nil {
			t.Fatalf("add %d with Tessera stuck: %v", i, err)
		}
	}
	time.Sleep(forwardInterval + 100*time.Millisecond)
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), "integrated nothing") {
		t.Errorf("Err with Tessera stuck: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := j.close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close with Tessera stuck: %v", err)
	}
}

// Close hands Tessera everything acknowledged, including adds in flight.
func TestJournalCloseDrains(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), fake)
	var wg sync.WaitGroup
	var acked atomic.Int32
	for i := range 50 {
		wg.Go(func() {
			if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(i, true)))(); err == nil {
				acked.Add(1)
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := j.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := len(fake.entries()); n != int(acked.Load()) || n == 0 {
		t.Errorf("%d acknowledged, %d handed to Tessera", acked.Load(), n)
	}
}

func TestJournalPushesBack(t *testing.T) {
	fake := newFake(0)
	j := openTestJournal(t, t.TempDir(), fake)
	j.backlog = 2
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(1, true))))
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(2, true))))
	if _, err := j.add(t.Context(), tesseraCTEntry(testEntry(3, true)))(); !errors.Is(err, tessera.ErrPushback) {
		t.Errorf("third add with a backlog of 2: %v, want pushback", err)
	}
	close(fake.hold)
	if err := waitIntegrated(t.Context(), j, 2); err != nil {
		t.Fatal(err)
	}
	resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(3, true))))
}

func TestJournalReleasesIntegratedSegments(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	j.store.limit = 1 // a segment per sync
	for i := range 4 {
		resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
		if err := waitIntegrated(t.Context(), j, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	j.close(context.Background())
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != segmentName(3) {
		t.Errorf("segments left: %v, want only the last", ents)
	}
}

// An entry Tessera would refuse is refused before it is acknowledged, and
// takes no index.
func TestJournalRefusesOversizedEntries(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), fake)
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

// A batch taken after a write failed is refused, not written: the
// committer checks, whatever add saw when the entry arrived.
func TestJournalWritesNothingAfterAFailure(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	e := tesseraCTEntry(testEntry(1, true))
	j.mu.Lock()
	j.failed = errors.New("an earlier write failed")
	c := j.batch
	c.records = appendRecord(c.records, 0, e.MarshalBundleData(0))
	c.entries = append(c.entries, &pendingEntry{idx: 0, entry: e})
	j.mu.Unlock()
	signal(j.wake)
	<-c.done
	if c.err == nil {
		t.Error("a batch after a failed write was acknowledged")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("journal files after the failure: %v", ents)
	}
}

// Closing while a refused round waits to be tried again hands Tessera
// nothing after it (those entries would take the refused ones' indices);
// all of them stay in the journal, and the log is not marked stopped.
func TestJournalCloseDuringRetry(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	var recovered atomic.Bool
	fake.refuse = func(int) bool { return !recovered.Load() }
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	for i := range 2 {
		resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
	}
	time.Sleep(forwardInterval + 200*time.Millisecond) // the first round is refused
	for i := 2; i < 4; i++ {
		resolve(t, j.add(t.Context(), tesseraCTEntry(testEntry(i, true))))
	}
	recovered.Store(true)
	if err := j.close(t.Context()); err == nil || !strings.Contains(err.Error(), "not integrated") {
		t.Errorf("close during a retry: %v", err)
	}
	for i, data := range fake.entries() {
		if want := tesseraCTEntry(testEntry(i, true)).MarshalBundleData(uint64(i)); !bytes.Equal(data, want) {
			t.Errorf("Tessera holds another entry at index %d", i)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stoppedFile)); err == nil {
		t.Error("a plain close marked the log stopped")
	}
	_, records, err := readSegments(dir, 0)
	if err != nil || len(records) != 4 {
		t.Errorf("journal keeps %d records (%v), want 4", len(records), err)
	}
}
