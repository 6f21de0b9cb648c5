package log

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// Inclusion and consistency proofs are assembled here from the node IDs
// transparency-dev/merkle names, read from hash tiles. Each tile's interior
// levels are hashed once and cached: Tessera's client ProofBuilder re-hashes
// them from the tile's leaves for every node of every proof, which under
// load cost more CPU than verifying the entries' signatures.

// hashedTile is a tile with all its complete interior nodes: levels[0] is
// the tile's bottom row, levels[k] the nodes 2^k leaves wide.
type hashedTile struct{ levels [][][]byte }

type nodeCache struct {
	mu    sync.RWMutex
	tiles map[tileKey]*hashedTile
}

func (c *nodeCache) get(k tileKey) (*hashedTile, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tiles[k]
	return t, ok
}

func (c *nodeCache) put(k tileKey, t *hashedTile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tiles == nil || len(c.tiles) >= maxCachedTiles {
		c.tiles = make(map[tileKey]*hashedTile, 1024)
	}
	c.tiles[k] = t
}

func (s *Service) hashedTile(ctx context.Context, level, index uint64, p uint8) (*hashedTile, error) {
	k := tileKey{level, index, p}
	if t, ok := s.nodes.get(k); ok {
		return t, nil
	}
	raw, err := s.cachedTile(ctx, level, index, p)
	if err != nil {
		return nil, err
	}
	var tile api.HashTile
	if err := tile.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("tile %d/%d: %w", level, index, err)
	}
	t := &hashedTile{levels: [][][]byte{tile.Nodes}}
	for row := tile.Nodes; len(row) >= 2; {
		next := make([][]byte, len(row)/2)
		for i := range next {
			next[i] = rfc6962.DefaultHasher.HashChildren(row[2*i], row[2*i+1])
		}
		t.levels = append(t.levels, next)
		row = next
	}
	s.nodes.put(k, t)
	return t, nil
}

// node returns tree node id of the tree of the given size.
func (s *Service) node(ctx context.Context, size uint64, id compact.NodeID) ([]byte, error) {
	tl, ti, nl, ni := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
	t, err := s.hashedTile(ctx, tl, ti, layout.PartialTileSize(tl, ti, size))
	if err != nil {
		return nil, err
	}
	if int(nl) >= len(t.levels) || ni >= uint64(len(t.levels[nl])) {
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of size %d", id.Level, id.Index, size)
	}
	return t.levels[nl][ni], nil
}

// fetchNodes returns a proof's hashes in the tree of the given size: from
// Tessera's tiles, and for a journaled log from the tail beyond them.
func (s *Service) fetchNodes(ctx context.Context, size uint64, nodes proof.Nodes) ([][]byte, error) {
	v := view{base: size, size: size} // Tessera's tree alone
	if s.tail != nil {
		v = s.tail.view()
	}
	return v.proofNodes(size, nodes, s.tiled(ctx, v))
}

// tiled reads the nodes below v's base from Tessera's tiles.
func (s *Service) tiled(ctx context.Context, v view) func(compact.NodeID) ([]byte, error) {
	return func(id compact.NodeID) ([]byte, error) { return s.node(ctx, v.base, id) }
}

// inclusionProof proves leaf index in the tree of the given size.
func (s *Service) inclusionProof(ctx context.Context, size, index uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for %d in tree %d: %w", index, size, err)
	}
	return s.fetchNodes(ctx, size, nodes)
}

// consistencyProof proves the tree of size smaller is a prefix of larger.
func (s *Service) consistencyProof(ctx context.Context, smaller, larger uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(smaller, larger)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d to %d: %w", smaller, larger, err)
	}
	return s.fetchNodes(ctx, larger, nodes)
}
