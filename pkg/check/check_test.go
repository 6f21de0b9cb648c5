package check_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hallmark.dev/hallmark/internal/hallmarktest"
	"hallmark.dev/hallmark/pkg/check"
	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/sign"
	"hallmark.dev/hallmark/pkg/verify"
)

type fixture struct {
	host   string
	client *oci.Client
	image  name.Digest
	v      *verify.Verifier
}

// signed pushes an image to a fresh registry and signs it in both formats.
func signed(t *testing.T) *fixture {
	t.Helper()
	reg := hallmarktest.EmbeddedRegistry(t, "")
	d := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := sign.New(k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := oci.New()
	_, desc, err := c.Resolve(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []verify.Format{verify.FormatBundle, verify.FormatLegacy} {
		if _, err := s.SignImage(t.Context(), c, d, desc, f, nil); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := verify.NewKeyVerifier(k.Public(), verify.WithoutTlogUnsafe())
	return &fixture{host: reg.Host, client: c, image: d, v: v}
}

// pushBlob uploads data and returns its descriptor.
func pushBlob(t *testing.T, repo name.Repository, data []byte, mt string) v1.Descriptor {
	t.Helper()
	l := static.NewLayer(data, types.MediaType(mt))
	if err := remote.WriteLayer(repo, l); err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	return v1.Descriptor{MediaType: types.MediaType(mt), Digest: d, Size: int64(len(data))}
}

// pushManifest puts raw manifest JSON under ref (a tag or its digest).
func pushManifest(t *testing.T, repo name.Repository, m v1.Manifest, tag string) {
	t.Helper()
	raw, _ := json.Marshal(m)
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	var ref name.Reference = repo.Digest(h.String())
	if tag != "" {
		ref = repo.Tag(tag)
	}
	if err := remote.Put(ref, rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// referrer is a bundle referrer manifest of subject naming layer.
func referrer(t *testing.T, f *fixture, layer v1.Descriptor, note string) v1.Manifest {
	repo := f.image.Context()
	cfg := pushBlob(t, repo, []byte("{}"), cosign.EmptyMediaType)
	return v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: cosign.BundleMediaType,
		Config: cfg, Layers: []v1.Descriptor{layer},
		Subject:     &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mustHash(t, f.image.DigestStr()), Size: 1},
		Annotations: map[string]string{"note": note},
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestJunkCandidatesDoNotBlockAGoodSignature: a referrer whose bundle
// declares 5 MB, one whose blob is missing and a .sig layer whose blob is
// missing are three failed candidates; the good signatures still verify.
func TestJunkCandidatesDoNotBlockAGoodSignature(t *testing.T) {
	f := signed(t)
	repo := f.image.Context()
	small := pushBlob(t, repo, []byte(`{"mediaType":"junk"}`), cosign.BundleMediaType)
	huge := small
	huge.Size = 5 << 20
	missing := v1.Descriptor{MediaType: cosign.BundleMediaType, Digest: mustHash(t, "sha256:"+strings.Repeat("ab", 32)), Size: 100}
	pushManifest(t, repo, referrer(t, f, huge, "declares 5 MB"), "")
	pushManifest(t, repo, referrer(t, f, missing, "blob missing"), "")
	// A .sig layer naming a missing blob, appended beside the good one.
	tag := f.client.LegacyTag(f.image)
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	m.Layers = append(m.Layers, v1.Descriptor{MediaType: cosign.SimpleSigningMediaType, Digest: missing.Digest, Size: 100,
		Annotations: map[string]string{cosign.SignatureAnnotation: "AAAA"}})
	pushManifest(t, repo, *m, tag.TagStr())

	rep, err := check.Signatures(t.Context(), f.client, f.v, f.image, verify.Policy{}, check.Options{})
	if err != nil {
		t.Fatalf("junk blocked the good signatures: %v", err)
	}
	if len(rep.Results) != 2 || len(rep.Failures) != 3 {
		t.Fatalf("want 2 verified and 3 failed candidates, got %d and %v", len(rep.Results), rep.Failures)
	}
	for _, fl := range rep.Failures {
		if fl.Where == "" || fl.Err == nil {
			t.Errorf("failure without its candidate or reason: %+v", fl)
		}
	}
}

// TestRepeatedBlobsAreFetchedOnce: a .sig image of 1,000 layers naming one
// 4 MiB blob and 255 referrers naming another are read within the budget,
// each blob fetched once, and the good signature still verifies.
func TestRepeatedBlobsAreFetchedOnce(t *testing.T) {
	f := signed(t)
	repo := f.image.Context()
	big := func(b byte) []byte { return bytes.Repeat([]byte{b}, cosign.MaxPayloadSize) }
	sigBlob := pushBlob(t, repo, big('s'), cosign.SimpleSigningMediaType)
	refBlob := pushBlob(t, repo, big('r'), cosign.BundleMediaType)
	tag := f.client.LegacyTag(f.image)
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	for i := range 1000 {
		l := sigBlob
		l.Annotations = map[string]string{cosign.SignatureAnnotation: fmt.Sprintf("MEUCIQ%04d", i)}
		m.Layers = append(m.Layers, l)
	}
	pushManifest(t, repo, *m, tag.TagStr())
	for i := range 255 {
		pushManifest(t, repo, referrer(t, f, refBlob, fmt.Sprint(i)), "")
	}
	host, count := hallmarktest.CountingProxy(t, f.host)
	c, _ := oci.New()
	image := moved(t, f.image, host)
	rep, err := check.Signatures(t.Context(), c, f.v, image, verify.Policy{}, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) < 1 {
		t.Fatalf("the good signature did not verify: %v", rep.Failures)
	}
	for what, d := range map[string]v1.Hash{"signature layer blob": sigBlob.Digest, "referrer blob": refBlob.Digest} {
		if n := count.Requests("GET /v2/app/blobs/" + d.String()); n != 1 {
			t.Errorf("%s fetched %d times, want once", what, n)
		}
	}
	if got := count.Bytes(); got > 12<<20 {
		t.Errorf("read %d bytes from the registry; two 4 MiB blobs and manifests should be about 9 MiB", got)
	}
}

// TestReadBudget: past the budget, reads fail as candidates; they do not
// grow without end.
func TestReadBudget(t *testing.T) {
	f := signed(t)
	repo := f.image.Context()
	for i := range 8 {
		b := pushBlob(t, repo, bytes.Repeat([]byte{byte('a' + i)}, 1<<20), cosign.BundleMediaType)
		pushManifest(t, repo, referrer(t, f, b, fmt.Sprint(i)), "")
	}
	rep, err := check.Signatures(t.Context(), f.client, f.v, f.image, verify.Policy{}, check.Options{ReadBudget: 2 << 20, MaxWorkers: 1})
	var failures []check.Failure
	var none *check.NoneVerifiedError
	switch {
	case errors.As(err, &none):
		failures = none.Failures
	case err == nil:
		failures = rep.Failures
	default:
		t.Fatal(err)
	}
	over := 0
	for _, fl := range failures {
		if errors.Is(fl.Err, oci.ErrBudget) {
			over++
		}
	}
	if over == 0 {
		t.Fatalf("8 MiB of referrers read within a 2 MiB budget: %v", failures)
	}
}

// TestSlowRegistryGivesUpAtTheDeadline: a registry that sends headers and
// then a byte every few seconds cannot hold a verification past its
// context's deadline.
func TestSlowRegistryGivesUpAtTheDeadline(t *testing.T) {
	f := signed(t)
	host := hallmarktest.DripRegistry(t, f.host, "/manifests/sha256-", 2*time.Second)
	c, _ := oci.New()
	image := moved(t, f.image, host)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := check.Signatures(ctx, c, f.v, image, verify.Policy{}, check.Options{})
	if err == nil {
		t.Fatal("verified through a registry that never finished answering")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s, past the 1 s deadline", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error does not say the deadline passed: %v", err)
	}
}

// TestOutcomes: no such image, no signatures, none verified, and a
// registry failure are told apart.
func TestOutcomes(t *testing.T) {
	f := signed(t)
	unsigned := hallmarktest.PushImage(t, f.host, "other:v1", "other")
	if _, err := check.Signatures(t.Context(), f.client, f.v, unsigned, verify.Policy{}, check.Options{}); !isType[*check.NoSignaturesError](err) {
		t.Errorf("unsigned image: %v", err)
	}
	missing, _ := name.ParseReference(f.host + "/app:nope")
	if _, err := check.Signatures(t.Context(), f.client, f.v, missing, verify.Policy{}, check.Options{}); !errors.Is(err, check.ErrNoSuchImage) {
		t.Errorf("missing tag: %v", err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrong, _ := verify.NewKeyVerifier(k.Public(), verify.WithoutTlogUnsafe())
	_, err := check.Signatures(t.Context(), f.client, wrong, f.image, verify.Policy{}, check.Options{})
	var none *check.NoneVerifiedError
	if !errors.As(err, &none) || none.Found != 2 || len(none.Failures) != 2 {
		t.Errorf("wrong key: %v", err)
	}
	// The tag resolves; every lookup by digest (referrers, .sig) is throttled.
	throttled := hallmarktest.FailingProxy(t, f.host, "sha256", 429)
	image, _ := name.ParseReference(throttled + "/app:v1")
	var rerr *oci.RegistryError
	if _, err := check.Signatures(t.Context(), f.client, f.v, image, verify.Policy{}, check.Options{}); !errors.As(err, &rerr) || rerr.Status != 429 {
		t.Errorf("throttled signature lookups reported as %v", err)
	}
}

func isType[T error](err error) bool {
	var x T
	return errors.As(err, &x)
}

// moved is ref served through another host (a proxy in front of the registry).
func moved(t *testing.T, ref name.Digest, host string) name.Reference {
	r, err := name.ParseReference(strings.Replace(ref.String(), ref.RegistryStr(), host, 1))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReadBudgetEdges: one response larger than the whole budget is cut
// off, and once the budget is spent no further request goes out (a HEAD
// reads no body, so only the refusal before sending catches it).
func TestReadBudgetEdges(t *testing.T) {
	reg := hallmarktest.EmbeddedRegistry(t, "")
	image := hallmarktest.PushImage(t, reg.Host, "app:v1", "app")
	repo := image.Context()
	big := pushBlob(t, repo, bytes.Repeat([]byte{'x'}, 64<<10), "application/octet-stream")
	c, _ := oci.New()
	budgeted := c.WithReadBudget(1 << 10)
	if _, err := budgeted.NewBlobCache().Blob(t.Context(), repo, big); !errors.Is(err, oci.ErrBudget) {
		t.Fatalf("a 64 KiB blob read within a 1 KiB budget: %v", err)
	}
	if _, _, err := budgeted.Resolve(t.Context(), image); !errors.Is(err, oci.ErrBudget) {
		t.Fatalf("a request made after the budget was spent: %v", err)
	}
}
