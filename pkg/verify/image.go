package verify

import (
	"encoding/base64"
	"strings"

	"hallmark.dev/hallmark/pkg/cosign"
	"hallmark.dev/hallmark/pkg/keys"
)

// LegacySignature is a cosign ≤ v2 signature: the simple-signing payload and
// the base64 signature from its layer annotation.
type LegacySignature struct {
	Payload   []byte
	Signature string
	// HasTlogEntry is true when the layer carries a Rekor bundle annotation.
	HasTlogEntry bool
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
	if err := checkTlog(p, s.HasTlogEntry); err != nil {
		return nil, err
	}
	return &Result{
		Format: FormatLegacy, Digest: p.Digest, Identity: ss.Critical.Identity.DockerReference,
		Type: ss.Critical.Type, Annotations: ss.Optional, TlogVerified: false,
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
	var sigErr error
	verified := false
	for _, s := range env.GetSignatures() {
		if sigErr = keys.Verify(v.key, pae, s.GetSig()); sigErr == nil {
			verified = true
			break
		}
	}
	if !verified {
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
		if err := checkTlog(p, len(b.GetVerificationMaterial().GetTlogEntries()) > 0); err != nil {
			return nil, err
		}
		return &Result{Format: FormatBundle, Digest: p.Digest, Type: st.GetPredicateType(), Annotations: ann}, nil
	}
	return nil, mismatch(ErrClaims, "no statement subject is the image digest", p.Digest, strings.Join(got, ","))
}

// checkTlog enforces the transparency-log requirement. Hallmark does not yet
// verify log entries (a later capability), so a signature is accepted only
// when the caller waived the log.
func checkTlog(p Policy, hasEntry bool) error {
	if p.IgnoreTlogUnsafe {
		return nil
	}
	if !hasEntry {
		return stepErr(ErrTlog, "signature has no transparency log entry; pass --insecure-ignore-tlog to accept signatures made without a log", nil)
	}
	return stepErr(ErrTlog, "signature has a transparency log entry, but no log key is trusted to check it; pass --insecure-ignore-tlog to skip the log check", nil)
}
