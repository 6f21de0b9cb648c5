package log

import (
	"context"
	"time"

	"github.com/transparency-dev/tessera"
)

// busyGroup and minRoundInterval say when the log is busy (a round took at
// least this many entries) and how far apart rounds then start.
const (
	busyGroup        = 32
	minRoundInterval = 20 * time.Millisecond
	// mysqlRoundInterval spaces a busy MySQL log's rounds further: each
	// round rereads and rewrites the partial entry bundle and tiles in the
	// database, so the database's work per entry falls as rounds grow, and
	// the frontends sharing it scale.
	mysqlRoundInterval = 50 * time.Millisecond
)

// groupCommitter hands entries to Tessera one group at a time: everything
// that arrived while the previous group was being made durable goes into the
// next. Tessera's own queue flushes on a timer, so under load it sequences
// many small batches back to back, each paying a full round of fsyncs; with
// one group in flight the batch grows with the load instead, and the cost of
// a round is shared by all who waited for it. Each group is then indexed in
// one synced index commit, while the next group is being sequenced.
//
// Under load, rounds start at most every minRoundInterval. A round costs the
// POSIX driver about a dozen file creations and syncs whatever its size, and
// on an ext4 without a journal each creation scans past every inode freed in
// the last minute, so the cost of a round grows with the rate of rounds:
// fewer, larger rounds leave the CPU to the entries themselves.
type groupCommitter struct {
	add      func(context.Context, *tessera.Entry) tessera.IndexFuture
	index    indexStore
	submit   chan *pendingAdd
	toIndex  chan []*pendingAdd
	max      int
	interval time.Duration // least time between the starts of busy rounds
	observe  func(float64) // round sizes; may be nil
}

// pendingAdd is one entry on its way into the log. Its channels are
// buffered: the committer never waits for a caller.
type pendingAdd struct {
	entry   *tessera.Entry
	indexed // rec's LeafHash and IntegratedTime set by the caller, LogIndex by the committer

	sequenced chan sequenced // the entry's index, once durable in the log
	done      chan indexDone // once the entry is also durable in the index
}

// indexDone says how indexing an entry ended. dup: another frontend had
// sequenced the same entry first, at index first.
type indexDone struct {
	err   error
	dup   bool
	first uint64
}

type sequenced struct {
	idx      tessera.Index
	err      error
	existing *record // the index already had the entry: it was not appended
}

func newGroupCommitter(add func(context.Context, *tessera.Entry) tessera.IndexFuture, ix indexStore, max int) *groupCommitter {
	return &groupCommitter{add: add, index: ix, submit: make(chan *pendingAdd, max), toIndex: make(chan []*pendingAdd, 1), max: max, interval: minRoundInterval}
}

// run commits groups until ctx ends.
func (g *groupCommitter) run(ctx context.Context) {
	go g.runIndexer(ctx)
	futures := make([]tessera.IndexFuture, 0, g.max)
	var (
		lastStart time.Time
		lastSize  int
	)
	for {
		group := make([]*pendingAdd, 0, 64)
		select {
		case <-ctx.Done():
			return
		case p := <-g.submit:
			group = append(group, p)
		}
		// A busy log spaces rounds out; an idle one answers at once.
		if lastSize >= busyGroup {
			if wait := g.interval - time.Since(lastStart); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
		}
	drain:
		for len(group) < g.max {
			select {
			case p := <-g.submit:
				group = append(group, p)
			default:
				break drain
			}
		}
		lastStart, lastSize = time.Now(), len(group)
		if g.observe != nil {
			g.observe(float64(len(group)))
		}
		// The duplicate check, for the whole round in one index read.
		leaves := make([][]byte, len(group))
		for i, p := range group {
			leaves[i] = p.rec.LeafHash
		}
		existing, err := g.index.lookupAll(ctx, leaves)
		if err != nil {
			for _, p := range group {
				p.sequenced <- sequenced{err: err}
				p.done <- indexDone{err: err}
			}
			continue
		}
		fresh := group[:0:0]
		for _, p := range group {
			if r := existing[string(p.rec.LeafHash)]; r != nil {
				p.sequenced <- sequenced{existing: r}
				p.done <- indexDone{}
				continue
			}
			fresh = append(fresh, p)
		}
		futures = futures[:0]
		for _, p := range fresh {
			futures = append(futures, g.add(ctx, p.entry))
		}
		toIndex := group[:0:0]
		for i, f := range futures {
			p := fresh[i]
			idx, err := f()
			if err == nil && !idx.IsDup {
				p.rec.LogIndex = idx.Index // before the caller can see it
				toIndex = append(toIndex, p)
			}
			p.sequenced <- sequenced{idx: idx, err: err}
			if err != nil || idx.IsDup {
				p.done <- indexDone{err: err} // a duplicate's first copy is indexed by its own group
			}
		}
		if len(toIndex) > 0 {
			select {
			case g.toIndex <- toIndex:
			case <-ctx.Done():
				return
			}
		}
	}
}

// runIndexer writes each sequenced group to the index in one synced commit.
func (g *groupCommitter) runIndexer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case group := <-g.toIndex:
			entries := make([]*indexed, len(group))
			for i, p := range group {
				entries[i] = &p.indexed
			}
			firsts, err := g.index.putAll(ctx, entries)
			for i, p := range group {
				first, dup := firsts[i]
				p.done <- indexDone{err: err, dup: dup, first: first}
			}
		}
	}
}

// append queues p for the next group and waits until it is durable in the
// log; p.done then says when it is indexed. If ctx ends first the entry may
// still be logged, as with any abandoned request.
func (g *groupCommitter) append(ctx context.Context, p *pendingAdd) (sequenced, error) {
	p.sequenced, p.done = make(chan sequenced, 1), make(chan indexDone, 1)
	select {
	case g.submit <- p:
	case <-ctx.Done():
		return sequenced{}, ctx.Err()
	}
	select {
	case r := <-p.sequenced:
		return r, r.err
	case <-ctx.Done():
		return sequenced{}, ctx.Err()
	}
}
