package oci_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
)

// TestBlobCacheKeysOnDeclaredSize: a descriptor that lies about a blob's
// size fails alone; it does not poison the same blob named truthfully.
func TestBlobCacheKeysOnDeclaredSize(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "cache:v1", "cache")
	l := static.NewLayer([]byte("payload"), types.MediaType(cosign.SimpleSigningMediaType))
	if err := remote.WriteLayer(d.Context(), l); err != nil {
		t.Fatal(err)
	}
	desc, err := partialDescriptor(l)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := oci.New()
	bc := c.NewBlobCache()
	lying := desc
	lying.Size = cosign.MaxBlobSize + 1
	if _, err := bc.Blob(t.Context(), d.Context(), lying); err == nil {
		t.Fatal("a blob declared over the size limit was read")
	}
	if got, err := bc.Blob(t.Context(), d.Context(), desc); err != nil || string(got) != "payload" {
		t.Fatalf("the same blob, truthfully described: %q %v", got, err)
	}
}

func partialDescriptor(l interface {
	Digest() (v1.Hash, error)
	Size() (int64, error)
	MediaType() (types.MediaType, error)
}) (v1.Descriptor, error) {
	h, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, _ := l.Size()
	mt, _ := l.MediaType()
	return v1.Descriptor{Digest: h, Size: n, MediaType: mt}, nil
}
