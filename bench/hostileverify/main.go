// Command hostileverify measures `verify` against a hostile image: a .sig
// image of 1,000 layers all naming one 4 MiB blob, and 255 bundle referrers
// naming another 4 MiB blob, beside one good signature. Hallmark and cosign
// run as whole processes, alternating; it prints median wall time and peak
// RSS (before this flow was bounded, Hallmark reached 6.6 GB here).
//
//	go run ./bench/hostileverify [-n 5] [-cosign PATH]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hallmark.dev/hallmark/bench/internal/proc"
	"hallmark.dev/hallmark/pkg/cosign"
)

func main() {
	n := flag.Int("n", 5, "verifications per tool")
	cosignPath := proc.CosignFlag()
	flag.Parse()
	if err := run(*n, *cosignPath); err != nil {
		log.Fatal(err)
	}
}

func run(n int, cosignPath string) error {
	dir, hm, cleanup, err := proc.Setup(cosignPath)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host, err := proc.Registry(ctx, dir)
	if err != nil {
		return err
	}
	ref := host + "/bench/hostile:v1"
	if err := proc.PushSample(ref, "hostile"); err != nil {
		return err
	}
	env := proc.Env(dir)
	for _, args := range [][]string{{"generate-key-pair"}, {"sign", "--key", "cosign.key", ref}, {"sign", "--key", "cosign.key", "--new-bundle-format=false", ref}} {
		if _, err := proc.Run(dir, env, hm, args...); err != nil {
			return err
		}
	}
	if err := poison(ref); err != nil {
		return err
	}
	root, err := proc.OfflineTrustedRoot(dir)
	if err != nil {
		return err
	}
	args := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", root, ref}
	return proc.Compare("verify of an image with 1,000 .sig layers and 255 referrers naming 4 MiB blobs", n, dir, env,
		append([]string{hm}, args...), append([]string{cosignPath}, args...))
}

// poison adds the hostile candidates beside the good signatures.
func poison(ref string) error {
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r)
	if err != nil {
		return err
	}
	repo := r.Context()
	push := func(data []byte, mt string) (v1.Descriptor, error) {
		l := static.NewLayer(data, types.MediaType(mt))
		if err := remote.WriteLayer(repo, l); err != nil {
			return v1.Descriptor{}, err
		}
		h, _ := l.Digest()
		return v1.Descriptor{MediaType: types.MediaType(mt), Digest: h, Size: int64(len(data))}, nil
	}
	put := func(m v1.Manifest, tag string) error {
		raw, _ := json.Marshal(m)
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		var at name.Reference = repo.Digest(h.String())
		if tag != "" {
			at = repo.Tag(tag)
		}
		return remote.Put(at, raw2(raw))
	}
	sigBlob, err := push(bytes.Repeat([]byte{'s'}, cosign.MaxPayloadSize), cosign.SimpleSigningMediaType)
	if err != nil {
		return err
	}
	refBlob, err := push(bytes.Repeat([]byte{'r'}, cosign.MaxPayloadSize), cosign.BundleMediaType)
	if err != nil {
		return err
	}
	cfg, err := push([]byte("{}"), cosign.EmptyMediaType)
	if err != nil {
		return err
	}
	sigTag := repo.Tag(fmt.Sprintf("sha256-%s.sig", desc.Digest.Hex))
	si, err := remote.Image(sigTag)
	if err != nil {
		return err
	}
	m, _ := si.Manifest()
	for i := range 1000 {
		l := sigBlob
		l.Annotations = map[string]string{cosign.SignatureAnnotation: fmt.Sprintf("MEUCIQ%04d", i)}
		m.Layers = append(m.Layers, l)
	}
	if err := put(*m, sigTag.TagStr()); err != nil {
		return err
	}
	for i := range 255 {
		if err := put(v1.Manifest{
			SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: cosign.BundleMediaType,
			Config: cfg, Layers: []v1.Descriptor{refBlob},
			Subject:     &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
			Annotations: map[string]string{"n": fmt.Sprint(i)},
		}, ""); err != nil {
			return err
		}
	}
	return nil
}

type raw2 []byte

func (r raw2) RawManifest() ([]byte, error)        { return r, nil }
func (r raw2) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
