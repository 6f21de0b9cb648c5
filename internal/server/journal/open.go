package journal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// dedupEntries is how many recent entries an add is checked against, as
// Tessera's in-memory antispam was (which the journal replaces: a duplicate
// must get the first entry's index from whoever hands indices out).
const dedupEntries = 256 << 10

// Open opens the journal in cfg.Dir in front of cfg.Add, Tessera's add, for
// a log that holds cfg.Size entries (cfg.SizeFn reads it again). Entries the
// journal acknowledged beyond cfg.Size (a crash came before Tessera
// integrated them) are handed to Tessera again, in order, and integrated
// before Open returns; cfg.Decode turns a journaled record back into the
// entry. A journal that resumes after cfg.Size has lost acknowledged
// entries, and a log stopped for a disagreement stays stopped: both are
// errors, never a silent gap.
func Open(cfg Config) (*Journal, error) {
	name := cfg.Name
	switch {
	case name == "":
		return nil, errors.New("journal: no Name")
	case cfg.Dir == "" || cfg.Add == nil || cfg.SizeFn == nil || cfg.Decode == nil:
		return nil, fmt.Errorf("%s journal: Dir, Add, SizeFn and Decode are required", name)
	case cfg.Round < 0 || cfg.MaxEntryData < 0:
		return nil, fmt.Errorf("%s journal: negative Round or MaxEntryData", name)
	}
	if cfg.Round == 0 {
		cfg.Round = DefaultRound
	}
	if cfg.MaxEntryData == 0 {
		cfg.MaxEntryData = maxEntryData
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, size := cfg.Dir, cfg.Size
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s journal: %w", name, err)
	}
	stopped := filepath.Join(dir, stoppedFile)
	if why, err := os.ReadFile(stopped); err == nil {
		return nil, fmt.Errorf("%s journal: the log was stopped (%s); repair it, then remove %s", name, bytes.TrimSpace(why), stopped)
	}
	// Records are read back up to the larger of this start's limit and the
	// default: a limit lowered since the last start must not make an
	// acknowledged record look torn.
	starts, records, err := readSegments(dir, size, max(cfg.MaxEntryData, maxEntryData))
	if err != nil {
		return nil, fmt.Errorf("%s journal: %w", name, err)
	}
	dedup, err := lru.New[string, uint64](dedupEntries)
	if err != nil {
		return nil, err
	}
	j := &Journal{
		name: name, inner: cfg.Add, size: cfg.SizeFn, store: &segments{dir: dir, limit: segmentLimit}, log: log,
		maxData: cfg.MaxEntryData, durable: cfg.Durable,
		backlog: maxBacklog, round: cfg.Round, stall: stallAfter, gather: cfg.Gather, leadWithin: leadWithin,
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
			return nil, fmt.Errorf("%s journal: the log holds %d entries but the journal resumes at entry %d: entries %d to %d were acknowledged and are lost", name, size, r.idx, want, r.idx-1)
		}
		e, err := cfg.Decode(r.idx, r.data)
		if err != nil {
			return nil, fmt.Errorf("%s journal: entry %d: %w", name, r.idx, err)
		}
		if got := e.MarshalBundleData(r.idx); !bytes.Equal(got, r.data) {
			return nil, fmt.Errorf("%s journal: entry %d does not read back as it was written", name, r.idx)
		}
		replay = append(replay, &pendingEntry{idx: r.idx, entry: e})
		dedup.Add(string(e.Identity()), r.idx)
	}
	if len(replay) > 0 {
		log.Info(name+" journal: handing acknowledged entries to Tessera again", "from", size, "entries", len(replay))
		if err := j.forward(replay, false); err != nil {
			return nil, err
		}
		j.next = size + uint64(len(replay))
	}
	j.onInteg = cfg.Integrated // from here on: not for the replay
	// Everything journaled is in Tessera now: start afresh.
	for _, first := range starts {
		if err := os.Remove(filepath.Join(dir, segmentName(first))); err != nil {
			return nil, fmt.Errorf("%s journal: %w", name, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("%s journal: %w", name, err)
	}
	go j.commitLoop()
	go j.forwardLoop()
	return j, nil
}
