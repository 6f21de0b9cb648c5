package ct

import (
	"context"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
)

// Rounds under load start at most this far apart (see the log service's
// group committer, whose reasoning this follows).
const (
	busyRound        = 32
	minRoundInterval = 20 * time.Millisecond
	maxRound         = 1024
)

// grouper hands the CA's precertificates to Tessera one round at a time:
// everything that arrived while the previous round was being sequenced goes
// into the next, handed over at once so that it is one Tessera batch. An
// idle log sequences an entry at once; a busy one makes few, large batches,
// each paying one set of synced writes.
type grouper struct {
	add    func(context.Context, *ctonly.Entry) (tessera.IndexFuture, error)
	submit chan *pending
}

type pending struct {
	entry *ctonly.Entry
	done  chan sequenced // buffered: the grouper never waits for a caller
}

type sequenced struct {
	idx tessera.Index
	err error
}

func newGrouper(add func(context.Context, *ctonly.Entry) (tessera.IndexFuture, error)) *grouper {
	return &grouper{add: add, submit: make(chan *pending, maxRound)}
}

// sequence waits for e's index.
func (g *grouper) sequence(ctx context.Context, e *ctonly.Entry) (tessera.Index, error) {
	p := &pending{entry: e, done: make(chan sequenced, 1)}
	select {
	case g.submit <- p:
	case <-ctx.Done():
		return tessera.Index{}, ctx.Err()
	}
	select {
	case s := <-p.done:
		return s.idx, s.err
	case <-ctx.Done():
		return tessera.Index{}, ctx.Err()
	}
}

// run sequences rounds until ctx ends.
func (g *grouper) run(ctx context.Context) {
	var (
		lastStart time.Time
		lastSize  int
	)
	for {
		round := make([]*pending, 0, 64)
		select {
		case <-ctx.Done():
			return
		case p := <-g.submit:
			round = append(round, p)
		}
		if lastSize >= busyRound {
			if wait := minRoundInterval - time.Since(lastStart); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
		}
	more:
		for len(round) < maxRound {
			select {
			case p := <-g.submit:
				round = append(round, p)
			default:
				break more
			}
		}
		lastStart, lastSize = time.Now(), len(round)
		futures := make([]tessera.IndexFuture, len(round))
		errs := make([]error, len(round))
		for i, p := range round {
			futures[i], errs[i] = g.add(ctx, p.entry)
		}
		for i, p := range round {
			if errs[i] != nil {
				p.done <- sequenced{err: errs[i]}
				continue
			}
			idx, err := futures[i]()
			p.done <- sequenced{idx: idx, err: err}
		}
	}
}
