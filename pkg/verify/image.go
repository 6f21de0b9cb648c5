package verify

import (
	"crypto"
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
// the layer annotations that come with it.
type LegacySignature struct {
	Payload   []byte
	Signature string // dev.cosignproject.cosign/signature (base64)
	// RekorBundle is the layer's dev.sigstore.cosign/bundle annotation, if any.
	RekorBundle string
	// Certificate and Chain are the dev.sigstore.cosign/certificate and
	// chain annotations (PEM); the chain is never trusted.
	Certificate, Chain string
	// RFC3161Timestamp is the dev.sigstore.cosign/rfc3161timestamp annotation.
	RFC3161Timestamp string
}

// LegacyFromAnnotations reads a legacy signature layer's annotations.
func LegacyFromAnnotations(payload []byte, ann map[string]string) LegacySignature {
	return LegacySignature{
		Payload:          payload,
		Signature:        ann[cosign.SignatureAnnotation],
		RekorBundle:      ann[cosign.LegacyBundleAnnotation],
		Certificate:      ann[cosign.CertificateAnnotation],
		Chain:            ann[cosign.ChainAnnotation],
		RFC3161Timestamp: ann[cosign.RFC3161TimestampAnnotation],
	}
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
	cand := signature{
		what:   "legacy signature over simple-signing payload",
		sig:    sig,
		verify: func(pub crypto.PublicKey) error { return keys.Verify(pub, s.Payload, sig) },
	}
	cand.match = func(signer signerMatch) entryMatcher {
		return matchHashedRekord(Blob{Data: s.Payload}.Digest, sig, signer)
	}
	if err := v.layerEvidence(&cand, s); err != nil {
		return nil, err
	}
	pr, err := v.judge(cand)
	if err != nil {
		return nil, err
	}
	// Only a payload whose signature verified is parsed and believed.
	ss, err := cosign.ParseSimpleSigning(s.Payload)
	if err != nil {
		return nil, stepErr(ErrClaims, "payload", err)
	}
	signed := ss.Critical.Image.DockerManifestDigest
	if !p.IgnoreClaimsUnsafe {
		if signed != p.Digest {
			return nil, mismatch(ErrClaims, "signed digest is not the image digest", p.Digest, signed)
		}
		if err := checkAnnotations(p.Annotations, ss.Optional); err != nil {
			return nil, err
		}
	}
	return pr.fill(&Result{
		Format: FormatLegacy, Digest: signed, Identity: ss.Critical.Identity.DockerReference,
		Type: ss.Critical.Type, Annotations: ss.Optional,
	}), nil
}

// layerEvidence adds to cand what a legacy layer's annotations carry: the
// log entry of its rekor bundle, its RFC 3161 timestamp and, for keyless
// verification, its certificate (the chain annotation is never trusted).
func (v *Verifier) layerEvidence(cand *signature, s LegacySignature) error {
	if s.RekorBundle != "" {
		tle, err := legacyTLE(s.RekorBundle)
		if err != nil {
			return stepErr(ErrTlog, "layer's rekor bundle", err)
		}
		cand.entries = append(cand.entries, tle)
	}
	if s.RFC3161Timestamp != "" {
		ts, err := cosign.ParseRFC3161Annotation(s.RFC3161Timestamp)
		if err != nil {
			return stepErr(ErrTimestamp, "layer's rfc3161timestamp annotation", err)
		}
		cand.timestamps = append(cand.timestamps, ts)
	}
	if v.key == nil && s.Certificate != "" {
		certs, err := cosign.ParseCertificatesPEM([]byte(s.Certificate))
		if err != nil {
			return stepErr(ErrCertificate, "layer's certificate annotation", err)
		}
		cand.certs = certs[:1]
	}
	return nil
}

// VerifyImageBundle checks a bundle-format image signature: a DSSE envelope
// over an in-toto statement with the cosign sign predicate and a subject
// naming p.Digest.
func (v *Verifier) VerifyImageBundle(b *cosign.Bundle, p Policy) (*Result, error) {
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, stepErr(ErrFormat, "image signature bundle has no DSSE envelope", nil)
	}
	cand, err := v.envelopeSignature(b)
	if err != nil {
		return nil, err
	}
	pr, err := v.judge(cand)
	if err != nil {
		return nil, err
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
		if p.IgnoreClaimsUnsafe {
			return pr.fill(&Result{Format: FormatBundle, Digest: algo + ":" + d, Type: st.GetPredicateType(), Annotations: subj.GetAnnotations().AsMap()}), nil
		}
		if d != hex {
			got = append(got, algo+":"+d)
			continue
		}
		ann := subj.GetAnnotations().AsMap()
		if err := checkAnnotations(p.Annotations, ann); err != nil {
			return nil, err
		}
		return pr.fill(&Result{Format: FormatBundle, Digest: p.Digest, Type: st.GetPredicateType(), Annotations: ann}), nil
	}
	return nil, mismatch(ErrClaims, "no statement subject is the image digest", p.Digest, strings.Join(got, ","))
}

// envelopeSignature reads a DSSE bundle: its one signature over the PAE,
// and its material.
func (v *Verifier) envelopeSignature(b *cosign.Bundle) (signature, error) {
	env := b.GetDsseEnvelope()
	if env.GetPayloadType() != cosign.InTotoPayloadType {
		return signature{}, mismatch(ErrFormat, "DSSE payloadType", cosign.InTotoPayloadType, env.GetPayloadType())
	}
	if n := len(env.GetSignatures()); n != 1 {
		return signature{}, stepErr(ErrFormat, fmt.Sprintf("DSSE envelope has %d signatures; a Sigstore bundle carries exactly one", n), nil)
	}
	s, err := v.bundleMaterial(b)
	if err != nil {
		return s, err
	}
	sig := env.GetSignatures()[0].GetSig()
	pae := cosign.PAE(env.GetPayloadType(), env.GetPayload())
	s.what, s.sig = "DSSE envelope", sig
	s.verify = func(pub crypto.PublicKey) error { return keys.Verify(pub, pae, sig) }
	s.match = func(signer signerMatch) entryMatcher {
		return matchDSSE(env.GetPayloadType(), env.GetPayload(), sig, signer)
	}
	return s, nil
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
