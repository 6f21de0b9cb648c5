package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hallmark.dev/hallmark/pkg/cosign"
)

// maxReferrers caps how many bundle referrers are read for one image.
const maxReferrers = 256

// StoredBundle is a bundle found as a referrer of an image.
type StoredBundle struct {
	Bytes         []byte
	PredicateType string  // the manifest's dev.sigstore.bundle.predicateType
	Manifest      v1.Hash // the referrer manifest's digest
}

// BundleReferrers lists the referrers of d that may hold a Sigstore bundle,
// through the referrers API or the sha256-<hex> referrers tag: at most
// maxReferrers of them, and how many more there were. Each is read with
// ReadBundle.
func (c *Client) BundleReferrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, int, error) {
	repo := c.SignatureRepository(d)
	subject := repo.Digest(d.DigestStr())
	// No artifactType filter: registries that apply it wrongly (reporting the
	// config media type instead of the manifest's artifactType) would hide
	// bundles. Candidates are told apart below, and by their manifests.
	idx, err := remote.Referrers(subject, c.remoteOpts(ctx)...)
	if err != nil {
		return nil, 0, classify(repo.RegistryStr(), "listing referrers of "+d.String(), err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, classify(repo.RegistryStr(), "listing referrers of "+d.String(), err)
	}
	var out []v1.Descriptor
	for _, desc := range im.Manifests {
		if maybeBundle(desc) {
			out = append(out, desc)
		}
	}
	if len(out) > maxReferrers {
		return out[:maxReferrers], len(out) - maxReferrers, nil
	}
	return out, 0, nil
}

// Bundles returns every Sigstore bundle stored as a referrer of d.
// Verification streams instead (BundleReferrers and ReadBundle); this is for
// tools and tests.
func (c *Client) Bundles(ctx context.Context, d name.Digest) ([]StoredBundle, error) {
	descs, _, err := c.BundleReferrers(ctx, d)
	if err != nil {
		return nil, err
	}
	bc := c.NewBlobCache()
	var out []StoredBundle
	for _, desc := range descs {
		sb, err := c.ReadBundle(ctx, d, desc, bc)
		if err != nil {
			return nil, err
		}
		if sb != nil {
			out = append(out, *sb)
		}
	}
	return out, nil
}

// maybeBundle tells which referrers may hold a bundle: those typed as one,
// and those typed by an empty config (a registry that ignores artifactType).
func maybeBundle(d v1.Descriptor) bool {
	switch d.ArtifactType {
	case cosign.BundleMediaType, cosign.EmptyMediaType, "":
		return true
	}
	return strings.HasPrefix(d.ArtifactType, "application/vnd.dev.sigstore.bundle")
}

// ReadBundle reads the referrer manifest desc of d and its bundle layer
// (through bc, which fetches each blob once). It returns nil when the
// manifest is not a Sigstore bundle referrer.
func (c *Client) ReadBundle(ctx context.Context, d name.Digest, desc v1.Descriptor, bc *BlobCache) (*StoredBundle, error) {
	repo := c.SignatureRepository(d)
	ref := repo.Digest(desc.Digest.String())
	got, err := remote.Get(ref, c.remoteOpts(ctx)...)
	if err != nil {
		return nil, classify(repo.RegistryStr(), "reading referrer "+desc.Digest.String(), err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil || !strings.HasPrefix(m.ArtifactType, "application/vnd.dev.sigstore.bundle") {
		return nil, nil // not a bundle referrer: not ours to read
	}
	for _, l := range m.Layers {
		if string(l.MediaType) != cosign.BundleMediaType {
			continue
		}
		b, err := bc.Blob(ctx, repo, l)
		if err != nil {
			return nil, err
		}
		return &StoredBundle{Bytes: b, PredicateType: m.Annotations[cosign.BundlePredicateTypeAnnotation], Manifest: desc.Digest}, nil
	}
	return nil, nil
}

// WriteBundle stores bundle as an OCI 1.1 referrer of the image subject
// (whose descriptor is desc), as cosign v3 does. On a registry without the
// referrers API the sha256-<hex> referrers tag index is updated instead.
func (c *Client) WriteBundle(ctx context.Context, subject name.Digest, desc *v1.Descriptor, bundle []byte, predicateType string) (v1.Hash, error) {
	repo := c.SignatureRepository(subject)
	opts := c.remoteOpts(ctx)
	emptyCfg := static.NewLayer([]byte("{}"), cosign.EmptyMediaType)
	layer := static.NewLayer(bundle, cosign.BundleMediaType)
	for _, l := range []v1.Layer{emptyCfg, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return v1.Hash{}, classify(repo.RegistryStr(), "uploading bundle blob", err)
		}
	}
	cfgDigest, _ := emptyCfg.Digest()
	layerDigest, _ := layer.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  cosign.BundleMediaType,
		Config:        v1.Descriptor{MediaType: cosign.EmptyMediaType, Digest: cfgDigest, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: cosign.BundleMediaType, Digest: layerDigest, Size: int64(len(bundle))}},
		Subject:       &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
		Annotations: map[string]string{
			cosign.CreatedAnnotation:             time.Now().UTC().Format(time.RFC3339),
			cosign.BundleContentAnnotation:       bundleContent(bundle),
			cosign.BundlePredicateTypeAnnotation: predicateType,
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw, types.OCIManifestSchema1}, opts...); err != nil {
		return v1.Hash{}, classify(repo.RegistryStr(), "writing bundle referrer", err)
	}
	return h, nil
}

func bundleContent(b []byte) string {
	if bytes.Contains(b, []byte(`"dsseEnvelope"`)) {
		return "dsse-envelope"
	}
	return "message-signature"
}

// rawManifest is a remote.Taggable over exact manifest bytes.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }
