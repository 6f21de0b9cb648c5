package log

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/tessera/api/layout"
)

// tileCache holds hash tiles by (level, index, width). A tile of a given
// width never changes, so cached tiles are never stale; the cache is only
// bounded in size.
type tileCache struct {
	mu    sync.RWMutex
	tiles map[tileKey][]byte
}

type tileKey struct {
	level, index uint64
	p            uint8
}

const maxCachedTiles = 8192 // 8 KiB each at most: 64 MiB

func (c *tileCache) get(k tileKey) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.tiles[k]
	return b, ok
}

func (c *tileCache) put(k tileKey, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tiles == nil || len(c.tiles) >= maxCachedTiles {
		c.tiles = make(map[tileKey][]byte, 1024)
	}
	c.tiles[k] = b
}

// cachedTile is readTile through the tile cache. A round's entries are
// acknowledged at once and all need the round's new edge tiles: one of them
// reads each tile while the others wait for it (with MySQL storage, one
// query instead of one per entry).
func (s *Service) cachedTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	k := tileKey{level, index, p}
	if b, ok := s.tiles.get(k); ok {
		return b, nil
	}
	v, err, _ := s.tileReads.Do(fmt.Sprint(level, "/", index, "/", p), func() (any, error) {
		// Not bound to one waiter's request: the others share the answer.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		b, err := s.readTile(rctx, level, index, p)
		if err == nil {
			s.tiles.put(k, b)
		}
		return b, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// readTile reads hash tile (level, index) with partial width p, for any tree
// size the log has had. Tessera garbage-collects partial tiles once a wider
// one exists; a tile is a prefix of every wider tile at its position, so an
// older width is cut from the current one.
func (s *Service) readTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := s.reader.ReadTile(ctx, level, index, p)
	if err == nil || p == 0 {
		return b, err
	}
	size, serr := s.reader.IntegratedSize(ctx)
	if serr != nil {
		return nil, err
	}
	nodes := size >> (8 * level) // nodes on this tile level in the current tree
	if nodes <= index*layout.TileWidth {
		return nil, err
	}
	width := nodes - index*layout.TileWidth
	cur := uint8(0)
	if width < layout.TileWidth {
		cur = uint8(width)
	}
	if cur != 0 && cur < p {
		return nil, err
	}
	wide, werr := s.reader.ReadTile(ctx, level, index, cur)
	if werr != nil {
		return nil, fmt.Errorf("tile %d/%d: %w", level, index, werr)
	}
	if len(wide) < int(p)*32 {
		return nil, fmt.Errorf("tile %d/%d is %d bytes, shorter than width %d", level, index, len(wide), p)
	}
	return wide[:int(p)*32], nil
}
