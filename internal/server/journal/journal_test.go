package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
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

// testEntry is a plain (tlog-tiles) entry: its bundle data is its data,
// length-prefixed.
func testEntry(i int) *tessera.Entry { return tessera.NewEntry(fmt.Appendf(nil, "entry %d", i)) }

func testConfig(dir string, fake *fakeTessera) Config {
	return Config{Dir: dir, Name: "test", Size: fake.size, SizeFn: fake.integratedSize, Add: fake.add, Decode: DecodeEntry}
}

func openTestJournal(t *testing.T, dir string, fake *fakeTessera) *Journal {
	t.Helper()
	return openTestJournalWith(t, testConfig(dir, fake))
}

func openTestJournalWith(t *testing.T, cfg Config) *Journal {
	t.Helper()
	j, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = j.Close(ctx)
	})
	return j
}

// waitIntegrated waits until Tessera holds n entries, the journal stops,
// or ctx ends.
func waitIntegrated(ctx context.Context, j *Journal, n uint64) error {
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
		wg.Go(func() { got[i], errs[i] = j.Add(t.Context(), testEntry(i))() })
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
	_, records, err := readSegments(dir, 0, maxEntryData)
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

// writeJournal writes records for entries first..first+n-1 as one segment.
func writeJournal(t *testing.T, dir string, first uint64, n int) []byte {
	t.Helper()
	var b []byte
	for i := range n {
		idx := first + uint64(i)
		b = appendRecord(b, idx, testEntry(int(idx)).MarshalBundleData(idx))
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
		decode   func(idx uint64, data []byte) (*tessera.Entry, error) // nil: DecodeEntry
	}{
		{"all integrated", 10, nil, 0, "", nil},
		{"tail not integrated", 7, nil, 3, "", nil},
		{"torn last record", 7, func(t *testing.T, dir string, seg []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg[:len(seg)-3])
		}, 2, "", nil},
		{"checksum of last record", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
		}, 2, "", nil},
		{"zeroed end after the records", 7, func(t *testing.T, dir string, seg []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), append(seg, make([]byte, 4096)...))
		}, 3, "", nil},
		{"torn last record before the zeroed end", 7, func(t *testing.T, dir string, seg []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), append(seg[:len(seg)-3], make([]byte, 4096)...))
		}, 2, "", nil},
		{"zeroed end of an earlier segment", 7, func(t *testing.T, dir string, seg []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), append(seg, make([]byte, 4096)...))
			writeJournal(t, dir, 10, 1)
		}, 4, "", nil},
		{"records after zeroes", 7, func(t *testing.T, dir string, seg []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), append(append(seg, make([]byte, 64)...), 1))
			writeJournal(t, dir, 10, 1)
		}, 0, "record length 0", nil},
		{"damage in an earlier segment", 7, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
			writeJournal(t, dir, 10, 1)
		}, 0, "checksum mismatch", nil},
		{"damage in an integrated segment", 12, func(t *testing.T, dir string, seg []byte) {
			seg[len(seg)-1] ^= 1
			mustWrite(t, filepath.Join(dir, segmentName(5)), seg)
			writeJournal(t, dir, 10, 3)
		}, 1, "", nil},
		{"record that does not read back", 5, nil, 0, "entry 5 does not read back", func(idx uint64, data []byte) (*tessera.Entry, error) {
			// A decoder that loses a byte: the entry would not be the one
			// acknowledged.
			e, err := DecodeEntry(idx, data)
			if err != nil {
				return nil, err
			}
			return tessera.NewEntry(e.Data()[1:]), nil
		}},
		{"record that does not decode", 5, func(t *testing.T, dir string, _ []byte) {
			mustWrite(t, filepath.Join(dir, segmentName(5)), appendRecord(nil, 5, []byte("x")))
		}, 0, "entry 5: not a length-prefixed entry", nil},
		{"gap after the log", 3, nil, 0, "entries 3 to 4 were acknowledged and are lost", nil},
		{"stray file", 7, func(t *testing.T, dir string, _ []byte) {
			mustWrite(t, filepath.Join(dir, "7.log"), nil)
		}, 0, "unexpected file 7.log", nil},
		{"stopped", 7, func(t *testing.T, dir string, _ []byte) {
			mustWrite(t, filepath.Join(dir, stoppedFile), []byte("test: the log and what it acknowledged disagree\n"))
		}, 0, "test journal: the log was stopped (test: the log and what it acknowledged disagree)", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := writeJournal(t, dir, 5, 5)
			if c.damage != nil {
				c.damage(t, dir, seg)
			}
			fake := newFake(c.size)
			close(fake.hold)
			cfg := testConfig(dir, fake)
			if c.decode != nil {
				cfg.Decode = c.decode
			}
			j, err := Open(cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("open: %v, want an error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close(context.Background())
			got := fake.entries()
			if len(got) != c.replayed {
				t.Fatalf("handed %d entries to Tessera, want %d", len(got), c.replayed)
			}
			for i, data := range got {
				idx := c.size + uint64(i)
				if want := testEntry(int(idx)).MarshalBundleData(idx); !bytes.Equal(data, want) {
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
	writeJournal(t, dir, 0, 2*DefaultRound+3)
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	if fake.most > DefaultRound || j.integrated() != 2*DefaultRound+3 {
		t.Errorf("%d entries outstanding at most (want at most %d), %d integrated", fake.most, DefaultRound, j.integrated())
	}
}

func TestJournalDuplicateKeepsFirstIndex(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	j := openTestJournal(t, t.TempDir(), fake)
	first := resolve(t, j.Add(t.Context(), testEntry(1)))
	resolve(t, j.Add(t.Context(), testEntry(2)))
	again := resolve(t, j.Add(t.Context(), testEntry(1)))
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

func waitErr(t *testing.T, j *Journal, want string) {
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
				resolve(t, j.Add(t.Context(), testEntry(i)))
			}
			waitErr(t, j, c.want)
			if _, err := j.Add(t.Context(), testEntry(9))(); err == nil {
				t.Error("an add after the disagreement was acknowledged")
			}
			cfg := testConfig(dir, fake)
			cfg.Size = 0
			if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "was stopped") {
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
		resolve(t, j.Add(t.Context(), testEntry(i)))
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
			if _, err := j.Add(t.Context(), testEntry(i))(); err == nil {
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	if n := acked.Load(); n != 0 {
		t.Errorf("%d entries acknowledged after the journal could not be written", n)
	}
	waitErr(t, j, "writing the journal")
	j.Close(context.Background())
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
		_, err := j.Add(ctx, testEntry(i))()
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
	if err := j.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
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
	// One add before the rest, so the log is never empty when Close comes
	// (the 50 below may not have started within the millisecond).
	resolve(t, j.Add(t.Context(), testEntry(100)))
	acked.Add(1)
	for i := range 50 {
		wg.Go(func() {
			if _, err := j.Add(t.Context(), testEntry(i))(); err == nil {
				acked.Add(1)
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := j.Close(t.Context()); err != nil {
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
	resolve(t, j.Add(t.Context(), testEntry(1)))
	resolve(t, j.Add(t.Context(), testEntry(2)))
	if _, err := j.Add(t.Context(), testEntry(3))(); !errors.Is(err, tessera.ErrPushback) {
		t.Errorf("third add with a backlog of 2: %v, want pushback", err)
	}
	close(fake.hold)
	if err := waitIntegrated(t.Context(), j, 2); err != nil {
		t.Fatal(err)
	}
	resolve(t, j.Add(t.Context(), testEntry(3)))
}

func TestJournalReleasesIntegratedSegments(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	j.store.limit = 1 // a segment per sync
	for i := range 4 {
		resolve(t, j.Add(t.Context(), testEntry(i)))
		if err := waitIntegrated(t.Context(), j, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	j.Close(context.Background())
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
	big := tessera.NewEntry(make([]byte, maxEntryData-1)) // its bundle data: 2 bytes more
	if _, err := j.Add(t.Context(), big)(); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized entry: %v", err)
	}
	if idx := resolve(t, j.Add(t.Context(), testEntry(2))); idx.Index != 0 {
		t.Errorf("next entry at %d, want 0", idx.Index)
	}
	if err := j.Err(); err != nil {
		t.Errorf("journal stopped: %v", err)
	}
}

// A batch taken after a write failed is refused, not written: the
// committer checks, whatever add saw when the entry arrived.
func TestJournalWritesNothingAfterAFailure(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	close(fake.hold)
	j := openTestJournal(t, dir, fake)
	e := testEntry(1)
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
		resolve(t, j.Add(t.Context(), testEntry(i)))
	}
	time.Sleep(forwardInterval + 200*time.Millisecond) // the first round is refused
	for i := 2; i < 4; i++ {
		resolve(t, j.Add(t.Context(), testEntry(i)))
	}
	recovered.Store(true)
	if err := j.Close(t.Context()); err == nil || !strings.Contains(err.Error(), "not integrated") {
		t.Errorf("close during a retry: %v", err)
	}
	for i, data := range fake.entries() {
		if want := testEntry(i).MarshalBundleData(uint64(i)); !bytes.Equal(data, want) {
			t.Errorf("Tessera holds another entry at index %d", i)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stoppedFile)); err == nil {
		t.Error("a plain close marked the log stopped")
	}
	_, records, err := readSegments(dir, 0, maxEntryData)
	if err != nil || len(records) != 4 {
		t.Errorf("journal keeps %d records (%v), want 4", len(records), err)
	}
}

// The test entries read back as written: DecodeEntry is a decoder Open's
// read-back check accepts. (tessera.NewEntry of the bundle data itself is
// not: the bundle data is the entry's data with a length prefix.)
func TestPlainEntriesReadBack(t *testing.T) {
	for _, idx := range []uint64{0, 5, 1 << 40} {
		data := testEntry(int(idx)).MarshalBundleData(idx)
		e, err := DecodeEntry(idx, data)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.MarshalBundleData(idx); !bytes.Equal(got, data) {
			t.Errorf("entry %d reads back as %q, want %q", idx, got, data)
		}
		if got := tessera.NewEntry(data).MarshalBundleData(idx); bytes.Equal(got, data) {
			t.Errorf("entry %d: the bundle data taken as the entry's data reads back too", idx)
		}
	}
}

// Durable sees every acknowledged entry, batch by batch in index order,
// before its future resolves (and not the entries Open replays); Integrated
// sees Tessera's size after each round, never one Durable has not covered
// yet, and not the replay's.
func TestJournalDurableAndIntegrated(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 5, 3) // acknowledged by an earlier process, replayed by Open
	fake := newFake(5)
	close(fake.hold)
	var (
		mu         sync.Mutex
		durable    = map[uint64]*tessera.Entry{}
		next       = uint64(8) // the first index Durable should see
		calls      int
		sizes      []uint64
		orderError error
	)
	cfg := testConfig(dir, fake)
	cfg.Round = 8
	cfg.Durable = func(first uint64, entries []*tessera.Entry) {
		// Slow: a future resolved before Durable returned would find its
		// entry missing.
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if first != next || len(entries) == 0 {
			orderError = errors.Join(orderError, fmt.Errorf("batch of %d from %d, want one from %d", len(entries), first, next))
		}
		for i, e := range entries {
			durable[first+uint64(i)] = e
		}
		next = first + uint64(len(entries))
	}
	cfg.Integrated = func(size uint64) {
		mu.Lock()
		defer mu.Unlock()
		if n, _ := fake.integratedSize(t.Context()); size > n {
			orderError = errors.Join(orderError, fmt.Errorf("Integrated(%d) with Tessera holding %d", size, n))
		}
		if size > next {
			orderError = errors.Join(orderError, fmt.Errorf("Integrated(%d) before Durable saw entries beyond %d", size, next))
		}
		sizes = append(sizes, size)
	}
	j := openTestJournalWith(t, cfg)
	mu.Lock()
	if calls != 0 || len(sizes) != 0 {
		t.Errorf("after the replay: %d Durable calls, Integrated %v; want none", calls, sizes)
	}
	mu.Unlock()

	const n = 100
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e := testEntry(100 + i)
			got, err := j.Add(t.Context(), e)()
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if durable[got.Index] != e {
				errs[i] = fmt.Errorf("entry %d resolved before Durable saw it", got.Index)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if orderError != nil {
		t.Error(orderError)
	}
	if len(durable) != n || next != 8+n {
		t.Errorf("Durable saw %d entries up to %d, want %d up to %d", len(durable), next, n, 8+n)
	}
	if calls < 2 {
		t.Logf("%d Durable calls: all %d adds in one batch", calls, n)
	}
	if len(sizes) < n/cfg.Round || sizes[len(sizes)-1] != 8+n {
		t.Fatalf("Integrated reported %v, want rounds of at most %d up to %d", sizes, cfg.Round, 8+n)
	}
	for i, size := range sizes {
		prev := uint64(8)
		if i > 0 {
			prev = sizes[i-1]
		}
		if size <= prev || size-prev > uint64(cfg.Round) {
			t.Errorf("Integrated reported %d after %d: want a round of 1 to %d more", size, prev, cfg.Round)
		}
	}
}

// Config.MaxEntryData bounds what is acknowledged.
func TestJournalMaxEntryData(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	cfg.MaxEntryData = 100
	j := openTestJournalWith(t, cfg)
	if _, err := j.Add(t.Context(), tessera.NewEntry(make([]byte, 99)))(); err == nil || !strings.Contains(err.Error(), "too large (101 > 100)") {
		t.Errorf("entry of 101 bytes under a limit of 100: %v", err)
	}
	if idx := resolve(t, j.Add(t.Context(), tessera.NewEntry(make([]byte, 98)))); idx.Index != 0 {
		t.Errorf("entry of 100 bytes at %d, want 0", idx.Index)
	}
}

// The journal's messages name the log it fronts.
func TestJournalNamesItsLog(t *testing.T) {
	dir, fake := t.TempDir(), newFake(0)
	fake.skew = 1
	close(fake.hold)
	cfg := testConfig(dir, fake)
	cfg.Name = "rekor"
	j := openTestJournalWith(t, cfg)
	resolve(t, j.Add(t.Context(), testEntry(0)))
	waitErr(t, j, "rekor: the log and what it acknowledged disagree: Tessera put entry 0 at index 1")
	b, err := os.ReadFile(filepath.Join(dir, stoppedFile))
	if err != nil || !strings.HasPrefix(string(b), "rekor: the log and what it acknowledged disagree") {
		t.Errorf("STOPPED: %q (%v)", b, err)
	}
	if _, err := Open(cfg); err == nil || !strings.HasPrefix(err.Error(), "rekor journal: the log was stopped") {
		t.Errorf("reopening: %v", err)
	}
}

func TestOpenRefusesAnIncompleteConfig(t *testing.T) {
	fake := newFake(0)
	good := testConfig(t.TempDir(), fake)
	for name, change := range map[string]func(*Config){
		"no name":   func(c *Config) { c.Name = "" },
		"no dir":    func(c *Config) { c.Dir = "" },
		"no add":    func(c *Config) { c.Add = nil },
		"no size":   func(c *Config) { c.SizeFn = nil },
		"no decode": func(c *Config) { c.Decode = nil },
		"round":     func(c *Config) { c.Round = -1 },
	} {
		cfg := good
		change(&cfg)
		if j, err := Open(cfg); err == nil {
			j.Close(t.Context())
			t.Errorf("%s: opened", name)
		}
	}
}

// A limit lowered since the last start does not make acknowledged records
// look torn: they are handed to Tessera as written.
func TestJournalReplaysRecordsOverALoweredLimit(t *testing.T) {
	dir := t.TempDir()
	big := tessera.NewEntry(bytes.Repeat([]byte{'x'}, 1000))
	mustWrite(t, filepath.Join(dir, segmentName(0)), appendRecord(appendRecord(nil, 0, big.MarshalBundleData(0)), 1, testEntry(1).MarshalBundleData(1)))
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(dir, fake)
	cfg.MaxEntryData = 100
	openTestJournalWith(t, cfg)
	if got := fake.entries(); len(got) != 2 || !bytes.Equal(got[0], big.MarshalBundleData(0)) {
		t.Errorf("replayed %d entries, want both as written", len(got))
	}
}

// TestGatherWaitsOnlyForSharedSyncs: with Gather set, a sync that follows
// one holding several entries waits for more to join it; an adder alone
// never waits.
func TestGatherWaitsOnlyForSharedSyncs(t *testing.T) {
	const gather = time.Second
	fake := newFake(0)
	close(fake.hold)
	var hold atomic.Pointer[[2]chan struct{}] // when set: the next sync says held, then waits for release
	cfg := testConfig(t.TempDir(), fake)
	cfg.Gather = gather
	cfg.Durable = func(uint64, []*tessera.Entry) {
		if h := hold.Swap(nil); h != nil {
			close(h[0])
			<-h[1]
		}
	}
	j := openTestJournalWith(t, cfg)
	ctx := context.Background()

	// Alone: each add is synced at once, whatever the gather.
	for i := range 4 {
		start := time.Now()
		resolve(t, j.Add(ctx, testEntry(i)))
		if d := time.Since(start); d >= gather/2 {
			t.Fatalf("add %d alone waited %s for its sync (gather %s)", i, d, gather)
		}
	}

	// Together: two adds land in one sync (the committer is held in the
	// sync before theirs), so the next sync waits for company.
	held, release := make(chan struct{}), make(chan struct{})
	hold.Store(&[2]chan struct{}{held, release})
	first := j.Add(ctx, testEntry(10))
	<-held
	a, b := j.Add(ctx, testEntry(11)), j.Add(ctx, testEntry(12))
	close(release)
	for _, f := range []tessera.IndexFuture{first, a, b} {
		resolve(t, f)
	}
	start := time.Now()
	resolve(t, j.Add(ctx, testEntry(13)))
	if d := time.Since(start); d < gather {
		t.Fatalf("the add after a shared sync was synced in %s; want it held %s for company", d, gather)
	}
}

// TestSequenceGivesTheIndexBeforeTheSync: Sequence answers with the entry's
// index while its sync is still under way; durable waits for the sync.
func TestSequenceGivesTheIndexBeforeTheSync(t *testing.T) {
	fake := newFake(7)
	close(fake.hold)
	held, release := make(chan struct{}), make(chan struct{})
	cfg := testConfig(t.TempDir(), fake)
	var once sync.Once
	cfg.Durable = func(uint64, []*tessera.Entry) { once.Do(func() { close(held); <-release }) }
	j := openTestJournalWith(t, cfg)
	idx, durable, err := j.Sequence(t.Context(), testEntry(0))
	if err != nil || idx.Index != 7 || idx.IsDup {
		t.Fatalf("Sequence: %+v, %v; want index 7", idx, err)
	}
	<-held // the committer has synced the entry and is held before answering
	done := make(chan error, 1)
	go func() { done <- durable() }()
	select {
	case err := <-done:
		t.Fatalf("durable returned (%v) before the sync finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if again, durable, err := j.Sequence(t.Context(), testEntry(0)); err != nil || !again.IsDup || again.Index != 7 || durable() != nil {
		t.Errorf("the same entry again: %+v, %v; want a duplicate of 7", again, err)
	}
}

// goid is the calling goroutine's id, from its stack trace's first line.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// TestAloneAnAddIsWrittenByItsCaller: an add that finds the journal idle is
// written and synced on the goroutine that waits for it, not handed to the
// committer (which would start late on the other CPU); one that comes while
// a sync is under way is written by the committer after it.
func TestAloneAnAddIsWrittenByItsCaller(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	writers := make(chan string, 10)
	var hold atomic.Pointer[[2]chan struct{}]
	cfg.Durable = func(uint64, []*tessera.Entry) {
		writers <- goid()
		if h := hold.Swap(nil); h != nil {
			close(h[0])
			<-h[1]
		}
	}
	j := openTestJournalWith(t, cfg)
	j.leadWithin = time.Minute // the committer must not write first, however late durable comes
	for i := range 3 {
		_, durable, err := j.Sequence(t.Context(), testEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := durable(); err != nil {
			t.Fatal(err)
		}
		if w, me := <-writers, goid(); w != me {
			t.Fatalf("add %d, alone, was written by goroutine %s, not by its caller %s", i, w, me)
		}
	}
	// A sync under way (held in Durable): the next add is the committer's.
	held, release := make(chan struct{}), make(chan struct{})
	hold.Store(&[2]chan struct{}{held, release})
	first := make(chan error, 1)
	go func() { first <- resolveErr(j.Add(t.Context(), testEntry(10))) }()
	<-held
	<-writers
	_, durable, err := j.Sequence(t.Context(), testEntry(11))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-writers:
		t.Fatalf("goroutine %s wrote a batch while another was being written", w)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := durable(); err != nil {
		t.Fatal(err)
	}
	if w, me := <-writers, goid(); w == me {
		t.Errorf("an add that came during a sync was written by its caller (goroutine %s)", me)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func resolveErr(f tessera.IndexFuture) error {
	_, err := f()
	return err
}

// TestAnAddNobodyWaitsForIsWritten: a caller need not wait for its entry;
// one that found the journal idle, and whose durable never comes, is
// written by the committer soon after.
func TestAnAddNobodyWaitsForIsWritten(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	synced := make(chan uint64, 1)
	cfg.Durable = func(first uint64, _ []*tessera.Entry) { synced <- first }
	j := openTestJournalWith(t, cfg)
	if _, _, err := j.Sequence(t.Context(), testEntry(0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-synced:
	case <-time.After(5 * time.Second):
		t.Fatal("an entry nobody waited for was not written within 5 s")
	}
	if err := waitIntegrated(t.Context(), j, 1); err != nil {
		t.Fatal(err)
	}
}

// TestWritesAreOneAtATimeInOrder: adds from many goroutines, some written
// by their callers, some by the committer, some never waited for: no two
// writes overlap, batches are synced in index order, and Tessera gets every
// entry at the index it was given.
func TestWritesAreOneAtATimeInOrder(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	var (
		writing atomic.Int32
		mu      sync.Mutex
		end     uint64
		bad     []string
	)
	cfg.Durable = func(first uint64, entries []*tessera.Entry) {
		if n := writing.Add(1); n != 1 {
			mu.Lock()
			bad = append(bad, fmt.Sprintf("%d writes at once", n))
			mu.Unlock()
		}
		mu.Lock()
		if first != end {
			bad = append(bad, fmt.Sprintf("batch at %d after one that ended at %d", first, end))
		}
		end = first + uint64(len(entries))
		mu.Unlock()
		time.Sleep(time.Duration(first%3) * 50 * time.Microsecond) // widen the window for an overlap
		writing.Add(-1)
	}
	j := openTestJournalWith(t, cfg)
	const workers, each = 8, 150
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := testEntry(w*each + i)
				switch i % 3 {
				case 0:
					if err := resolveErr(j.Add(t.Context(), e)); err != nil {
						t.Error(err)
					}
				case 1:
					_, durable, err := j.Sequence(t.Context(), e)
					if err == nil {
						err = durable()
					}
					if err != nil {
						t.Error(err)
					}
				default: // never waited for
					if _, _, err := j.Sequence(t.Context(), e); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := waitIntegrated(t.Context(), j, workers*each); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d faults, first: %s", len(bad), bad[0])
	}
	got := map[string]bool{}
	for i, data := range fake.entries() {
		e, err := DecodeEntry(uint64(i), data)
		if err != nil {
			t.Fatal(err)
		}
		got[string(e.Identity())] = true
	}
	if len(got) != workers*each {
		t.Errorf("Tessera holds %d distinct entries; want %d", len(got), workers*each)
	}
}

// TestCloseWaitsForACallersWrite: Close does not end the journal while an
// add's caller is still writing its batch; what it wrote reaches Tessera.
func TestCloseWaitsForACallersWrite(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var writer atomic.Value
	cfg.Durable = func(uint64, []*tessera.Entry) { once.Do(func() { writer.Store(goid()); close(held); <-release }) }
	j := openTestJournalWith(t, cfg)
	j.leadWithin = time.Minute // the caller writes, however late its goroutine starts
	_, durable, err := j.Sequence(t.Context(), testEntry(0))
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	caller := make(chan string, 1)
	go func() { caller <- goid(); wrote <- durable() }()
	<-held // the caller is writing (its batch is synced, Durable holds it)
	if w, c := writer.Load(), <-caller; w != c {
		t.Fatalf("the batch was written by goroutine %v, not by its caller %s", w, c)
	}
	closed := closeHeld(t, j, "an add's caller was writing")
	close(release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := len(fake.entries()); n != 1 {
		t.Errorf("Tessera got %d entries after Close; want the 1 the caller wrote", n)
	}
}

// closeHeld starts j.Close and fails the test if it returns within 100 ms,
// while, the test says, what Close must wait for is under way; the channel
// gives Close's answer.
func closeHeld(t *testing.T, j *Journal, while string) <-chan error {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- j.Close(t.Context()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while %s", err, while)
	case <-time.After(100 * time.Millisecond):
	}
	return closed
}

// TestSegmentsAreZeroedAhead: a segment's file is zeroed (and synced) ahead
// of its records, a zeroStep at a time, so that each write's sync is of its
// data alone; the journal reads back every record of such segments, the
// zeroes after them in segments before the last as well.
func TestSegmentsAreZeroedAhead(t *testing.T) {
	fake := newFake(0) // holds what it takes: no segment is integrated and removed
	defer close(fake.hold)
	dir := t.TempDir()
	j := openTestJournal(t, dir, fake)
	j.store.limit = 4 << 10 // several segments
	const n = 1000
	for i := range n {
		resolve(t, j.Add(t.Context(), testEntry(i)))
	}
	starts, records, err := readSegments(dir, 0, maxEntryData)
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) < 3 || len(records) != n {
		t.Fatalf("read back %d segments and %d records; want several and %d", len(starts), len(records), n)
	}
	for i, r := range records {
		if want := testEntry(i).MarshalBundleData(uint64(i)); r.idx != uint64(i) || !bytes.Equal(r.data, want) {
			t.Fatalf("record %d reads back as entry %d, or with other bytes", i, r.idx)
		}
	}
	for _, first := range starts {
		fi, err := os.Stat(filepath.Join(dir, segmentName(first)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 0 || fi.Size()%zeroStep != 0 {
			t.Errorf("segment %d is %d bytes; want it zeroed ahead to a whole number of %d", first, fi.Size(), zeroStep)
		}
	}
}

// TestAPanicInACallersWriteStopsTheLog: a write that panics on a caller's
// goroutine (net/http recovers a handler's panic) stops the log, tells the
// batch's waiters, and leaves Close nothing to wait for.
func TestAPanicInACallersWriteStopsTheLog(t *testing.T) {
	fake := newFake(0)
	close(fake.hold)
	cfg := testConfig(t.TempDir(), fake)
	cfg.Durable = func(uint64, []*tessera.Entry) { panic("durable failed") }
	j := openTestJournalWith(t, cfg)
	j.leadWithin = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, durable, err := j.Sequence(ctx, testEntry(0))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "durable failed" {
				t.Errorf("durable's caller recovered %v; want the write's panic", r)
			}
		}()
		_ = durable()
	}()
	if err := durable(); err == nil || !strings.Contains(err.Error(), "durable failed") {
		t.Errorf("the batch's wait after the panic: %v; want the panic's reason", err)
	}
	if _, _, err := j.Sequence(t.Context(), testEntry(1)); err == nil {
		t.Error("the log took an entry after a write panicked")
	}
	if err := j.Close(ctx); err != nil {
		t.Errorf("Close after the panic: %v", err)
	}
}

// TestCloseAfterTheLogStoppedWaitsForAWrite: once the forwarder has stopped
// early (Tessera put an entry elsewhere), Close still waits for a write under
// way before it closes the segment.
func TestCloseAfterTheLogStoppedWaitsForAWrite(t *testing.T) {
	fake := newFake(0)
	fake.skew = 1
	cfg := testConfig(t.TempDir(), fake)
	cfg.Round = 1
	held, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	cfg.Durable = func(uint64, []*tessera.Entry) {
		if calls.Add(1) == 2 {
			close(held)
			<-release
		}
	}
	j := openTestJournalWith(t, cfg)
	j.leadWithin = time.Minute
	resolve(t, j.Add(t.Context(), testEntry(0))) // Tessera will put it at index 1
	_, durable, err := j.Sequence(t.Context(), testEntry(1))
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- durable() }()
	<-held
	close(fake.hold) // only now does Tessera answer for entry 0, and the log stop
	waitErr(t, j, "Tessera put entry 0 at index 1")
	closed := closeHeld(t, j, "a write was under way")
	close(release)
	<-wrote
	if err := <-closed; err == nil || !strings.Contains(err.Error(), "Tessera put entry 0 at index 1") {
		t.Errorf("Close: %v; want the reason the log stopped", err)
	}
}
