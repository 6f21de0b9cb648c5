package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hallmark.dev/hallmark/pkg/cosign"
)

// maxLegacyLayers caps how many signatures one .sig image may carry.
const maxLegacyLayers = 1000

// LegacySignature is one layer of a cosign .sig image: the payload and its
// layer annotations (signature, certificate, chain, bundle).
type LegacySignature struct {
	Payload     []byte
	Annotations map[string]string
	Layer       v1.Hash
}

// LegacyTag is the tag cosign ≤ v2 stores signatures of d under:
// sha256-<hex>.sig in the signature repository.
func (c *Client) LegacyTag(d name.Digest) name.Tag {
	return c.SignatureRepository(d).Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
}

// LegacyLayers reads the manifest of d's .sig image and returns its
// signature layers (simple-signing payload descriptors with their
// annotations), at most maxLegacyLayers of them, and how many more there
// were. No such tag means no signatures (nil, 0, nil); a registry failure
// is a *RegistryError.
func (c *Client) LegacyLayers(ctx context.Context, d name.Digest) ([]v1.Descriptor, int, error) {
	return c.legacyLayers(ctx, c.LegacyTag(d), cosign.SimpleSigningMediaType)
}

// AttestationTag is the tag cosign stores legacy attestations of d under:
// sha256-<hex>.att in the signature repository.
func (c *Client) AttestationTag(d name.Digest) name.Tag {
	return c.SignatureRepository(d).Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".att")
}

// AttestationLayers is LegacyLayers for d's .att image: its DSSE envelope
// layers with their annotations (predicateType, certificate, bundle).
func (c *Client) AttestationLayers(ctx context.Context, d name.Digest) ([]v1.Descriptor, int, error) {
	return c.legacyLayers(ctx, c.AttestationTag(d), cosign.DSSELayerMediaType)
}

func (c *Client) legacyLayers(ctx context.Context, tag name.Tag, mediaType string) ([]v1.Descriptor, int, error) {
	desc, err := remote.Get(tag, c.remoteOpts(ctx)...)
	if err != nil {
		if err = classify(tag.RegistryStr(), "reading "+tag.String(), err); IsNotFound(err) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, 0, fmt.Errorf("%s is not an image manifest: %w", tag, err)
	}
	var out []v1.Descriptor
	for _, l := range m.Layers {
		if string(l.MediaType) == mediaType {
			out = append(out, l)
		}
	}
	if len(out) > maxLegacyLayers {
		return out[:maxLegacyLayers], len(out) - maxLegacyLayers, nil
	}
	return out, 0, nil
}

// LegacySignatures reads every signature of d's .sig image, payloads and
// all. Verification streams instead (LegacyLayers and a BlobCache); this is
// for tools and tests.
func (c *Client) LegacySignatures(ctx context.Context, d name.Digest) ([]LegacySignature, error) {
	layers, _, err := c.LegacyLayers(ctx, d)
	if err != nil {
		return nil, err
	}
	repo := c.LegacyTag(d).Context()
	var out []LegacySignature
	for _, l := range layers {
		payload, err := c.readBlob(ctx, repo, l)
		if err != nil {
			return nil, err
		}
		out = append(out, LegacySignature{Payload: payload, Annotations: l.Annotations, Layer: l.Digest})
	}
	return out, nil
}

// readBlob fetches a blob named by a descriptor, refusing oversized ones and
// checking the digest.
func (c *Client) readBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor) ([]byte, error) {
	if desc.Size > cosign.MaxBlobSize {
		return nil, fmt.Errorf("blob %s is %d bytes, over the %d byte limit", desc.Digest, desc.Size, cosign.MaxBlobSize)
	}
	l, err := remote.Layer(repo.Digest(desc.Digest.String()), c.remoteOpts(ctx)...)
	if err != nil {
		return nil, classify(repo.RegistryStr(), "reading blob "+desc.Digest.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, classify(repo.RegistryStr(), "reading blob "+desc.Digest.String(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, cosign.MaxBlobSize+1))
	if err != nil {
		// ggcr checks the digest as the stream ends and reports a mismatch here.
		return nil, classify(repo.RegistryStr(), "reading blob "+desc.Digest.String(), err)
	}
	if int64(len(b)) > cosign.MaxBlobSize {
		return nil, fmt.Errorf("blob %s is over the %d byte limit", desc.Digest, cosign.MaxBlobSize)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	if h != desc.Digest {
		return nil, fmt.Errorf("blob %s has digest %s: registry returned wrong content", desc.Digest, h)
	}
	return b, nil
}

// AppendLegacySignature adds one signature layer to the .sig image of d,
// keeping every signature already there; an identical layer (same payload
// and annotations) is not added twice.
//
// The .sig image is read, extended and written back, so two signers at once
// can overwrite each other (cosign loses signatures that way). After writing,
// the tag is read back, and again after a settling pause long enough for a
// writer that read the tag before ours to have written it: if another
// writer's manifest replaced ours, the append is done again on top of it, a
// bounded number of times, and an error says the signature was lost rather
// than reporting it stored. (A registry offers no compare-and-swap, so a
// writer slower than the pause between its read and its write can still
// drop ours; the bundle format has no such race.)
func (c *Client) AppendLegacySignature(ctx context.Context, d name.Digest, payload []byte, annotations map[string]string) error {
	return c.appendLegacy(ctx, c.LegacyTag(d), static.NewLayer(payload, types.MediaType(cosign.SimpleSigningMediaType)), annotations, nil)
}

// AppendAttestation adds one DSSE envelope layer to the .att image of d,
// as AppendLegacySignature does for signatures. With replace, layers of the
// new layer's predicate type are dropped first, and the new layer goes
// first (as cosign's --replace): the type is the layer's predicateType
// annotation or, for a layer without one, its statement's (as cosign reads
// it); a layer that cannot be read is kept.
func (c *Client) AppendAttestation(ctx context.Context, d name.Digest, envelope []byte, annotations map[string]string, replace bool) error {
	var drop func(v1.Descriptor) bool
	if replace {
		pt := annotations[cosign.PredicateTypeAnnotation]
		repo := c.AttestationTag(d).Context()
		drop = func(l v1.Descriptor) bool {
			if t, ok := l.Annotations[cosign.PredicateTypeAnnotation]; ok {
				return t == pt
			}
			return c.statementType(ctx, repo, l) == pt
		}
	}
	return c.appendLegacy(ctx, c.AttestationTag(d), static.NewLayer(envelope, types.MediaType(cosign.DSSELayerMediaType)), annotations, drop)
}

// statementType is the predicate type of the statement in a DSSE envelope
// layer, or "" when it cannot be read.
func (c *Client) statementType(ctx context.Context, repo name.Repository, l v1.Descriptor) string {
	b, err := c.readBlob(ctx, repo, l)
	if err != nil {
		return ""
	}
	env, err := cosign.ParseEnvelope(b)
	if err != nil {
		return ""
	}
	st, err := cosign.ParseAttestationStatement(env.Payload)
	if err != nil {
		return ""
	}
	return st.PredicateType
}

func (c *Client) appendLegacy(ctx context.Context, tag name.Tag, layer v1.Layer, annotations map[string]string, drop func(v1.Descriptor) bool) error {
	ld, err := layer.Digest()
	if err != nil {
		return err
	}
	const attempts = 10
	for i := range attempts {
		present, err := c.appendLegacyOnce(ctx, tag, layer, ld, annotations, drop)
		if err != nil {
			return err
		}
		if present {
			if err := sleep(ctx, legacySettle); err != nil {
				return err
			}
			if present, err = c.legacyHas(ctx, tag, ld, annotations); err != nil || present {
				return err
			}
		}
		// Someone else's write won: back off a little, at random, and
		// append to what is there now.
		if err := sleep(ctx, time.Duration(5+rand.IntN(20*(i+1)))*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("signature not stored: %s kept being rewritten by concurrent signers (%d attempts); sign again", tag, attempts)
}

// appendLegacyOnce appends the layer unless it is there already, writes the
// tag, and reports whether the tag now holds the layer.
func (c *Client) appendLegacyOnce(ctx context.Context, tag name.Tag, layer v1.Layer, ld v1.Hash, annotations map[string]string, drop func(v1.Descriptor) bool) (bool, error) {
	blank := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err := remote.Image(tag, c.remoteOpts(ctx)...)
	if err != nil {
		if err = classify(tag.RegistryStr(), "reading "+tag.String(), err); !IsNotFound(err) {
			return false, err
		}
		base = blank
	}
	m, err := base.Manifest()
	if err != nil {
		return false, classify(tag.RegistryStr(), "reading "+tag.String(), err)
	}
	var img v1.Image
	if drop != nil {
		// Rebuilt from empty: the new layer first, then those kept.
		adds := []mutate.Addendum{{Layer: layer, Annotations: annotations}}
		layers, err := base.Layers()
		if err != nil {
			return false, classify(tag.RegistryStr(), "reading "+tag.String(), err)
		}
		for i, l := range m.Layers {
			if drop(l) || (l.Digest == ld && equalAnnotations(l.Annotations, annotations)) {
				continue
			}
			adds = append(adds, mutate.Addendum{Layer: layers[i], Annotations: l.Annotations})
		}
		if img, err = mutate.Append(blank, adds...); err != nil {
			return false, err
		}
	} else {
		if hasLayer(m, ld, annotations) {
			return true, nil
		}
		if img, err = mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: annotations}); err != nil {
			return false, err
		}
	}
	if err := remote.Write(tag, img, c.remoteOpts(ctx)...); err != nil {
		return false, classify(tag.RegistryStr(), "writing "+tag.String(), err)
	}
	return c.legacyHas(ctx, tag, ld, annotations)
}

// legacySettle is how long a written .sig tag must keep our layer before
// the signature counts as stored.
const legacySettle = 250 * time.Millisecond

// legacyHas reads the tag and reports whether it holds the layer.
func (c *Client) legacyHas(ctx context.Context, tag name.Tag, ld v1.Hash, annotations map[string]string) (bool, error) {
	got, err := remote.Get(tag, c.remoteOpts(ctx)...)
	if err != nil {
		return false, classify(tag.RegistryStr(), "reading back "+tag.String(), err)
	}
	var back v1.Manifest
	if err := json.Unmarshal(got.Manifest, &back); err != nil {
		return false, fmt.Errorf("reading back %s: %w", tag, err)
	}
	return hasLayer(&back, ld, annotations), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func hasLayer(m *v1.Manifest, ld v1.Hash, annotations map[string]string) bool {
	for _, l := range m.Layers {
		if l.Digest == ld && equalAnnotations(l.Annotations, annotations) {
			return true
		}
	}
	return false
}

func equalAnnotations(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
