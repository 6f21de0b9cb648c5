package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/tessera"
)

// Config configures a journal.
type Config struct {
	Dir          string                                                // the journal's directory
	Name         string                                                // the log's name in errors and log lines, e.g. "ct", "rekor" (required)
	Size         uint64                                                // entries Tessera's tree holds now
	SizeFn       func(context.Context) (uint64, error)                 // reads Tessera's integrated size again
	Add          tessera.AddFn                                         // Tessera's add
	Decode       func(idx uint64, data []byte) (*tessera.Entry, error) // a journaled record (the entry's MarshalBundleData(idx)) back into its entry; Open checks it writes the same bytes again
	Logger       *slog.Logger                                          // nil: discard
	Round        int                                                   // entries handed to Tessera at once; 0: DefaultRound. Tessera's batch must hold a round.
	MaxEntryData int                                                   // 0: 256 KiB (Tessera's limit); larger entries are refused before acknowledgement
	// Durable, when set, is called with every batch once it is synced, in index order (first is
	// entries[0]'s index), one batch at a time, before any of the batch's Add futures resolve, by whoever
	// wrote the batch: the committer, or an add's caller (see Sequence). It is also called before the
	// batch is handed to Tessera, so before Integrated reports a size that covers it; it is not called
	// for the entries Open hands to Tessera again. Nothing more is written until it returns: it must be quick.
	Durable func(first uint64, entries []*tessera.Entry)
	// Integrated, when set, is called by the forwarder with Tessera's new size after each round Tessera integrated
	// (not for the replay inside Open). The forwarder waits for it.
	Integrated func(size uint64)
	// Gather, when set, is how long the committer lets further adds join a
	// sync once they arrive together (the last sync held more than one):
	// fewer, larger syncs when many independent requests add at once (a CT
	// log's), at that much latency; after a sync of one entry nobody waits.
	// An adder that groups its own adds and waits for each group (the Rekor
	// log's group committer) wants none: nothing more arrives while it waits.
	Gather time.Duration
}

// DefaultGather is a Gather for logs whose adds come from independent
// requests. 20,000 certificates issued by 64 concurrent requests through the
// in-process CT log (pkg/ca BenchmarkIssueWithSCT) took 1,437 fsyncs instead
// of 4,790 with it, and 201 instead of 267 µs of wall time per certificate.
const DefaultGather = 2 * time.Millisecond

// A Journal makes an entry durable in one synced append to a file and gives
// it its index at once; Tessera integrates it after. An acknowledgement (a CT
// log's SCT, a Rekor log's entry) is a promise that the entry will be in the
// log, so the log may give it once the entry cannot be lost: it need not wait
// for Tessera's synced writes of bundles, tiles and tree state (about 3 ms a
// round on a virtual disk, against a quarter of a millisecond for one append).
//
// Every add to the log goes through the journal, so the journal alone hands
// out indices; it passes entries to Tessera in index order, one round at a
// time, and checks that Tessera gives each the index the journal did. Should
// they ever differ, the log stops taking entries rather than acknowledge
// more, and says so in DIR/STOPPED, which keeps it from starting until
// someone has looked. A round is at most one Tessera batch and the next waits
// for it, so a refused batch cannot be overtaken by a later one; a refused
// round is tried again only if Tessera's tree ends where the round begins.
//
// On start, what the journal holds beyond Tessera's tree is handed to Tessera
// again before anything new is taken (see Open).
type Journal struct {
	name    string
	inner   tessera.AddFn
	size    func(context.Context) (uint64, error) // Tessera's integrated size
	store   *segments
	log     *slog.Logger
	maxData int                                          // the largest entry data add takes
	durable func(first uint64, entries []*tessera.Entry) // Config.Durable
	onInteg func(size uint64)                            // Config.Integrated, set once replay is done
	backlog uint64                                       // entries journaled but not yet integrated, at most
	round   int                                          // entries handed to Tessera at once, at most
	stall   time.Duration                                // no progress for this long with entries waiting: not ready
	gather  time.Duration                                // Config.Gather
	// leadWithin is how long a batch an add may write itself waits for
	// the add's durable before the committer writes it.
	leadWithin time.Duration

	mu      sync.Mutex
	next    uint64  // index of the next entry
	batch   *commit // records waiting for the next sync
	dedup   *lru.Cache[string, uint64]
	failed  error // set once: the log takes nothing more
	closed  bool
	writing bool            // a batch is being written and synced, by the committer or an add (see Sequence)
	shared  bool            // the last batch taken held more than one entry
	queue   []*pendingEntry // durable, waiting for Tessera, in index order

	wake      chan struct{} // a batch is waiting
	fwake     chan struct{} // the queue grew
	quit      chan struct{} // closed by Close
	committed chan struct{} // commitLoop has ended
	stopped   chan struct{} // forwardLoop has ended

	forwardErr error // why forwardLoop ended early; read after stopped

	integMu  sync.Mutex
	integ    uint64    // entries Tessera has integrated
	progress time.Time // last time nothing waited, or a round was integrated
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

const (
	// DefaultRound is how many entries Tessera gets at once, at most,
	// unless Config.Round says otherwise: Tessera gets a round every
	// forwardInterval, or sooner once a round's worth of entries wait. Its
	// synced writes of bundles, tiles and state share the disk with the
	// journal's syncs and slow them while they run: fewer, larger rounds
	// keep acknowledgements fast. What is acknowledged reaches readers with
	// the next checkpoint after its round (Tessera publishes one a second).
	DefaultRound = 1024
	// TesseraBatchAge is how long Tessera must hold a batch open: far
	// longer than handing it a round takes (about a millisecond), so that a
	// round is one batch even across a long pause (a round split in two,
	// the first refused and the second taken, would put the second where the
	// first was acknowledged, after the log has answered for both). A round
	// of fewer entries than Tessera's batch holds waits this long to be
	// sequenced; nothing acknowledged waits for it.
	TesseraBatchAge = time.Second
)

const (
	// maxBacklog bounds what may be acknowledged ahead of Tessera; beyond
	// it an add is pushed back (tessera.ErrPushback: TesseraCT answers 503
	// with Retry-After).
	maxBacklog = 1 << 16
	// maxEntryData is the default limit on an entry's bundle data:
	// Tessera's limit on a CT entry.
	maxEntryData = 256 << 10
	// forwardInterval: Tessera gets a round this often, or sooner once a
	// round's worth of entries wait.
	forwardInterval = 500 * time.Millisecond
	// stallAfter: entries waiting this long with nothing integrated make
	// the log unready.
	stallAfter = 30 * time.Second
	// stoppedFile records why the log stopped.
	stoppedFile = "STOPPED"
)

// Add is the journal's tessera.AddFn: the entry gets the next index and is
// acknowledged once one synced append holds it. Its future waits for the
// sync, or for ctx. A duplicate of a recent entry gets that entry's index
// (IsDup); beyond the backlog the journal may hold ahead of Tessera, an add
// is pushed back (tessera.ErrPushback).
func (j *Journal) Add(ctx context.Context, e *tessera.Entry) tessera.IndexFuture {
	return Future(j.Sequence(ctx, e))
}

// Sequence is Add for a caller with work to do while the entry is synced
// (a CT log signs its SCT meanwhile): it gives the entry's index at once,
// and durable, which waits for the sync (or ctx) and says whether it
// failed. Nothing that promises the entry may leave the process before
// durable has returned nil. A duplicate of a recent entry gets that entry's
// index (IsDup) and a durable that promises nothing (the first copy may
// still be syncing: a caller that answers for duplicates waits for the
// first copy its own way); err is set when the entry was not taken at all,
// and durable is nil only then. An entry that found the journal idle
// (nothing being written, nothing else waiting, the last sync not shared)
// is written by durable itself, on the caller's goroutine, if durable comes
// within 2 ms, and by the committer otherwise (the sync cannot be
// interrupted, so durable may return after ctx ends).
func (j *Journal) Sequence(ctx context.Context, e *tessera.Entry) (idx tessera.Index, durable func() error, err error) {
	j.mu.Lock()
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return tessera.Index{}, nil, err
	}
	if j.closed {
		j.mu.Unlock()
		return tessera.Index{}, nil, errors.New(j.name + ": the log is shutting down")
	}
	if idx, ok := j.dedup.Get(string(e.Identity())); ok {
		j.mu.Unlock()
		return tessera.Index{Index: idx, IsDup: true}, func() error { return nil }, nil
	}
	if j.next-j.integrated() >= j.backlog {
		j.mu.Unlock()
		return tessera.Index{}, nil, tessera.ErrPushback
	}
	next := j.next
	data := e.MarshalBundleData(next)
	if len(data) > j.maxData {
		j.mu.Unlock()
		// Refused here, as Tessera would: once acknowledged it must fit.
		return tessera.Index{}, nil, fmt.Errorf("entry data too large (%d > %d)", len(data), j.maxData)
	}
	j.next++
	j.dedup.Add(string(e.Identity()), next)
	c := j.batch
	c.records = appendRecord(c.records, next, data)
	c.entries = append(c.entries, &pendingEntry{idx: next, entry: e})
	// Alone (nothing is being written, nothing else waits, and the last
	// sync was not shared, so there is no company to gather): this add's
	// durable writes the batch itself, on the caller's goroutine, rather
	// than wake the committer, which would start on the other CPU about a
	// tenth of a millisecond later. Should durable not come within
	// leadWithin (a caller need not wait for its entry), the committer
	// writes it.
	lead := !j.writing && !j.shared && len(c.entries) == 1
	j.mu.Unlock()
	if !lead {
		signal(j.wake)
		return tessera.Index{Index: next}, c.wait(ctx), nil
	}
	backstop := time.AfterFunc(j.leadWithin, func() { signal(j.wake) })
	return tessera.Index{Index: next}, func() error {
		backstop.Stop() // whoever writes a batch while it waits wakes the committer after
		j.lead(c)
		return c.wait(ctx)()
	}, nil
}

// leadWithin is what Open sets Journal.leadWithin to (tests set it longer,
// to see who writes a batch).
const leadWithin = 2 * time.Millisecond

// wait waits for the batch's sync, or ctx; a sync already done is reported
// whatever ctx says.
func (c *commit) wait(ctx context.Context) func() error {
	return func() error {
		select {
		case <-c.done:
			return c.err
		default:
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return c.err
	}
}

// lead writes c on the caller's goroutine if it is still the open batch.
// Then nothing is being written: nothing was when c's one entry was added,
// and whatever has been taken since would have been c.
func (j *Journal) lead(c *commit) {
	next := &commit{done: make(chan struct{})}
	j.mu.Lock()
	if j.batch != c {
		j.mu.Unlock()
		return
	}
	j.batch, j.writing, j.shared = next, true, len(c.entries) > 1
	failed := j.failed
	j.mu.Unlock()
	defer j.written()
	defer func() {
		// A write that panics does so on a request's goroutine, which
		// net/http recovers: the log takes nothing more, c's waiters
		// learn why, and the committer is not left waiting for the write.
		if r := recover(); r != nil {
			c.err = j.fail(fmt.Errorf("%s: writing the journal: %v", j.name, r))
			close(c.done)
			panic(r)
		}
	}()
	j.write(c, failed)
}

// Future is Sequence's answer as Tessera's future: the index once durable
// says the entry is synced.
func Future(idx tessera.Index, durable func() error, err error) tessera.IndexFuture {
	return func() (tessera.Index, error) {
		if err != nil {
			return tessera.Index{}, err
		}
		if err := durable(); err != nil {
			return tessera.Index{}, err
		}
		return idx, nil
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// commitLoop writes and syncs batches, one at a time: what arrives during a
// sync goes into the next. A batch an add writes itself (see Sequence) is
// one of them: nothing else is written meanwhile. Once a write has failed
// nothing more is written (a record after a torn one would be lost on
// reading back). After close it writes what was taken and ends.
func (j *Journal) commitLoop() {
	defer close(j.committed)
	last := 0 // bytes of records the last batch it took held
	closing := false
	for {
		if closing {
			<-j.wake // an add writing its batch says when it is done
		} else {
			select {
			case <-j.wake:
			case <-j.quit:
			}
		}
		j.mu.Lock()
		shared := j.shared
		j.mu.Unlock()
		if shared && j.gather > 0 && !closing {
			// Adds arrive together: let more join this sync, as a
			// database's group commit does, rather than sync each
			// one or two. After a sync of one entry nobody waits.
			select {
			case <-time.After(j.gather):
			case <-j.quit:
			}
		}
		// The next batch, made before taking the lock every add needs: its
		// records grow by append, so it starts as large as the last.
		next := &commit{done: make(chan struct{}), records: make([]byte, 0, min(last, 1<<20))}
		j.mu.Lock()
		c, failed := j.batch, j.failed
		closing = j.closed
		// Decided under the lock: a batch left in place still takes adds.
		take := len(c.entries) > 0 && !j.writing
		if take {
			j.batch, j.writing, j.shared = next, true, len(c.entries) > 1
			last = len(c.records)
		}
		j.mu.Unlock()
		if take {
			j.write(c, failed)
			j.written()
			continue // another batch may wait, or close may: look again
		}
		if closing {
			j.mu.Lock()
			done := !j.writing && len(j.batch.entries) == 0
			j.mu.Unlock()
			if done {
				return
			}
		}
	}
}

// write writes and syncs c (unless the log has failed), tells Durable and
// queues c's entries for Tessera, and ends c's wait. The caller has set
// writing.
func (j *Journal) write(c *commit, failed error) {
	if failed != nil {
		c.err = failed
	} else if err := j.store.append(c.entries[0].idx, c.records); err != nil {
		c.err = j.fail(fmt.Errorf("%s: writing the journal: %w", j.name, err))
	}
	if c.err == nil {
		if j.durable != nil {
			entries := make([]*tessera.Entry, len(c.entries))
			for i, p := range c.entries {
				entries[i] = p.entry
			}
			j.durable(c.entries[0].idx, entries)
		}
		j.mu.Lock()
		j.queue = append(j.queue, c.entries...)
		j.mu.Unlock()
		signal(j.fwake)
	}
	close(c.done)
}

// written ends a write; the committer looks for what waits.
func (j *Journal) written() {
	j.mu.Lock()
	j.writing = false
	more := len(j.batch.entries) > 0 || j.closed
	j.mu.Unlock()
	if more {
		signal(j.wake)
	}
}

// forwardLoop hands durable entries to Tessera in index order. After close
// it hands over what is queued and ends.
func (j *Journal) forwardLoop() {
	defer close(j.stopped)
	tick := time.NewTicker(forwardInterval)
	defer tick.Stop()
	for {
		closing := false
		select {
		case <-tick.C:
		case <-j.fwake:
			j.mu.Lock()
			n := len(j.queue)
			j.mu.Unlock()
			if n < j.round {
				continue
			}
		case <-j.committed:
			closing = true
		}
		j.mu.Lock()
		queued := j.queue
		j.queue = nil
		j.mu.Unlock()
		if len(queued) == 0 {
			j.setProgress()
		} else if err := j.forward(queued, !closing); err != nil {
			// Hand Tessera nothing more: what follows the entry it did not
			// take would land at that entry's index. All of it stays in the
			// journal for the next start.
			j.forwardErr = j.fail(err)
			return
		}
		if closing {
			return
		}
	}
}

// forward hands entries to Tessera a round at a time.
func (j *Journal) forward(entries []*pendingEntry, retry bool) error {
	for len(entries) > 0 {
		n := min(len(entries), j.round)
		if err := j.forwardRound(entries[:n], retry); err != nil {
			return err
		}
		last := entries[n-1].idx
		entries = entries[n:]
		j.setIntegrated(last + 1)
		if j.onInteg != nil {
			j.onInteg(last + 1)
		}
		if err := j.store.release(last + 1); err != nil {
			j.log.Warn(j.name+" journal: removing integrated segments", "err", err)
		}
	}
	return nil
}

// forwardRound adds a round to Tessera, waits for every index and checks
// it. A round Tessera refused from some entry on is tried again from that
// entry, only if Tessera's tree ends just before it; with retry false (or
// once the journal is closing) the refusal is returned.
func (j *Journal) forwardRound(round []*pendingEntry, retry bool) error {
	ctx := context.Background()
	for attempt := 1; ; attempt++ {
		futures := make([]tessera.IndexFuture, len(round))
		for i, p := range round {
			futures[i] = j.inner(ctx, p.entry)
		}
		var refused error
		done := 0
		for i, f := range futures {
			got, err := f()
			switch {
			case err != nil:
				if refused == nil {
					refused = err
				}
			case refused != nil:
				return j.disagree(fmt.Errorf("Tessera sequenced entry %d after refusing an earlier one (%v)", round[i].idx, refused))
			case got.IsDup || got.Index != round[i].idx:
				return j.disagree(fmt.Errorf("Tessera put entry %d at index %d (duplicate %t)", round[i].idx, got.Index, got.IsDup))
			default:
				done++
			}
		}
		if refused == nil {
			return nil
		}
		round = round[done:]
		if size, err := j.size(ctx); err == nil && size != round[0].idx {
			return j.disagree(fmt.Errorf("Tessera refused entry %d (%v) but its tree holds %d entries", round[0].idx, refused, size))
		}
		if !retry {
			return fmt.Errorf("%s: Tessera refused entry %d: %w", j.name, round[0].idx, refused)
		}
		wait := min(time.Duration(attempt)*100*time.Millisecond, 5*time.Second)
		j.log.Warn(j.name+" journal: Tessera refused a round, trying again", "entries", len(round), "first", round[0].idx, "err", refused, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-j.quit:
			return fmt.Errorf("%s: closing with entries from %d not integrated (they are at the next start): %w", j.name, round[0].idx, refused)
		}
	}
}

// disagree stops the log for good: the entries Tessera holds and the
// acknowledgements given no longer match. The reason is written beside the
// journal so that the log does not start again until someone has looked.
func (j *Journal) disagree(err error) error {
	err = fmt.Errorf("%s: the log and what it acknowledged disagree: %w", j.name, err)
	if werr := os.WriteFile(filepath.Join(j.store.dir, stoppedFile), []byte(err.Error()+"\n"), 0o600); werr != nil {
		j.log.Error(j.name+" journal: recording the stop", "err", werr)
	}
	return j.fail(err)
}

// fail stops the log taking entries, once, and says why.
func (j *Journal) fail(err error) error {
	j.mu.Lock()
	if j.failed == nil {
		j.failed = err
		j.log.Error(j.name+" journal: the log takes no more entries", "err", err)
	}
	err = j.failed
	j.mu.Unlock()
	return err
}

func (j *Journal) integrated() uint64 {
	j.integMu.Lock()
	defer j.integMu.Unlock()
	return j.integ
}

func (j *Journal) setIntegrated(n uint64) {
	j.integMu.Lock()
	j.integ, j.progress = n, time.Now()
	j.integMu.Unlock()
}

func (j *Journal) setProgress() {
	j.integMu.Lock()
	j.progress = time.Now()
	j.integMu.Unlock()
}

// Err says why the journal takes no entries: it stopped, or Tessera has
// integrated nothing for a while with entries waiting.
func (j *Journal) Err() error {
	j.mu.Lock()
	failed, next := j.failed, j.next
	j.mu.Unlock()
	if failed != nil {
		return failed
	}
	j.integMu.Lock()
	defer j.integMu.Unlock()
	if waiting := next - j.integ; waiting > 0 && time.Since(j.progress) > j.stall {
		return fmt.Errorf("%s: Tessera has integrated nothing for %s with %d entries waiting", j.name, time.Since(j.progress).Round(time.Second), waiting)
	}
	return nil
}

// Backlog is how many acknowledged entries Tessera has yet to integrate.
func (j *Journal) Backlog() uint64 {
	j.mu.Lock()
	next := j.next
	j.mu.Unlock()
	return next - j.integrated()
}

// Close takes no more entries and waits until what was acknowledged has
// been handed to Tessera, or ctx ends; what Tessera did not integrate is
// handed over again at the next start.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.quit)
	// The forwarder ends after the committer, but for one that stopped
	// early (the log stopped): wait for both, so that no write is under
	// way when the segment is closed.
	for _, ended := range []chan struct{}{j.stopped, j.committed} {
		select {
		case <-ended:
		case <-ctx.Done():
			// The forwarder may still wait on Tessera; what it has not
			// handed over is integrated at the next start.
			return ctx.Err()
		}
	}
	return errors.Join(j.forwardErr, j.store.close())
}
