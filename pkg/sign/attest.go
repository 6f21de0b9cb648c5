package sign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
	"hallmark.dev/hallmark/pkg/oci"
	"hallmark.dev/hallmark/pkg/rekor"
	"hallmark.dev/hallmark/pkg/verify"
)

// ImageAttestation is what AttestImage stored.
type ImageAttestation struct {
	Format   Format
	Digest   name.Digest
	Location string // the .att tag or the referrer manifest
	// Bundle is the stored bundle (bundle format), for --bundle.
	Bundle []byte
}

// AttestImage signs statement (an in-toto statement whose subject is d, of
// predicateType) in a DSSE envelope, logs it when a log is configured, checks
// it verifies, and stores it: as a bundle referrer of d, or as a layer of the
// sha256-<hex>.att image (with replace, dropping attestations of the same
// predicate type there).
func (s *Signer) AttestImage(ctx context.Context, c *oci.Client, d name.Digest, desc *v1.Descriptor, format Format, statement []byte, predicateType string, replace bool) (*ImageAttestation, error) {
	policy := verify.AttestationPolicy{Digest: d.DigestStr(), PredicateType: predicateType}
	switch format {
	case verify.FormatBundle:
		_, raw, err := s.attestationBundle(ctx, statement, policy)
		if err != nil {
			return nil, err
		}
		h, err := c.WriteBundle(ctx, d, desc, raw, predicateType)
		if err != nil {
			return nil, err
		}
		return &ImageAttestation{Format: format, Digest: d, Location: c.SignatureRepository(d).Digest(h.String()).String(), Bundle: raw}, nil
	case verify.FormatLegacy:
		env, ann, err := s.legacyAttestation(ctx, statement, predicateType, policy)
		if err != nil {
			return nil, err
		}
		if err := c.AppendAttestation(ctx, d, env, ann, replace); err != nil {
			return nil, err
		}
		return &ImageAttestation{Format: format, Digest: d, Location: c.AttestationTag(d).String()}, nil
	}
	return nil, fmt.Errorf("unknown attestation format %q", format)
}

// SignAttestation signs and logs statement about d as AttestImage does,
// checks it verifies, and returns it without storing it: the bundle JSON
// (bundle format) or the DSSE envelope as a legacy .att layer holds it
// (cosign's attest --no-upload).
func (s *Signer) SignAttestation(ctx context.Context, d name.Digest, format Format, statement []byte, predicateType string) ([]byte, error) {
	policy := verify.AttestationPolicy{Digest: d.DigestStr(), PredicateType: predicateType}
	switch format {
	case verify.FormatBundle:
		_, raw, err := s.attestationBundle(ctx, statement, policy)
		return raw, err
	case verify.FormatLegacy:
		env, _, err := s.legacyAttestation(ctx, statement, predicateType, policy)
		return env, err
	}
	return nil, fmt.Errorf("unknown attestation format %q", format)
}

// AttestBlob signs statement (whose subject is data's SHA-256) and returns
// its v0.3 bundle.
func (s *Signer) AttestBlob(ctx context.Context, statement []byte, blobSHA256 []byte, predicateType string) ([]byte, error) {
	_, raw, err := s.attestationBundle(ctx, statement, verify.AttestationPolicy{Digest: "sha256:" + hex.EncodeToString(blobSHA256), PredicateType: predicateType})
	return raw, err
}

func (s *Signer) attestationBundle(ctx context.Context, statement []byte, policy verify.AttestationPolicy) (*cosign.Bundle, []byte, error) {
	b, err := s.dsseBundle(ctx, cosign.InTotoPayloadType, statement)
	if err != nil {
		return nil, nil, err
	}
	if err := s.judgeBundle("attestation", b, func(v *verify.Verifier, b *cosign.Bundle) error {
		_, err := v.VerifyAttestationBundle(b, policy)
		return err
	}); err != nil {
		return nil, nil, err
	}
	raw, err := cosign.MarshalBundle(b)
	return b, raw, err
}

// legacyAttestation is the envelope and layer annotations of a legacy
// attestation, as cosign writes them.
func (s *Signer) legacyAttestation(ctx context.Context, statement []byte, predicateType string, policy verify.AttestationPolicy) ([]byte, map[string]string, error) {
	pae := cosign.PAE(cosign.InTotoPayloadType, statement)
	sig, err := keys.Sign(s.key, pae)
	if err != nil {
		return nil, nil, fmt.Errorf("signing envelope: %w", err)
	}
	// The layer holds the envelope exactly as it is logged.
	env, err := rekor.MarshalDSSEEnvelope(cosign.InTotoPayloadType, statement, sig)
	if err != nil {
		return nil, nil, err
	}
	ann := map[string]string{cosign.PredicateTypeAnnotation: predicateType, cosign.SignatureAnnotation: ""}
	ts, tle, err := s.evidence(ctx, sig, LogRecord{Signed: pae, Sig: sig, PayloadType: cosign.InTotoPayloadType, Payload: statement, Envelope: env})
	if err != nil {
		return nil, nil, err
	}
	if err := s.legacyKeylessAnnotations(ann, ts); err != nil {
		return nil, nil, err
	}
	if tle != nil {
		rb, err := legacyRekorBundle(tle)
		if err != nil {
			return nil, nil, err
		}
		ann[cosign.LegacyBundleAnnotation] = rb
	}
	if err := s.judge("attestation", func(v *verify.Verifier, _ bool) error {
		_, err := v.VerifyLegacyAttestation(env, ann, policy)
		return err
	}); err != nil {
		return nil, nil, err
	}
	return env, ann, nil
}

// BlobDigest is the SHA-256 of a blob, as attestations name it.
func BlobDigest(data []byte) []byte { s := sha256.Sum256(data); return s[:] }
