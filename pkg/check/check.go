package check

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// Options bound a verification.
type Options struct {
	// MaxWorkers is how many candidates are fetched and judged at once
	// (cosign's --max-workers); default 10.
	MaxWorkers int
	// ReadBudget caps the bytes read from registries for one image
	// (manifests, referrer lists, blobs); default 64 MiB.
	ReadBudget int64
}

const (
	defaultWorkers = 10
	defaultBudget  = 64 << 20
)

// Report is an image whose signatures were judged, at least one verified.
type Report struct {
	Ref      name.Reference
	Digest   name.Digest
	Found    int
	Results  []*verify.Result
	Failures []Failure // the candidates that did not verify
}

// Signatures verifies the signatures of ref: it resolves ref to a digest,
// lists both layouts, and judges every candidate with v against p (whose
// Digest it sets from the registry). It returns a Report when at least one
// signature verified; otherwise an error: ErrNoSuchImage (wrapped),
// *NoSignaturesError, *NoneVerifiedError, or *oci.RegistryError when the
// registry failed before anything could be judged.
func Signatures(ctx context.Context, c *oci.Client, v *verify.Verifier, ref name.Reference, p verify.Policy, o Options) (*Report, error) {
	d, err := resolve(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	p.Digest = d.DigestStr()
	o = o.withDefaults()
	r := newRun[*verify.Result](c, d, o)
	r.legacyTag, r.legacyLayers, r.legacyWhat = c.LegacyTag(d), r.c.LegacyLayers, "legacy signature layer"
	r.judgeOne = func(ctx context.Context, cand candidate) (*verify.Result, bool, error) {
		return judgeSignature(ctx, r, v, p, cand)
	}
	r.list(ctx)
	r.judgeAll(ctx, o.MaxWorkers)
	rep := &Report{Ref: ref, Digest: d, Failures: r.failures}
	for i, res := range r.results {
		switch {
		case r.counted[i] && r.errs[i] == nil:
			rep.Found++
			rep.Results = append(rep.Results, res)
		case r.errs[i] != nil:
			rep.Found++
			rep.Failures = append(rep.Failures, Failure{r.cands[i].where, r.errs[i]})
		}
	}
	if rep.Found == 0 && len(rep.Failures) == 0 {
		return nil, &NoSignaturesError{Ref: ref, Digest: d, LegacyTag: c.LegacyTag(d)}
	}
	if len(rep.Results) == 0 {
		if rep.Found == 0 && len(rep.Failures) == 1 {
			return nil, rep.Failures[0].Err // the registry failed before any candidate was seen
		}
		return nil, &NoneVerifiedError{Ref: ref, Digest: d, Found: rep.Found, Failures: rep.Failures}
	}
	return rep, nil
}

// resolve is ref's digest; a tag or digest the registry does not have is
// ErrNoSuchImage, any other failure the registry's error.
func resolve(ctx context.Context, c *oci.Client, ref name.Reference) (name.Digest, error) {
	d, _, err := c.Resolve(ctx, ref)
	if err != nil {
		if oci.IsNotFound(err) {
			return name.Digest{}, fmt.Errorf("%s: %w (tag or digest not found in the registry)", ref, ErrNoSuchImage)
		}
		return name.Digest{}, err
	}
	return d, nil
}

func (o Options) withDefaults() Options {
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = defaultWorkers
	}
	if o.ReadBudget <= 0 {
		o.ReadBudget = defaultBudget
	}
	return o
}

// candidate is one stored signature to judge.
type candidate struct {
	where  string
	bundle *v1.Descriptor // a bundle referrer manifest
	layer  *v1.Descriptor // a legacy .sig layer
	// dup is the index of an identical earlier candidate, or -1.
	dup int
}

// run judges the candidates of one image in both layouts: signatures or
// attestations (T is what a verified candidate gives).
type run[T any] struct {
	c  *oci.Client
	d  name.Digest
	bc *oci.BlobCache

	legacyTag    name.Tag
	legacyLayers func(context.Context, name.Digest) ([]v1.Descriptor, int, error)
	legacyWhat   string
	// judgeOne fetches and judges a candidate; counted is false for one
	// that turned out not to be of this kind (nothing to count or fail).
	judgeOne func(ctx context.Context, c candidate) (res T, counted bool, err error)

	cands    []candidate
	failures []Failure // listings that failed, and candidates skipped over a cap
	results  []T
	counted  []bool
	errs     []error
}

func newRun[T any](c *oci.Client, d name.Digest, o Options) *run[T] {
	r := &run[T]{c: c.WithReadBudget(o.ReadBudget), d: d}
	r.bc = r.c.NewBlobCache()
	return r
}

// list reads both layouts' listings at once: they are independent round
// trips, and verification latency is what admission waits on.
func (r *run[T]) list(ctx context.Context) {
	var (
		wg         sync.WaitGroup
		legacy     []v1.Descriptor
		legacyMore int
		legacyErr  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		legacy, legacyMore, legacyErr = r.legacyLayers(ctx, r.d)
	}()
	refs, refMore, refErr := r.c.BundleReferrers(ctx, r.d)
	wg.Wait()
	if refErr != nil {
		r.failures = append(r.failures, Failure{"bundle referrers of " + r.d.DigestStr(), refErr})
	}
	for i := range refs {
		r.cands = append(r.cands, candidate{where: "bundle referrer " + refs[i].Digest.String(), bundle: &refs[i], dup: -1})
	}
	if refMore > 0 {
		r.failures = append(r.failures, Failure{"bundle referrers", fmt.Errorf("%d more referrers were not read (at most %d are)", refMore, len(refs))})
	}
	tag := r.legacyTag
	if legacyErr != nil {
		r.failures = append(r.failures, Failure{tag.String(), legacyErr})
	}
	seen := map[[32]byte]int{}
	for i := range legacy {
		c := candidate{where: r.legacyWhat + " " + legacy[i].Digest.String() + " in " + tag.String(), layer: &legacy[i], dup: -1}
		// An identical layer (same payload, same annotations) is the same
		// signature: judge it once.
		ann, _ := json.Marshal(legacy[i].Annotations)
		k := sha256.Sum256(append([]byte(legacy[i].Digest.String()), ann...))
		if j, ok := seen[k]; ok {
			c.dup = j
		} else {
			seen[k] = len(r.cands)
		}
		r.cands = append(r.cands, c)
	}
	if legacyMore > 0 {
		r.failures = append(r.failures, Failure{tag.String(), fmt.Errorf("%d more layers were not read (at most %d are)", legacyMore, len(legacy))})
	}
}

// judgeAll fetches and judges the candidates on a bounded pool of workers.
func (r *run[T]) judgeAll(ctx context.Context, workers int) {
	r.results = make([]T, len(r.cands))
	r.counted = make([]bool, len(r.cands))
	r.errs = make([]error, len(r.cands))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(r.cands)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := ctx.Err(); err != nil {
					r.counted[i], r.errs[i] = true, err
					continue
				}
				r.results[i], r.counted[i], r.errs[i] = r.judgeOne(ctx, r.cands[i])
			}
		}()
	}
	for i, c := range r.cands {
		if c.dup < 0 {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
}

func judgeSignature(ctx context.Context, r *run[*verify.Result], v *verify.Verifier, p verify.Policy, c candidate) (*verify.Result, bool, error) {
	if c.layer != nil {
		payload, err := r.bc.Blob(ctx, r.legacyTag.Context(), *c.layer)
		if err != nil {
			return nil, true, err
		}
		res, err := v.VerifyLegacy(verify.LegacyFromAnnotations(payload, c.layer.Annotations), p)
		return res, true, err
	}
	sb, err := r.c.ReadBundle(ctx, r.d, *c.bundle, r.bc)
	if err != nil {
		return nil, true, err
	}
	if sb == nil {
		return nil, false, nil // not a bundle: neither a signature nor a failure
	}
	if sb.PredicateType != "" && sb.PredicateType != cosign.SignPredicateType {
		return nil, false, nil // an attestation, not a signature
	}
	b, err := cosign.ParseBundle(sb.Bytes)
	if err != nil {
		return nil, true, err
	}
	res, err := v.VerifyImageBundle(b, p)
	return res, true, err
}
