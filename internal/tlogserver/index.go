package tlogserver

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketEntries = []byte("entries") // leaf hash -> logIndex(8) | integratedTime(8)
	bucketByIndex = []byte("byindex") // logIndex(8) -> leaf hash
	bucketSearch  = []byte("search")  // key | 0x00 | leaf hash -> nothing
)

// record is what the index keeps for an entry; its body is in the log.
type record struct {
	LeafHash       []byte
	LogIndex       uint64
	IntegratedTime int64
}

// index is the search index and integrated-time store beside the log.
type index struct{ db *bolt.DB }

func openIndex(dir string) (*index, error) {
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening search index: %w", err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntries, bucketByIndex, bucketSearch} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising search index: %w", err)
	}
	return &index{db: db}, nil
}

func (ix *index) close() error { return ix.db.Close() }

func u64(v uint64) []byte { b := make([]byte, 8); binary.BigEndian.PutUint64(b, v); return b }

// put records entries durably; concurrent callers share one transaction and
// one fsync (bbolt's Batch).
func (ix *index) put(r record, searchKeys []string) error {
	return ix.db.Batch(func(tx *bolt.Tx) error { return putTx(tx, r, searchKeys) })
}

func putTx(tx *bolt.Tx, r record, searchKeys []string) error {
	v := append(u64(r.LogIndex), u64(uint64(r.IntegratedTime))...)
	if err := tx.Bucket(bucketEntries).Put(r.LeafHash, v); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByIndex).Put(u64(r.LogIndex), r.LeafHash); err != nil {
		return err
	}
	s := tx.Bucket(bucketSearch)
	for _, k := range searchKeys {
		if err := s.Put(append(append([]byte(k), 0), r.LeafHash...), nil); err != nil {
			return err
		}
	}
	return nil
}

var errNoEntry = errors.New("no such entry")

func (ix *index) byLeafHash(h []byte) (*record, error) {
	var r *record
	err := ix.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get(h)
		if v == nil {
			return errNoEntry
		}
		r = &record{LeafHash: append([]byte(nil), h...), LogIndex: binary.BigEndian.Uint64(v[:8]), IntegratedTime: int64(binary.BigEndian.Uint64(v[8:16]))}
		return nil
	})
	return r, err
}

func (ix *index) byLogIndex(i uint64) (*record, error) {
	var h []byte
	err := ix.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketByIndex).Get(u64(i))
		if v == nil {
			return errNoEntry
		}
		h = append([]byte(nil), v...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ix.byLeafHash(h)
}

// size is one past the highest indexed log index (0 when empty).
func (ix *index) size() (uint64, error) {
	var n uint64
	err := ix.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketByIndex).Cursor().Last()
		if k != nil {
			n = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
	return n, err
}

// maxSearchResults caps what one search returns.
const maxSearchResults = 1024

// search returns the hex leaf hashes (UUIDs) indexed under key.
func (ix *index) search(key string) ([]string, error) {
	var out []string
	prefix := append([]byte(key), 0)
	err := ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSearch).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < maxSearchResults; k, _ = c.Next() {
			out = append(out, hex.EncodeToString(k[len(prefix):]))
		}
		return nil
	})
	return out, err
}
