package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// SBOMTag is the tag cosign v2 attached SBOMs of d under: sha256-<hex>.sbom.
func (c *Client) SBOMTag(d name.Digest) name.Tag {
	return c.SignatureRepository(d).Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sbom")
}

// TagLayers returns every layer of the image at tag (nil when there is no
// such tag), for listings.
func (c *Client) TagLayers(ctx context.Context, tag name.Tag) ([]v1.Descriptor, error) {
	desc, err := remote.Get(tag, c.remoteOpts(ctx)...)
	if err != nil {
		if err = classify(tag.RegistryStr(), "reading "+tag.String(), err); IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%s is not an image manifest: %w", tag, err)
	}
	return m.Layers, nil
}

// Referrer is one referrer of an image with its manifest read.
type Referrer struct {
	Digest       v1.Hash
	ArtifactType string
	Annotations  map[string]string
	Layers       []v1.Descriptor
}

// Referrers lists every referrer of d (at most maxReferrers) with its
// manifest's artifact type, annotations and layers.
func (c *Client) Referrers(ctx context.Context, d name.Digest) ([]Referrer, error) {
	repo := c.SignatureRepository(d)
	idx, err := remote.Referrers(repo.Digest(d.DigestStr()), c.remoteOpts(ctx)...)
	if err != nil {
		return nil, classify(repo.RegistryStr(), "listing referrers of "+d.String(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, classify(repo.RegistryStr(), "listing referrers of "+d.String(), err)
	}
	var out []Referrer
	for i, desc := range im.Manifests {
		if i == maxReferrers {
			break
		}
		got, err := remote.Get(repo.Digest(desc.Digest.String()), c.remoteOpts(ctx)...)
		if err != nil {
			return nil, classify(repo.RegistryStr(), "reading referrer "+desc.Digest.String(), err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(got.Manifest, &m); err != nil {
			return nil, fmt.Errorf("referrer %s is not an image manifest: %w", desc.Digest, err)
		}
		at := m.ArtifactType
		if at == "" {
			at = desc.ArtifactType
		}
		out = append(out, Referrer{Digest: desc.Digest, ArtifactType: at, Annotations: m.Annotations, Layers: m.Layers})
	}
	return out, nil
}
