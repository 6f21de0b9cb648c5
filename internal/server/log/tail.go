package log

import (
	"fmt"
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
// is hashed from its children (see Service.nodeAt).
//
// The journal appends to it in index order, each synced batch before any
// of the batch's adds is answered, and releases what Tessera integrated.
type tail struct {
	mu     sync.RWMutex
	base   uint64
	rng    *compact.Range // [0, size)
	nodes  map[compact.NodeID][]byte
	bodies [][]byte // bodies[i-base]
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// newTail starts a tail at the end of a tree of size entries whose compact
// range (compact.RangeNodes(0, size)) is hashes.
func newTail(size uint64, hashes [][]byte) (*tail, error) {
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("the tree's compact range at %d: %w", size, err)
	}
	return &tail{base: size, rng: rng, nodes: map[compact.NodeID][]byte{}}, nil
}

// append adds entries first, first+1, … given their leaf hashes and bodies.
func (t *tail) append(first uint64, leaves, bodies [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if first != t.rng.End() {
		return fmt.Errorf("tail: entry %d appended to a tree of %d", first, t.rng.End())
	}
	keep := func(id compact.NodeID, hash []byte) {
		if begin, _ := id.Coverage(); begin >= t.base {
			t.nodes[id] = hash
		}
	}
	for i, leaf := range leaves {
		if err := t.rng.Append(leaf, keep); err != nil {
			return err
		}
		t.bodies = append(t.bodies, bodies[i])
	}
	return nil
}

// release forgets what Tessera now holds: entries below size.
func (t *tail) release(size uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if size <= t.base {
		return
	}
	size = min(size, t.rng.End())
	t.bodies = t.bodies[size-t.base:]
	t.base = size
	for id := range t.nodes {
		if _, end := id.Coverage(); end <= size {
			delete(t.nodes, id)
		}
	}
}

// view is the tail as one reader sees it, under the read lock.
type view struct {
	base, size uint64
	t          *tail
}

// read calls f with the tail held still.
func (t *tail) read(f func(v view) error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return f(view{base: t.base, size: t.rng.End(), t: t})
}

// root is the root of the tree of v.size entries.
func (v view) root() ([]byte, error) { return v.t.rng.GetRootHash(nil) }

// node is a node wholly inside [base, size), if it is.
func (v view) node(id compact.NodeID) ([]byte, bool) {
	h, ok := v.t.nodes[id]
	return h, ok
}

// body is entry i's body, for base <= i < size.
func (v view) body(i uint64) ([]byte, bool) {
	if i < v.base || i >= v.size {
		return nil, false
	}
	return v.t.bodies[i-v.base], true
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
		return v.root()
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
