package log

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"

	"hallmark.dev/hallmark/pkg/tlog"
)

// flakyIndex refuses every group while refuse is set, and remembers the
// order in which it recorded entries.
type flakyIndex struct {
	indexStore
	refuse atomic.Bool
	mu     sync.Mutex
	order  []uint64
}

func (f *flakyIndex) putAll(ctx context.Context, entries []*indexed) (map[int]uint64, error) {
	if f.refuse.Load() {
		return nil, errors.New("no space left on device")
	}
	f.mu.Lock()
	for _, e := range entries {
		f.order = append(f.order, e.rec.LogIndex)
	}
	f.mu.Unlock()
	return f.indexStore.putAll(ctx, entries)
}

// A group the index refuses is in the log already: it is tried again, the
// log says it is not ready meanwhile, the group after it waits behind it,
// and both are acknowledged once the index takes them, in log order.
func TestARefusedGroupIsIndexedBeforeTheNext(t *testing.T) {
	pix, err := openPebbleIndex(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pix.close()
	ix := &flakyIndex{indexStore: pix}
	ix.refuse.Store(true)
	var next atomic.Uint64
	add := func(context.Context, *tessera.Entry) tessera.IndexFuture {
		i := next.Add(1) - 1
		return func() (tessera.Index, error) { return tessera.Index{Index: i}, nil }
	}
	g := newGroupCommitter(add, ix, 8)
	var failures atomic.Int64
	g.onIndexError = func(error) { failures.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx)

	mk := func(s string) *pendingAdd {
		body := []byte(s)
		return &pendingAdd{entry: tessera.NewEntry(body), indexed: indexed{rec: record{LeafHash: tlog.LeafHash(body)}}}
	}
	first, second := mk("first"), mk("second")
	if _, err := g.append(ctx, first); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); failures.Load() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refused group was not tried again")
		}
	}
	if err := g.IndexErr(); err == nil {
		t.Fatal("no index error reported while the index refuses a group")
	}
	if _, err := g.append(ctx, second); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-first.done:
		t.Fatalf("acknowledged while the index refuses it: %+v", d)
	case <-time.After(50 * time.Millisecond):
	}
	ix.refuse.Store(false)
	for _, p := range []*pendingAdd{first, second} {
		select {
		case d := <-p.done:
			if d.err != nil {
				t.Fatalf("entry %d: %v", p.rec.LogIndex, d.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("entry %d was never indexed", p.rec.LogIndex)
		}
	}
	if err := g.IndexErr(); err != nil {
		t.Fatalf("index error still reported after the index took the group: %v", err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.order) != 2 || ix.order[0] != 0 || ix.order[1] != 1 {
		t.Fatalf("indexed %v, want [0 1]", ix.order)
	}
	if r, err := pix.byLogIndex(ctx, 0); err != nil || string(r.LeafHash) != string(first.rec.LeafHash) {
		t.Fatalf("index 0: %+v, %v", r, err)
	}
}

// The log is not ready while a group is being tried again.
func TestNotReadyWhileTheIndexRefuses(t *testing.T) {
	tl := openTestLog(t, t.TempDir(), nil)
	if err := tl.svc.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := errors.New("indexing entries 3 to 4: no space left on device")
	tl.svc.group.indexErr.Store(&err)
	if got := tl.svc.Ready(context.Background()); got == nil || got.Error() != err.Error() {
		t.Fatalf("Ready: %v, want %v", got, err)
	}
	tl.svc.group.indexErr.Store(nil)
}
