package log

import (
	"context"
	"errors"
)

// record is what the index keeps for an entry; its body is in the log.
type record struct {
	LeafHash       []byte
	LogIndex       uint64
	IntegratedTime int64
}

// indexed is what the index records for an entry.
type indexed struct {
	rec        record
	searchKeys []string
}

// indexStore is the log's search index and integrated-time store: leaf hash
// → entry, log index → entry, search key → leaf hashes. A log on one
// machine keeps it in Pebble beside the log; a log in MySQL keeps it in the
// same database, so every frontend answers every read.
type indexStore interface {
	// byLeafHash returns the entry first recorded with leaf hash h.
	byLeafHash(ctx context.Context, h []byte) (*record, error)
	// lookupAll returns the entries already recorded with any of the leaf
	// hashes, keyed by leaf hash (as a string): the duplicate check of a
	// round, in one read.
	lookupAll(ctx context.Context, leaves [][]byte) (map[string]*record, error)
	// byLogIndex returns the entry at log index i.
	byLogIndex(ctx context.Context, i uint64) (*record, error)
	// putAll records entries durably before it returns. When an entry's
	// leaf hash was already recorded at another index (two frontends
	// sequenced the same entry at once), firsts maps the entry's position
	// in entries to the index recorded first: the entry is a duplicate.
	putAll(ctx context.Context, entries []*indexed) (firsts map[int]uint64, err error)
	// search returns the hex leaf hashes indexed under a search key, at most
	// maxSearchResults of them.
	search(ctx context.Context, key string) ([]string, error)
	close() error
}

// maxSearchResults caps what one search returns.
const maxSearchResults = 1024

var errNoEntry = errors.New("no such entry")
