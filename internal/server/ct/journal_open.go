package ct

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/tessera"
)

// dedupEntries is how many recent entries an add is checked against, as
// Tessera's in-memory antispam was (which the journal replaces: a duplicate
// must get the first entry's index from whoever hands indices out).
const dedupEntries = 256 << 10

// openJournal opens the journal in dir in front of inner, Tessera's add, for
// a log that holds size entries (size reads it again). Entries the journal
// acknowledged beyond size (a crash came before Tessera integrated them) are
// handed to Tessera again, in order, and integrated before openJournal
// returns; decode turns a journaled record back into the entry. A journal
// that resumes after size has lost acknowledged entries, and a log stopped
// for a disagreement stays stopped: both are errors, never a silent gap.
func openJournal(dir string, size uint64, sizeFn func(context.Context) (uint64, error), inner tessera.AddFn, decode func(idx uint64, data []byte) (*tessera.Entry, error), log *slog.Logger) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ct journal: %w", err)
	}
	stopped := filepath.Join(dir, stoppedFile)
	if why, err := os.ReadFile(stopped); err == nil {
		return nil, fmt.Errorf("ct journal: the log was stopped (%s); repair it, then remove %s", bytes.TrimSpace(why), stopped)
	}
	starts, records, err := readSegments(dir, size)
	if err != nil {
		return nil, fmt.Errorf("ct journal: %w", err)
	}
	dedup, err := lru.New[string, uint64](dedupEntries)
	if err != nil {
		return nil, err
	}
	j := &journal{
		inner: inner, size: sizeFn, store: &segments{dir: dir, limit: segmentLimit}, log: log,
		backlog: maxBacklog, round: forwardRound, stall: stallAfter,
		next: size, batch: &commit{done: make(chan struct{})}, dedup: dedup,
		wake: make(chan struct{}, 1), fwake: make(chan struct{}, 1), quit: make(chan struct{}),
		committed: make(chan struct{}), stopped: make(chan struct{}), integ: size, progress: time.Now(),
	}
	var replay []*pendingEntry
	for _, r := range records {
		if r.idx < size {
			continue
		}
		if want := size + uint64(len(replay)); r.idx != want {
			return nil, fmt.Errorf("ct journal: the log holds %d entries but the journal resumes at entry %d: entries %d to %d were acknowledged and are lost", size, r.idx, want, r.idx-1)
		}
		e, err := decode(r.idx, r.data)
		if err != nil {
			return nil, fmt.Errorf("ct journal: entry %d: %w", r.idx, err)
		}
		if got := e.MarshalBundleData(r.idx); !bytes.Equal(got, r.data) {
			return nil, fmt.Errorf("ct journal: entry %d does not read back as it was written", r.idx)
		}
		replay = append(replay, &pendingEntry{idx: r.idx, entry: e})
		dedup.Add(string(e.Identity()), r.idx)
	}
	if len(replay) > 0 {
		log.Info("ct journal: handing acknowledged entries to Tessera again", "from", size, "entries", len(replay))
		if err := j.forward(replay, false); err != nil {
			return nil, err
		}
		j.next = size + uint64(len(replay))
	}
	// Everything journaled is in Tessera now: start afresh.
	for _, first := range starts {
		if err := os.Remove(filepath.Join(dir, segmentName(first))); err != nil {
			return nil, fmt.Errorf("ct journal: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("ct journal: %w", err)
	}
	go j.commitLoop()
	go j.forwardLoop()
	return j, nil
}
