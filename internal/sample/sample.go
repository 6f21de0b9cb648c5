// Package sample builds small images for the quickstart, tests and
// benchmarks, and stages signature tampering for them.
package sample

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image returns a one-layer OCI image whose layer holds /hello.txt = text.
func Image(text string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	return mutate.AppendLayers(base, static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer))
}

// CopyLegacySignature copies the cosign .sig image of from onto the .sig tag
// of to: a valid signature replayed onto another image.
func CopyLegacySignature(ctx context.Context, from, to string) error {
	fromSig, err := sigTag(ctx, from)
	if err != nil {
		return err
	}
	toSig, err := sigTag(ctx, to)
	if err != nil {
		return err
	}
	img, err := remote.Image(fromSig, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("reading %s: %w", fromSig, err)
	}
	return remote.Write(toSig, img, remote.WithContext(ctx))
}

func sigTag(ctx context.Context, image string) (name.Tag, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return name.Tag{}, err
	}
	desc, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		return name.Tag{}, fmt.Errorf("resolving %s: %w", image, err)
	}
	return ref.Context().Tag(strings.Replace(desc.Digest.String(), ":", "-", 1) + ".sig"), nil
}
