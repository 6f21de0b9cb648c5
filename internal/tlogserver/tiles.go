package tlogserver

import (
	"context"
	"fmt"

	"github.com/transparency-dev/tessera/api/layout"
)

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
