package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/verify"
)

// AttestationReport is an image whose attestations were judged, at least
// one of the asked type verified.
type AttestationReport struct {
	Ref          name.Reference
	Digest       name.Digest
	Found        int
	Attestations []*verify.Attestation
	Failures     []Failure
	// OtherTypes are the predicate types of verified attestations that were
	// passed over for not being of the asked type.
	OtherTypes []string
}

// Attestations verifies the attestations of ref of the predicate type in p
// (any, if empty), in both layouts: bundle referrers and the legacy
// sha256-<hex>.att image. It returns a report when at least one verified;
// otherwise ErrNoSuchImage (wrapped), *NoAttestationsError,
// *NoMatchingTypeError (attestations verified, none of the type),
// *NoneVerifiedError, or *oci.RegistryError.
func Attestations(ctx context.Context, c *oci.Client, v *verify.Verifier, ref name.Reference, p verify.AttestationPolicy, o Options) (*AttestationReport, error) {
	d, err := resolve(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	p.Digest = d.DigestStr()
	o = o.withDefaults()
	r := newRun[*verify.Attestation](c, d, o)
	r.legacyTag, r.legacyLayers, r.legacyWhat = c.AttestationTag(d), r.c.AttestationLayers, "legacy attestation layer"
	r.judgeOne = func(ctx context.Context, cand candidate) (*verify.Attestation, bool, error) {
		return judgeAttestation(ctx, r, v, p, cand)
	}
	r.list(ctx)
	r.judgeAll(ctx, o.MaxWorkers)
	rep := &AttestationReport{Ref: ref, Digest: d, Failures: r.failures}
	for i, res := range r.results {
		err := r.errs[i]
		var se *verify.StepError
		switch {
		case r.counted[i] && err == nil:
			rep.Found++
			rep.Attestations = append(rep.Attestations, res)
		case errors.Is(err, verify.ErrPredicateType) && errors.As(err, &se):
			rep.Found++
			if !slices.Contains(rep.OtherTypes, se.Got) {
				rep.OtherTypes = append(rep.OtherTypes, se.Got)
			}
		case err != nil:
			rep.Found++
			rep.Failures = append(rep.Failures, Failure{r.cands[i].where, err})
		}
	}
	if len(rep.Attestations) > 0 {
		return rep, nil
	}
	if rep.Found == 0 && len(rep.Failures) == 0 {
		return nil, &NoAttestationsError{Ref: ref, Digest: d, LegacyTag: c.AttestationTag(d)}
	}
	if rep.Found == 0 && len(rep.Failures) == 1 {
		return nil, rep.Failures[0].Err // the registry failed before any candidate was seen
	}
	if len(rep.OtherTypes) > 0 && len(rep.Failures) == 0 {
		return nil, &NoMatchingTypeError{Ref: ref, Digest: d, Want: p.PredicateType, Found: rep.OtherTypes}
	}
	return nil, &NoneVerifiedError{Ref: ref, Digest: d, Found: rep.Found, Failures: rep.Failures, Kind: "attestations", OtherTypes: rep.OtherTypes}
}

func judgeAttestation(ctx context.Context, r *run[*verify.Attestation], v *verify.Verifier, p verify.AttestationPolicy, c candidate) (*verify.Attestation, bool, error) {
	if c.layer != nil {
		env, err := r.bc.Blob(ctx, r.legacyTag.Context(), *c.layer)
		if err != nil {
			return nil, true, err
		}
		a, err := v.VerifyLegacyAttestation(env, c.layer.Annotations, p)
		return a, true, err
	}
	sb, err := r.c.ReadBundle(ctx, r.d, *c.bundle, r.bc)
	if err != nil {
		return nil, true, err
	}
	if sb == nil || sb.PredicateType == cosign.SignPredicateType {
		return nil, false, nil // not a bundle, or a signature: not an attestation
	}
	b, err := cosign.ParseBundle(sb.Bytes)
	if err != nil {
		return nil, true, err
	}
	a, err := v.VerifyAttestationBundle(b, p)
	if errors.Is(err, verify.ErrNotAttestation) {
		return nil, false, nil // an unlabelled signature bundle
	}
	return a, true, err
}

// NoAttestationsError: the image has no attestations in either layout.
type NoAttestationsError struct {
	Ref       name.Reference
	Digest    name.Digest
	LegacyTag name.Tag
}

func (e *NoAttestationsError) Error() string {
	return fmt.Sprintf("no attestations found for %s (%s): looked for bundle referrers and for %s", e.Ref, e.Digest.DigestStr(), e.LegacyTag)
}

// NoMatchingTypeError: attestations verified, none of the asked type.
type NoMatchingTypeError struct {
	Ref    name.Reference
	Digest name.Digest
	Want   string
	Found  []string
}

func (e *NoMatchingTypeError) Error() string {
	return fmt.Sprintf("none of the attestations of %s (%s) has predicate type %s; found: %s", e.Ref, e.Digest.DigestStr(), e.Want, strings.Join(e.Found, ", "))
}
