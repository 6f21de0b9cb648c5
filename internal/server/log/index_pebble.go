package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Key prefixes of the index's one keyspace.
const (
	prefixEntry   = 'e' // 'e' | leaf hash -> logIndex(8) | integratedTime(8)
	prefixByIndex = 'i' // 'i' | logIndex(8, big-endian) -> leaf hash
	prefixSearch  = 's' // 's' | search key | 0x00 | leaf hash -> nothing
)

// pebbleIndex is the index of a log on one machine: a Pebble LSM beside the
// log, whose synced commits share WAL fsyncs under concurrency.
type pebbleIndex struct{ db *pebble.DB }

// indexCacheSize is the index's block cache. Every append first looks its
// leaf hash up; with Pebble's default 8 MiB cache those lookups re-read
// index and filter blocks from disk (7% of the log's CPU under load).
const indexCacheSize = 128 << 20

func openPebbleIndex(dir string) (*pebbleIndex, error) {
	cache := pebble.NewCache(indexCacheSize)
	defer cache.Unref() // the DB holds its own reference
	opts := &pebble.Options{Logger: quietLogger{}, Cache: cache}
	// The lookups almost always miss: Bloom filters answer a miss without
	// searching each level's tables.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(filepath.Join(dir, "index"), opts)
	if err != nil {
		return nil, fmt.Errorf("opening search index: %w", err)
	}
	return &pebbleIndex{db: db}, nil
}

func (ix *pebbleIndex) close() error { return ix.db.Close() }

func u64(v uint64) []byte { b := make([]byte, 8); binary.BigEndian.PutUint64(b, v); return b }

func key(prefix byte, parts ...[]byte) []byte {
	k := []byte{prefix}
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// putAll records entries durably in one synced commit. One machine sequences
// every entry, and the journal in front of Tessera answers a duplicate with
// the first copy's index before it is sequenced, so no leaf is recorded
// twice here (while the first copy is among the journal's recent entries).
func (ix *pebbleIndex) putAll(_ context.Context, entries []*indexed) (map[int]uint64, error) {
	b := ix.db.NewBatch()
	defer b.Close()
	for _, p := range entries {
		r := p.rec
		v := append(u64(r.LogIndex), u64(uint64(r.IntegratedTime))...)
		if err := b.Set(key(prefixEntry, r.LeafHash), v, nil); err != nil {
			return nil, err
		}
		if err := b.Set(key(prefixByIndex, u64(r.LogIndex)), r.LeafHash, nil); err != nil {
			return nil, err
		}
		for _, k := range p.searchKeys {
			if err := b.Set(key(prefixSearch, []byte(k), []byte{0}, r.LeafHash), nil, nil); err != nil {
				return nil, err
			}
		}
	}
	return nil, b.Commit(pebble.Sync)
}

func (ix *pebbleIndex) get(k []byte) ([]byte, error) {
	v, closer, err := ix.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNoEntry
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

func (ix *pebbleIndex) byLeafHash(_ context.Context, h []byte) (*record, error) {
	v, err := ix.get(key(prefixEntry, h))
	if err != nil {
		return nil, err
	}
	if len(v) != 16 {
		return nil, fmt.Errorf("index record for %x is %d bytes, want 16", h, len(v))
	}
	return &record{LeafHash: append([]byte(nil), h...), LogIndex: binary.BigEndian.Uint64(v[:8]), IntegratedTime: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

func (ix *pebbleIndex) lookupAll(ctx context.Context, leaves [][]byte) (map[string]*record, error) {
	var found map[string]*record
	for _, h := range leaves {
		r, err := ix.byLeafHash(ctx, h)
		if errors.Is(err, errNoEntry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if found == nil {
			found = map[string]*record{}
		}
		found[string(h)] = r
	}
	return found, nil
}

func (ix *pebbleIndex) byLogIndex(ctx context.Context, i uint64) (*record, error) {
	h, err := ix.get(key(prefixByIndex, u64(i)))
	if err != nil {
		return nil, err
	}
	return ix.byLeafHash(ctx, h)
}

// size is one past the highest indexed log index (0 when empty).
func (ix *pebbleIndex) size() (uint64, error) {
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixByIndex}, UpperBound: []byte{prefixByIndex + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1:]) + 1, nil
}

// search returns the hex leaf hashes (UUIDs) indexed under k.
func (ix *pebbleIndex) search(_ context.Context, k string) ([]string, error) {
	lo := key(prefixSearch, []byte(k), []byte{0})
	hi := key(prefixSearch, []byte(k), []byte{1})
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok && len(out) < maxSearchResults; ok = it.Next() {
		if !bytes.HasPrefix(it.Key(), lo) {
			break
		}
		out = append(out, hex.EncodeToString(it.Key()[len(lo):]))
	}
	return out, it.Error()
}

// quietLogger keeps Pebble's informational messages off the console.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("search index: "+format, args...))
}
