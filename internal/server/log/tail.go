package log

import (
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// tail is the end of a journaled log's tree that is acknowledged but not
// yet integrated by Tessera: entries [base, size) are durable in the journal
// and answered for (index, inclusion proof, signed tree) from here, while
// Tessera's tiles and bundles hold [0, base). It keeps the tree's compact
// range over [0, size) for the root, every node wholly inside [base, size)
// for proofs, and the entries' bodies for reads. A node that straddles base
// is hashed from its children (view.nodeAt).
//
// The journal appends to it in index order, each synced batch before any
// of the batch's adds is answered, and releases what Tessera integrated.
// Readers take a view: the slices as they are, which later appends and
// releases never write into, so that proofs (which may read Tessera's tiles
// from disk) hold no lock the journal's committer needs.
type tail struct {
	mu     sync.Mutex
	base   uint64
	rng    *compact.Range // [0, size)
	root   []byte         // rng's root, once per batch
	first  []uint64       // first[l]: the index of levels[l][0]
	levels [][][]byte     // levels[l]: the nodes of level l wholly inside [base, size), in index order
	bodies [][]byte       // bodies[i-base]
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// newTail starts a tail at the end of a tree of size entries whose compact
// range (compact.RangeNodes(0, size)) is hashes.
func newTail(size uint64, hashes [][]byte) (*tail, error) {
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("the tree's compact range at %d: %w", size, err)
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	return &tail{base: size, rng: rng, root: root}, nil
}

// append adds entries first, first+1, … given their leaf hashes and bodies.
func (t *tail) append(first uint64, leaves, bodies [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if first != t.rng.End() {
		return fmt.Errorf("tail: entry %d appended to a tree of %d", first, t.rng.End())
	}
	var err error
	keep := func(id compact.NodeID, hash []byte) {
		if begin, _ := id.Coverage(); begin < t.base || err != nil {
			return
		}
		l := int(id.Level)
		for len(t.levels) <= l {
			t.levels = append(t.levels, nil)
			t.first = append(t.first, 0)
		}
		switch {
		case len(t.levels[l]) == 0:
			t.first[l] = id.Index
		case t.first[l]+uint64(len(t.levels[l])) != id.Index:
			err = fmt.Errorf("tail: node %d/%d completed out of order", id.Level, id.Index)
			return
		}
		t.levels[l] = append(t.levels[l], hash)
	}
	for i, leaf := range leaves {
		if aerr := t.rng.Append(leaf, keep); aerr != nil {
			return aerr
		}
		t.bodies = append(t.bodies, bodies[i])
	}
	if err != nil {
		return err
	}
	t.root, err = t.rng.GetRootHash(nil)
	return err
}

// release forgets what Tessera now holds: entries below size, and the
// nodes that lie wholly below it.
func (t *tail) release(size uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	size = min(size, t.rng.End())
	if size <= t.base {
		return
	}
	t.bodies = dropFront(t.bodies, int(size-t.base))
	t.base = size
	for l := range t.levels {
		// Node k of level l ends at (k+1)<<l: those below size>>l are below.
		if below := size >> l; below > t.first[l] {
			n := min(below-t.first[l], uint64(len(t.levels[l])))
			t.levels[l] = dropFront(t.levels[l], int(n))
			t.first[l] += n
		}
	}
}

// dropFront drops s's first n elements without writing to the array views
// may hold, and copies the rest once the dropped part dominates.
func dropFront(s [][]byte, n int) [][]byte {
	s = s[n:]
	if len(s) < cap(s)/2 {
		s = append([][]byte(nil), s...)
	}
	return s
}

// view is the tail as it was when one reader took it.
type view struct {
	base, size uint64
	root       []byte
	first      []uint64
	levels     [][][]byte
	bodies     [][]byte
}

// view snapshots the tail.
func (t *tail) view() view {
	t.mu.Lock()
	defer t.mu.Unlock()
	return view{base: t.base, size: t.rng.End(), root: t.root, first: slices.Clone(t.first),
		levels: slices.Clone(t.levels), bodies: t.bodies}
}

// size is how many entries the tail's tree holds.
func (t *tail) size() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rng.End()
}

// node is a node wholly inside [base, size), if it is.
func (v view) node(id compact.NodeID) ([]byte, bool) {
	l := int(id.Level)
	if l >= len(v.levels) || id.Index < v.first[l] || id.Index-v.first[l] >= uint64(len(v.levels[l])) {
		return nil, false
	}
	return v.levels[l][id.Index-v.first[l]], true
}

// body is entry i's body, for base <= i < size.
func (v view) body(i uint64) ([]byte, bool) {
	if i < v.base || i >= v.size {
		return nil, false
	}
	return v.bodies[i-v.base], true
}

// nodeAt returns tree node id: from the tail when it lies wholly beyond
// base, from below (Tessera's tiles) when wholly below, and hashed from its
// children when it straddles base.
func (v view) nodeAt(id compact.NodeID, below func(compact.NodeID) ([]byte, error)) ([]byte, error) {
	if h, ok := v.node(id); ok {
		return h, nil
	}
	_, end := id.Coverage()
	switch {
	case end <= v.base:
		return below(id)
	case end > v.size || id.Level == 0:
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of size %d", id.Level, id.Index, v.size)
	}
	left, err := v.nodeAt(compact.NewNodeID(id.Level-1, 2*id.Index), below)
	if err != nil {
		return nil, err
	}
	right, err := v.nodeAt(compact.NewNodeID(id.Level-1, 2*id.Index+1), below)
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashChildren(left, right), nil
}

// rootAt is the root of the tree of size entries, size <= v.size.
func (v view) rootAt(size uint64, below func(compact.NodeID) ([]byte, error)) ([]byte, error) {
	if size > v.size {
		return nil, fmt.Errorf("log size %d does not yet cover entry %d", v.size, size-1)
	}
	if size == v.size {
		return v.root, nil
	}
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := v.nodeAt(id, below)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}

// proofNodes returns the hashes of a proof's nodes (proof.Inclusion,
// proof.Consistency) in a tree of size entries, size <= v.size.
func (v view) proofNodes(size uint64, nodes proof.Nodes, below func(compact.NodeID) ([]byte, error)) ([][]byte, error) {
	if size > v.size {
		return nil, fmt.Errorf("log size %d does not yet cover a tree of %d", v.size, size)
	}
	hashes := make([][]byte, 0, len(nodes.IDs))
	for _, id := range nodes.IDs {
		h, err := v.nodeAt(id, below)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}
