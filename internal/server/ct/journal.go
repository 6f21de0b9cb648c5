package ct

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/tessera"
)

// The journal makes a CT entry durable in one synced append to a file and
// gives it its index at once; Tessera integrates it after. An SCT is a promise
// that the entry will be in the log, so the log may sign it once the entry
// cannot be lost: it need not wait for Tessera's synced writes of bundles,
// tiles and tree state (about 3 ms a round on a virtual disk, against a quarter
// of a millisecond for one append).
//
// Every add goes through the journal, from the CA in this process and from
// add-chain/add-pre-chain over HTTP alike, so the journal alone hands out
// indices; it passes entries to Tessera in index order, one round at a time,
// and checks that Tessera gives each the index the journal did. Should they
// ever differ (the disk failed mid-round), the log stops taking entries rather
// than sign an SCT for an index that holds another entry.
//
// On start, what the journal holds beyond Tessera's tree is handed to Tessera
// again before anything new is taken (see openJournal).
type journal struct {
	inner   tessera.AddFn
	store   *segments
	log     *slog.Logger
	backlog uint64 // entries journaled but not yet integrated, at most

	mu       sync.Mutex
	next     uint64  // index of the next entry
	batch    *commit // records waiting for the next sync
	dedup    *lru.Cache[string, uint64]
	failed   error // set once: the log takes nothing more
	closed   bool
	wake     chan struct{} // a batch is waiting
	quit     chan struct{} // closed by close
	handoff  chan []*pendingEntry
	stopped  chan struct{} // committer and forwarder have ended
	integ    uint64        // entries Tessera has integrated
	integErr error         // set by fail, for waitIntegrated
	integMu  sync.Mutex
	integCnd *sync.Cond
}

// commit is the records one sync makes durable.
type commit struct {
	records []byte
	entries []*pendingEntry
	done    chan struct{}
	err     error
}

type pendingEntry struct {
	idx   uint64
	entry *tessera.Entry
}

// maxBacklog bounds what may be acknowledged ahead of Tessera; beyond it an
// add is pushed back (TesseraCT answers 503 with Retry-After).
const maxBacklog = 1 << 16

// maxEntryData is Tessera's limit on a CT entry's bundle data.
const maxEntryData = 256 << 10

// Tessera gets a round every forwardInterval, or sooner once forwardRound
// entries wait. Its synced writes of bundles, tiles and state share the disk
// with the journal's syncs and slow them while they run: fewer, larger rounds
// keep acknowledgements fast. What is acknowledged reaches readers with the
// next checkpoint after its round (Tessera publishes one a second).
const (
	forwardInterval = 500 * time.Millisecond
	forwardRound    = 1024
)

// add is the journal's tessera.AddFn.
func (j *journal) add(_ context.Context, e *tessera.Entry) tessera.IndexFuture {
	j.mu.Lock()
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return func() (tessera.Index, error) { return tessera.Index{}, err }
	}
	if j.closed {
		j.mu.Unlock()
		return func() (tessera.Index, error) { return tessera.Index{}, errors.New("ct: the log is shutting down") }
	}
	if idx, ok := j.dedup.Get(string(e.Identity())); ok {
		j.mu.Unlock()
		return func() (tessera.Index, error) { return tessera.Index{Index: idx, IsDup: true}, nil }
	}
	if j.next-j.integrated() >= j.backlog {
		j.mu.Unlock()
		return func() (tessera.Index, error) { return tessera.Index{}, tessera.ErrPushback }
	}
	idx := j.next
	data := e.MarshalBundleData(idx)
	if len(data) > maxEntryData {
		j.mu.Unlock()
		// Refused here, as Tessera would: once acknowledged it must fit.
		return func() (tessera.Index, error) {
			return tessera.Index{}, fmt.Errorf("entry data too large (%d > %d)", len(data), maxEntryData)
		}
	}
	j.next++
	j.dedup.Add(string(e.Identity()), idx)
	c := j.batch
	c.records = appendRecord(c.records, idx, data)
	c.entries = append(c.entries, &pendingEntry{idx: idx, entry: e})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return func() (tessera.Index, error) {
		<-c.done
		if c.err != nil {
			return tessera.Index{}, c.err
		}
		return tessera.Index{Index: idx}, nil
	}
}

// commitLoop writes and syncs batches, one at a time: what arrives during a
// sync goes into the next. After close it writes what was taken and ends.
func (j *journal) commitLoop() {
	defer close(j.handoff)
	for {
		select {
		case <-j.wake:
		case <-j.quit:
		}
		j.mu.Lock()
		c, closed := j.batch, j.closed
		if len(c.entries) > 0 {
			j.batch = &commit{done: make(chan struct{})}
		}
		j.mu.Unlock()
		if len(c.entries) > 0 {
			if err := j.store.append(c.entries[0].idx, c.records); err != nil {
				c.err = j.fail(fmt.Errorf("ct: writing the journal: %w", err))
			}
			close(c.done)
			if c.err == nil {
				j.handoff <- c.entries
			}
		}
		if closed {
			return
		}
	}
}

// forwardLoop hands durable entries to Tessera in index order and waits for
// each round's indices before the next, so that they cannot be reordered.
func (j *journal) forwardLoop() {
	defer close(j.stopped)
	tick := time.NewTicker(forwardInterval)
	defer tick.Stop()
	var round []*pendingEntry
	for open := true; open || len(round) > 0; {
		due := false
		select {
		case r, ok := <-j.handoff:
			round = append(round, r...)
			open = ok
			due = !ok || len(round) >= forwardRound
		case <-tick.C:
			due = true
		}
		if !due || len(round) == 0 {
			continue
		}
		err := j.forward(round)
		last := round[len(round)-1].idx
		round = nil
		if err != nil {
			j.fail(err)
			continue
		}
		j.setIntegrated(last + 1)
		if err := j.store.release(last + 1); err != nil {
			j.log.Warn("ct journal: removing integrated segments", "err", err)
		}
	}
}

// forward adds entries to Tessera and checks their indices. A round Tessera
// refused whole (a failed sequencing) is tried again; a partial one cannot be
// repaired here.
func (j *journal) forward(round []*pendingEntry) error {
	for attempt := 0; ; attempt++ {
		ctx := context.Background()
		futures := make([]tessera.IndexFuture, len(round))
		for i, p := range round {
			futures[i] = j.inner(ctx, p.entry)
		}
		var firstErr error
		done := 0
		for i, f := range futures {
			got, err := f()
			switch {
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case firstErr != nil:
				return fmt.Errorf("ct: Tessera sequenced entry %d after refusing an earlier one (%v): the log and its SCTs disagree", round[i].idx, firstErr)
			case got.IsDup || got.Index != round[i].idx:
				return fmt.Errorf("ct: Tessera put entry %d at index %d (duplicate %t): the log and its SCTs disagree", round[i].idx, got.Index, got.IsDup)
			default:
				done++
			}
		}
		if firstErr == nil {
			return nil
		}
		round = round[done:]
		wait := min(time.Duration(attempt+1)*100*time.Millisecond, 5*time.Second)
		j.log.Warn("ct journal: Tessera refused a round, trying again", "entries", len(round), "first", round[0].idx, "err", firstErr, "retry_in", wait)
		time.Sleep(wait)
	}
}

// fail stops the log taking entries, once, and says why.
func (j *journal) fail(err error) error {
	j.mu.Lock()
	if j.failed == nil {
		j.failed = err
		j.log.Error("ct journal: the log takes no more entries", "err", err)
	}
	err = j.failed
	j.mu.Unlock()
	j.integMu.Lock()
	j.integErr = err
	j.integMu.Unlock()
	j.integCnd.Broadcast()
	return err
}

func (j *journal) integrated() uint64 {
	j.integMu.Lock()
	defer j.integMu.Unlock()
	return j.integ
}

func (j *journal) setIntegrated(n uint64) {
	j.integMu.Lock()
	j.integ = n
	j.integMu.Unlock()
	j.integCnd.Broadcast()
}

// waitIntegrated waits until Tessera holds n entries or ctx ends.
func (j *journal) waitIntegrated(ctx context.Context, n uint64) error {
	stop := context.AfterFunc(ctx, func() {
		j.integMu.Lock()
		defer j.integMu.Unlock()
		j.integCnd.Broadcast()
	})
	defer stop()
	j.integMu.Lock()
	defer j.integMu.Unlock()
	for j.integ < n {
		if j.integErr != nil {
			return j.integErr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		j.integCnd.Wait()
	}
	return nil
}

// Err is why the journal stopped taking entries, or nil.
func (j *journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// Backlog is how many acknowledged entries Tessera has yet to integrate.
func (j *journal) Backlog() uint64 {
	j.mu.Lock()
	next := j.next
	j.mu.Unlock()
	return next - j.integrated()
}

// close takes no more entries and waits until Tessera has integrated what
// was acknowledged, or ctx ends; what is left is handed over again at the
// next start.
func (j *journal) close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.quit)
	select {
	case <-j.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	return j.store.close()
}
