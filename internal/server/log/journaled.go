package log

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"

	"hallmark.dev/hallmark/internal/server/journal"
)

// A log on local disk (the POSIX driver) acknowledges an entry once the
// journal (internal/server/journal) holds it in one synced append, as the CT
// log does, rather than after Tessera's round: Tessera rewrites the partial
// entry bundle, tiles and tree state with a sync each, and the bundle is up
// to 256 entries of a few KiB, so a round took 6–9 ms for one entry. The
// journal hands out indices and hands Tessera its rounds after; the tail
// (tail.go) answers for what Tessera has yet to integrate: the signed tree,
// inclusion and consistency proofs, and the entries' bodies. A checkpoint
// signed over the tail is one Tessera will reach: after a crash the journal
// hands Tessera the same entries in the same order before the log opens.
// A MySQL log has no journal: its frontends share the sequencing.

// openJournal puts the journal between the group committer and Tessera
// (whatever it holds beyond Tessera's tree is integrated before it returns)
// and starts the tail at the end of the tree.
func (s *Service) openJournal(ctx context.Context, add tessera.AddFn) error {
	size, err := s.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading log size: %w", err)
	}
	j, err := journal.Open(journal.Config{
		Dir: filepath.Join(s.cfg.Dir, "journal"), Name: "rekor", Size: size, SizeFn: s.reader.IntegratedSize,
		Add: add, Decode: journal.DecodeEntry, MaxEntryData: journal.MaxPlainEntryData,
		Logger: s.cfg.Logger, Round: int(s.cfg.BatchMaxSize),
		Durable:    s.journaled,
		Integrated: func(size uint64) { s.tail.release(size) },
	})
	if err != nil {
		return err
	}
	if size, err = s.reader.IntegratedSize(ctx); err != nil {
		_ = j.Close(ctx)
		return fmt.Errorf("reading log size: %w", err)
	}
	hashes, err := client.FetchRangeNodes(ctx, size, s.cachedTile)
	if err != nil {
		_ = j.Close(ctx)
		return fmt.Errorf("reading the tree of %d entries: %w", size, err)
	}
	if s.tail, err = newTail(size, hashes); err != nil {
		_ = j.Close(ctx)
		return err
	}
	s.journal = j
	return nil
}

// journaled takes a synced batch into the tail, before any of its adds is
// answered.
func (s *Service) journaled(first uint64, entries []*tessera.Entry) {
	leaves, bodies := make([][]byte, len(entries)), make([][]byte, len(entries))
	for i, e := range entries {
		leaves[i], bodies[i] = e.LeafHash(), e.Data()
	}
	if err := s.tail.append(first, leaves, bodies); err != nil {
		// Cannot happen (the journal appends in index order): the entries'
		// answers fail for want of a tree that covers them, and the log
		// says it is not ready.
		err = fmt.Errorf("rekor journal: the tree in memory lost its place: %w", err)
		s.tailErr.CompareAndSwap(nil, &err)
		s.cfg.Logger.Error(err.Error())
	}
}

// tailRoot is the root of the tree of size entries, for size up to what the
// journal acknowledged.
func (s *Service) tailRoot(ctx context.Context, size uint64) ([]byte, error) {
	v := s.tail.view()
	return v.rootAt(size, s.tiled(ctx, v))
}

// tailBody is entry i's body while the tail holds it.
func (s *Service) tailBody(i uint64) ([]byte, bool) { return s.tail.view().body(i) }
