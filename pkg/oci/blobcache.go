package oci

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobCache fetches each blob once per verification: a signature image
// whose layers all name one digest, or referrers sharing a blob, cost one
// download. It holds at most what the client's read budget lets through.
type BlobCache struct {
	c  *Client
	mu sync.Mutex
	m  map[blobKey]*cachedBlob
}

// blobKey includes the declared size: a descriptor that lies about a blob's
// size must not poison the answer for one that does not.
type blobKey struct {
	digest v1.Hash
	size   int64
}

type cachedBlob struct {
	once sync.Once
	data []byte
	err  error
}

// NewBlobCache returns an empty cache reading through c.
func (c *Client) NewBlobCache() *BlobCache {
	return &BlobCache{c: c, m: map[blobKey]*cachedBlob{}}
}

// Blob returns the blob desc names in repo, fetching it at most once.
func (bc *BlobCache) Blob(ctx context.Context, repo name.Repository, desc v1.Descriptor) ([]byte, error) {
	bc.mu.Lock()
	k := blobKey{desc.Digest, desc.Size}
	e, ok := bc.m[k]
	if !ok {
		e = &cachedBlob{}
		bc.m[k] = e
	}
	bc.mu.Unlock()
	e.once.Do(func() { e.data, e.err = bc.c.readBlob(ctx, repo, desc) })
	return e.data, e.err
}
