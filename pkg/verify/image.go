package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// LegacySignature is a cosign ≤ v2 signature: the simple-signing payload and
// the base64 signature from its layer annotation.
type LegacySignature struct {
	Payload   []byte
	Signature string
	// RekorBundle is the layer's dev.sigstore.cosign/bundle annotation, if any.
	RekorBundle string
}

// VerifyLegacy checks a legacy image signature against p.
func (v *Verifier) VerifyLegacy(s LegacySignature, p Policy) (*Result, error) {
	if s.Signature == "" {
		return nil, stepErr(ErrFormat, "layer has no "+cosign.SignatureAnnotation+" annotation", nil)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Signature))
	if err != nil {
		return nil, stepErr(ErrFormat, "signature annotation is not base64", err)
	}
	if err := keys.Verify(v.key, s.Payload, sig); err != nil {
		return nil, stepErr(ErrSignature, "legacy signature over simple-signing payload", err)
	}
	// Only a payload whose signature verified is parsed and believed.
	ss, err := cosign.ParseSimpleSigning(s.Payload)
	if err != nil {
		return nil, stepErr(ErrClaims, "payload", err)
	}
	if got := ss.Critical.Image.DockerManifestDigest; got != p.Digest {
		return nil, mismatch(ErrClaims, "signed digest is not the image digest", p.Digest, got)
	}
	if err := checkAnnotations(p.Annotations, ss.Optional); err != nil {
		return nil, err
	}
	var tles []*protorekor.TransparencyLogEntry
	if s.RekorBundle != "" {
		tle, err := legacyTLE(s.RekorBundle)
		if err != nil {
			return nil, stepErr(ErrTlog, "layer's rekor bundle", err)
		}
		tles = append(tles, tle)
	}
	digest := sha256.Sum256(s.Payload)
	logged, err := v.checkTlog(p, tles, v.matchHashedRekord(digest[:], sig))
	if err != nil {
		return nil, err
	}
	return &Result{
		Format: FormatLegacy, Digest: p.Digest, Identity: ss.Critical.Identity.DockerReference,
		Type: ss.Critical.Type, Annotations: ss.Optional, TlogVerified: logged,
	}, nil
}

// VerifyImageBundle checks a bundle-format image signature: a DSSE envelope
// over an in-toto statement with the cosign sign predicate and a subject
// naming p.Digest.
func (v *Verifier) VerifyImageBundle(b *cosign.Bundle, p Policy) (*Result, error) {
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, stepErr(ErrFormat, "image signature bundle has no DSSE envelope", nil)
	}
	if env.GetPayloadType() != cosign.InTotoPayloadType {
		return nil, mismatch(ErrFormat, "DSSE payloadType", cosign.InTotoPayloadType, env.GetPayloadType())
	}
	pae := cosign.PAE(env.GetPayloadType(), env.GetPayload())
	var (
		sigErr error
		good   [][]byte
	)
	for _, s := range env.GetSignatures() {
		if err := keys.Verify(v.key, pae, s.GetSig()); err != nil {
			sigErr = err
			continue
		}
		good = append(good, s.GetSig())
	}
	if len(good) == 0 {
		return nil, stepErr(ErrSignature, "DSSE envelope", sigErr)
	}
	st, err := cosign.ParseStatement(env.GetPayload())
	if err != nil {
		return nil, stepErr(ErrClaims, "statement", err)
	}
	if st.GetPredicateType() != cosign.SignPredicateType {
		return nil, mismatch(ErrClaims, "predicate type is not an image signature", cosign.SignPredicateType, st.GetPredicateType())
	}
	algo, hex, _ := strings.Cut(p.Digest, ":")
	var got []string
	for _, subj := range st.GetSubject() {
		d, ok := subj.GetDigest()[algo]
		if !ok {
			continue
		}
		if d != hex {
			got = append(got, algo+":"+d)
			continue
		}
		ann := subj.GetAnnotations().AsMap()
		if err := checkAnnotations(p.Annotations, ann); err != nil {
			return nil, err
		}
		logged, err := v.checkTlog(p, b.GetVerificationMaterial().GetTlogEntries(), v.matchDSSE(env.GetPayloadType(), env.GetPayload(), good))
		if err != nil {
			return nil, err
		}
		return &Result{Format: FormatBundle, Digest: p.Digest, Type: st.GetPredicateType(), Annotations: ann, TlogVerified: logged}, nil
	}
	return nil, mismatch(ErrClaims, "no statement subject is the image digest", p.Digest, strings.Join(got, ","))
}

// legacyTLE turns a legacy layer's rekor bundle annotation into a log entry
// with an inclusion promise (the legacy format carries no proof).
func legacyTLE(annotation string) (*protorekor.TransparencyLogEntry, error) {
	rb, body, err := cosign.ParseRekorBundle(annotation)
	if err != nil {
		return nil, err
	}
	id, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("logID %q is not hex", rb.Payload.LogID)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex: rb.Payload.LogIndex, LogId: &protocommon.LogId{KeyId: id},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}
